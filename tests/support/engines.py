"""The app in other engines than Chromium: Firefox ESR and WebKitGTK, one interface for both.

    with engine_page("firefox", base_url) as page:      # or "webkit"
        page.ready()                                      # "/" booted: dataset.meshkitReady == "true"
        made = page.call("return await meshkit.identity.create(arg);", "alice")
        page.reload(); page.ready()

How each engine is driven (each in a subprocess of its own, spoken to in line-delimited JSON
over stdin/stdout, so that this process never blocks on a browser):

* ``firefox``: tests/js/engine_firefox.mjs, puppeteer-core over WebDriver BiDi, driving
  Debian's firefox-esr headless with a profile of its own (removed afterwards), every
  request but loopback sent to a proxy that is not there (truly offline).
* ``webkit``: tests/support/engine_webkit.py, Selenium's WebKitGTK driver
  (WebKitWebDriver + MiniBrowser ``--automation``, whose website data is ephemeral: it
  survives reloads, not the session), under ``xvfb-run -a``.

``call(body, arg)`` runs an async JS body in the page (``arg`` is its argument) and gives
back its JSON result; what it throws comes back as ``{"error": code or name, "message"}``
(as tests/support/browser.py's ``call``). The app's CSP forbids eval: puppeteer hands the
function to the page with BiDi's script.callFunction and Selenium with its Execute Async
Script, neither of which the page's CSP governs (checked here: the app boots and answers).

Bounds: every call settles in the page within its timeout (a timer races it there); the
driver gives up 15 s later; this process waits 45 s more, then kills the engine. A call
that does not settle fails with the page's last console lines. Every process of the engine
(driver, browser, its helpers, Xvfb) is killed on leaving the ``with``, failure or not, and
each listening socket they open must be on 127.0.0.1 (checked after start).

An engine that is not installed fails with what to install (scripts/setup.sh installs both):
never a skip.
"""

import collections
import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psutil

from support.constants import (ENGINE_CALL_TIMEOUT, ENGINE_NAV_TIMEOUT, ENGINE_READY_TIMEOUT, ENGINE_START_TIMEOUT,
                               ROOT)

ENGINES = ("firefox", "webkit")
FIREFOX = os.environ.get("MESHKIT_FIREFOX", "/usr/bin/firefox-esr")
WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
FIREFOX_DRIVER = os.path.join(ROOT, "tests", "js", "engine_firefox.mjs")
WEBKIT_SCRIPT = os.path.join(ROOT, "tests", "support", "engine_webkit.py")

DRIVER_GRACE = 45         # s: past the page's bound, before the engine is killed
CONSOLE_KEPT = 400


class EngineError(AssertionError):
    """The engine failed, timed out or is missing; the message says what it saw."""


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing(engine: str) -> list[str]:
    """What this machine lacks to run ``engine`` (empty: nothing)."""
    lacks = []
    if engine == "firefox":
        if not os.access(FIREFOX, os.X_OK):
            lacks.append(f"Firefox ESR ({FIREFOX}; Debian package firefox-esr)")
        if shutil.which("node") is None:
            lacks.append("Node.js (node)")
        if not os.path.isdir(os.path.join(ROOT, "tests", "js", "node_modules", "puppeteer-core")):
            lacks.append("puppeteer-core in tests/js/node_modules (npm ci --prefix tests/js)")
    elif engine == "webkit":
        for path, package in ((WEBKIT_DRIVER, "webkit2gtk-driver"), (MINIBROWSER, "webkit2gtk-driver"),
                              (shutil.which("xvfb-run") or "/usr/bin/xvfb-run", "xvfb"),
                              (shutil.which("xauth") or "/usr/bin/xauth", "xauth")):
            if not os.access(path, os.X_OK):
                lacks.append(f"{path} (Debian package {package})")
        try:
            import selenium  # noqa: F401
        except ImportError:
            lacks.append("selenium (the test extra of pyproject.toml)")
    else:
        lacks.append(f"an engine named {engine!r} (known: {', '.join(ENGINES)})")
    return lacks


# The function each call runs in the page: the body raced against a timer, its result (or
# what it threw) as JSON text, so both drivers carry it the same way.
CALL_SOURCE = """async function (arg, timeoutMs) {
  const body = (async () => {
    try { return {value: await (async () => {
%s
    })()}; }
    catch (e) { return {value: {error: (e && (e.code || e.name)) || "Error", message: String(e && e.message)}}; }
  })();
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve({timedOut: true}), timeoutMs); });
  const settled = await Promise.race([body, late]);
  clearTimeout(timer);
  return JSON.stringify(settled, (key, value) => value === undefined ? null : value);
}"""


