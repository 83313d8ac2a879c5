"""Memory of the browser under test: every Chromium process (browser, renderers, worker
hosts, utility), sampled from a thread so Playwright's sync API keeps its own thread.
Used by the streaming tests and bench/worker.py."""

import threading

import psutil

MiB = 1 << 20


def browser_rss() -> int:
    """Resident bytes of every Chromium process."""
    return sum(p.info["memory_info"].rss for p in psutil.process_iter(["name", "memory_info"])
               if p.info["name"] and "chrom" in p.info["name"] and p.info["memory_info"])


class PeakMemory:
    """``with PeakMemory() as m: ...``: m.peak is the highest browser_rss() seen every 50 ms,
    m.base the level at entry."""

    def __enter__(self):
        self.base = browser_rss()
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
