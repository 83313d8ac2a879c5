"""Memory of the browser under test: every Chromium process this process started (browser,
renderers, worker hosts, utility; through Playwright's driver), never another run's browser
on the same machine; sampled from a thread so Playwright's sync API keeps its own thread.
Used by the streaming tests and bench/worker.py."""

import threading

import psutil

MiB = 1 << 20


def browser_rss() -> int:
    """Resident bytes of every Chromium process below this one."""
    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            if "chrom" in child.name():
                total += child.memory_info().rss
        except psutil.Error:  # it ended while we looked
            continue
    return total


class PeakMemory:
    """``with PeakMemory() as m: ...``: m.peak is the highest browser_rss() seen every 50 ms,
    m.base the level at entry."""

    def __enter__(self):
        self.base = browser_rss()
        if not self.base:  # never a vacuous pass: the browser must be this process's
            raise RuntimeError("no Chromium process below this one to measure")
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, browser_rss())
            self._stop.wait(0.05)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def over_mib(self) -> float:
        return (self.peak - self.base) / MiB