class EnginePage:
    """One page of one engine (a fresh profile each time); see the module's docstring."""

    def __init__(self, engine: str):
        lacks = missing(engine)
        if lacks:
            raise EngineError(f"{engine} cannot run on this machine; missing: {'; '.join(lacks)}. "
                              "scripts/setup.sh installs all of it (make test runs it).")
        self.engine = engine
        self.console_lines: collections.deque = collections.deque(maxlen=CONSOLE_KEPT)
        self.stderr_lines: collections.deque = collections.deque(maxlen=60)
        self.version = None
        self._answers: queue.Queue = queue.Queue()
        self._processes: dict[int, psutil.Process] = {}
        self._next_id = 0
        self._profile = tempfile.mkdtemp(prefix=f"meshkit-{engine}-")
        self._proc = None
        self._threads: list[threading.Thread] = []
        self.started_in = None

    # --- the subprocess ------------------------------------------------------------------
    def start(self) -> "EnginePage":
        began = time.monotonic()
        env = dict(os.environ)
        if self.engine == "firefox":
            options = {"executable": FIREFOX, "profile": os.path.join(self._profile, "profile"),
                       "port": _free_port()}
            os.makedirs(options["profile"])
            command = ["node", FIREFOX_DRIVER, json.dumps(options)]
            env["HOME"] = self._profile  # Firefox's caches go with the profile, not into ~
        else:
            options = {"port": _free_port(), "minibrowser": MINIBROWSER, "webdriver": WEBKIT_DRIVER}
            # xvfb-run starts Xvfb with -nolisten tcp (a local socket only)
            command = ["xvfb-run", "-a", sys.executable, WEBKIT_SCRIPT, json.dumps(options)]
            env["XDG_DATA_HOME"] = os.path.join(self._profile, "data")
            env["XDG_CACHE_HOME"] = os.path.join(self._profile, "cache")
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True, bufsize=1, env=env, cwd=self._profile, start_new_session=True)
        self._track()
        for target, stream in ((self._read_stdout, self._proc.stdout), (self._read_stderr, self._proc.stderr)):
            thread = threading.Thread(target=target, args=(stream,), daemon=True)
            thread.start()
            self._threads.append(thread)
        started = self._wait(None, ENGINE_START_TIMEOUT, "start")
        self.version = started.get("version")
        if started.get("browser_pid"):
            with contextlib.suppress(psutil.Error):
                self._processes.setdefault(started["browser_pid"], psutil.Process(started["browser_pid"]))
        self._track()
        self._check_listeners()
        self.started_in = time.monotonic() - began
        return self

    def _read_stdout(self, stream) -> None:
        for line in stream:
            line = line.strip()
            if not line:
                continue
            try:
                message = json.loads(line)
            except ValueError:
                self.stderr_lines.append("stdout: " + line[:500])
                continue
            if message.get("event") == "console":
                self.console_lines.append(str(message.get("text"))[:2000])
            else:
                self._answers.put(message)
        self._answers.put({"event": "exited"})

    def _read_stderr(self, stream) -> None:
        for line in stream:
            self.stderr_lines.append(line.rstrip()[:500])

    def _track(self) -> None:
        """Remember every process of the engine while it is alive (a browser launched
        detached, or re-parented when its driver dies, is still found and killed)."""
        if self._proc is None:
            return
        try:
            root = psutil.Process(self._proc.pid)
            for process in [root, *root.children(recursive=True)]:
                self._processes.setdefault(process.pid, process)
        except psutil.Error:
            pass
        for process in list(self._processes.values()):
            with contextlib.suppress(psutil.Error):
                for child in process.children(recursive=True):
                    self._processes.setdefault(child.pid, child)

    def _check_listeners(self) -> None:
        wrong = []
        for process in self._processes.values():
            with contextlib.suppress(psutil.Error):
                for conn in process.net_connections(kind="inet"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr.ip != "127.0.0.1":
                        wrong.append(f"{process.name()} on {conn.laddr.ip}:{conn.laddr.port}")
        if wrong:
            raise EngineError(f"{self.engine}: a process listens beyond 127.0.0.1: {', '.join(wrong)}")

    def _describe(self) -> str:
        console = "\n".join(list(self.console_lines)[-40:]) or "(none)"
        stderr = "\n".join(list(self.stderr_lines)[-20:]) or "(none)"
        return f"\nlast console lines of the page:\n{console}\nlast lines of the driver's stderr:\n{stderr}"

    def _wait(self, request_id, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                raise EngineError(f"{self.engine}: {what} had no answer in {timeout:.0f} s; the engine was "
                                  f"killed{self._describe()}")
            try:
                message = self._answers.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            event = message.get("event")
            if event == "exited":
                self._answers.put(message)  # whoever waits next hears it too
                raise EngineError(f"{self.engine}: the driver exited during {what} "
                                  f"(code {self._proc.poll()}){self._describe()}")
            if event == "failed":
                raise EngineError(f"{self.engine} did not start: {message.get('error')}{self._describe()}")
            if request_id is None and event == "started":
                return message
            if request_id is not None and message.get("id") == request_id:
                return message

    def request(self, op: str, timeout: float, **fields):
        if self._proc is None or self._proc.poll() is not None:
            raise EngineError(f"{self.engine}: the engine is not running{self._describe()}")
        self._next_id += 1
        request_id = self._next_id
        payload = {"id": request_id, "op": op, "timeout_ms": int(timeout * 1000), **fields}
        try:
            self._proc.stdin.write(json.dumps(payload) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise EngineError(f"{self.engine}: the driver is gone{self._describe()}") from None
        answer = self._wait(request_id, timeout + 15 + DRIVER_GRACE, op)
        self._track()
        if not answer.get("ok"):
            raise EngineError(f"{self.engine}: {op} failed: {str(answer.get('error'))[:3000]}{self._describe()}")
        return answer.get("value")

    # --- the page --------------------------------------------------------------------------
    def goto(self, url: str, timeout: float = ENGINE_NAV_TIMEOUT) -> str:
        return self.request("open", timeout, url=url)

    def reload(self, timeout: float = ENGINE_NAV_TIMEOUT) -> str:
        return self.request("reload", timeout)

    def call(self, body: str, arg=None, *, timeout: float = ENGINE_CALL_TIMEOUT):
        """Run an async JS body (``arg`` is its argument) in the page; its JSON result."""
        text = self.request("call", timeout, source=CALL_SOURCE % body, arg=arg)
        try:
            settled = json.loads(text)
        except (TypeError, ValueError):
            raise EngineError(f"{self.engine}: the call answered {str(text)[:300]!r}{self._describe()}") from None
        if settled.get("driverError"):
            raise EngineError(f"{self.engine}: the call failed in the driver: {settled['driverError']}"
                              f"{self._describe()}")
        if settled.get("timedOut"):
            raise EngineError(f"{self.engine}: the call did not settle in {timeout:.0f} s: {body.strip()[:200]}"
                              f"{self._describe()}")
        return settled.get("value")

    def ready(self, timeout: float = ENGINE_READY_TIMEOUT) -> None:
        """Wait for the app's boot (dataset.meshkitReady set); fails unless it is "true"."""
        state = self.call("""
          const root = document.documentElement;
          while (!root.dataset.meshkitReady) await new Promise((resolve) => setTimeout(resolve, 100));
          const app = document.getElementById('app');
          return {ready: root.dataset.meshkitReady, api: typeof globalThis.meshkit,
                  text: (app ? app.innerText : document.body.innerText).slice(0, 1500)};""", timeout=timeout)
        if state.get("ready") != "true" or state.get("api") != "object":
            raise EngineError(f"{self.engine}: the app did not boot: {state}{self._describe()}")

    def open_app(self, base_url: str) -> None:
        """Load "/" and wait until the app has booted."""
        self.goto(base_url.rstrip("/") + "/")
        self.ready()

    # --- the end ---------------------------------------------------------------------------
    def close(self) -> None:
        """Ask the driver to close the browser, then kill whatever of the engine is left."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(EngineError):
                self.request("close", 10)
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=15)
        self.kill()

    def kill(self) -> None:
        self._track()
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        for process in list(self._processes.values()):
            with contextlib.suppress(psutil.Error):
                if process.is_running():  # the same process (psutil compares its start time)
                    process.kill()
        if self._proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
        psutil.wait_procs([p for p in self._processes.values()], timeout=10)
        for thread in self._threads:
            thread.join(timeout=5)
        shutil.rmtree(self._profile, ignore_errors=True)

    def alive(self) -> list[int]:
        """Processes of this engine still running (none once it is closed)."""
        alive = []
        for process in self._processes.values():
            with contextlib.suppress(psutil.Error):
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process.pid)
        return alive


@contextlib.contextmanager
def engine_page(engine: str, base_url: str | None = None, *, boot: bool = True):
    """A page of ``engine`` ("firefox" or "webkit"); with ``base_url``, the app loaded from it
    and booted (``boot=False``: only loaded). Every process of the engine ends on leaving."""
    page = EnginePage(engine)
    try:
        page.start()
        if base_url is not None:
            if boot:
                page.open_app(base_url)
            else:
                page.goto(base_url.rstrip("/") + "/")
        yield page
    finally:
        page.close()
