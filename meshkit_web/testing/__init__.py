"""Test fixtures for apps built on MeshKit: a pytest plugin (registered by entry point, so
installing ``meshkit-web`` makes them available) and helpers. docs/PYTHON.md shows them in use.

Fixtures:
  ``meshkit_gateway``        a real ``meshkit serve`` on a free loopback port, with temporary data,
                             for the session; CORS for the origins of ``meshkit_cors_origins``
  ``meshkit_gateway_factory``  start more (``meshkit_gateway_factory(cors_origins=[...], site=...)``),
                             each stopped at the end of the test
  ``meshkit_cors_origins``   the browser origins the gateway accepts (default none: override it in
                             your conftest.py, e.g. ``return ["http://127.0.0.1:5173"]``)
  ``meshkit_local``          ``MeshKit.local`` under the test's tmp_path (use it as
                             ``async with meshkit_local as kit:``)
Helpers:
  ``run(coroutine)``         runs an async test body to its end from a plain (sync) test, also
                             after pytest-playwright's sync API left an event loop running on the
                             test thread (where ``asyncio.run`` refuses): then on a thread of its own
  ``wait_for_meshkit(page)`` waits until a page's MeshKit started (or says why not) without
                             evaluating any string in the page, so it works under a strict CSP
  ``GatewayProcess``         the gateway process the fixtures use, for your own set-ups
"""

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
import tempfile
import time

import pytest

BOOT_TIMEOUT = 60.0      # seconds: a page's MeshKit start (Pyodide's first load is the slow part)
GATEWAY_TIMEOUT = 30.0   # seconds: `meshkit serve` answering /healthz
READY_ATTRIBUTE = "data-meshkit-ready"   # on <html>: "true" once started, "error" if not
ERROR_ATTRIBUTE = "data-meshkit-error"   # on <html>: the error's code (MeshKitError.code)


class MeshKitStartError(AssertionError):
    """A page's MeshKit did not start: ``code`` is the registry's code the page reported."""

    def __init__(self, code: str | None, message: str):
        super().__init__(message)
        self.code = code


def run(coroutine):
    """Run ``coroutine`` to its end and return its result, from a sync test. Playwright's sync
    API keeps an event loop running on the test's thread once a browser test has run, and
    ``asyncio.run`` refuses to start another there: then it runs on a fresh thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    """``meshkit serve`` in a process of its own on 127.0.0.1: ``url``, ``data_dir``,
    ``stop()``. Started by ``start()`` (or ``with``), which returns once it answers."""

    def __init__(self, data_dir: str, *, cors_origins=(), site: str | None = None, port: int | None = None,
                 extra_args=()):
        self.data_dir = str(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cors_origins = list(cors_origins)
        self.site = site
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout: float = GATEWAY_TIMEOUT) -> "GatewayProcess":
        command = [sys.executable, "-m", "meshkit_web", "serve", "--data", self.data_dir, "--host", "127.0.0.1",
                   "--port", str(self.port)]
        for origin in self.cors_origins:
            command += ["--cors-origin", origin]
        command += ["--site", self.site] if self.site else []
        self._log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(command + self.extra_args, stdout=self._log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "MESHKIT_SITE": self.site or ""})
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        import httpx
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"meshkit serve exited ({self.process.returncode}):\n{self.output()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"meshkit serve did not answer within {timeout:.0f} s:\n{self.output()}")

    def output(self) -> str:
        """What the gateway printed (its log), for a failing test's message."""
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-8000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> "GatewayProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for_meshkit(page, timeout: float = BOOT_TIMEOUT) -> None:
    """Wait until the page's app has started MeshKit: its <html> element has
    ``data-meshkit-ready="true"``. An app that failed to start sets it to "error" and
    ``data-meshkit-error`` to the error's code: that is raised (MeshKitStartError) at once.
    Works under any CSP (a selector is waited for, nothing is evaluated in the page)."""
    page.wait_for_selector(f"html[{READY_ATTRIBUTE}]", state="attached", timeout=timeout * 1000)
    state = page.get_attribute("html", READY_ATTRIBUTE)
    if state != "true":
        code = page.get_attribute("html", ERROR_ATTRIBUTE)
        raise MeshKitStartError(code, f"MeshKit did not start in the page: {code or state}")


# --- the pytest plugin ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def meshkit_cors_origins() -> list:
    """Override in your conftest.py: the origins of the pages under test."""
    return []


@pytest.fixture(scope="session")
def meshkit_gateway(meshkit_cors_origins, tmp_path_factory):
    """A real gateway for the session (its data in a temporary directory)."""
    with GatewayProcess(tmp_path_factory.mktemp("meshkit-gateway"), cors_origins=meshkit_cors_origins) as gateway:
        yield gateway


@pytest.fixture
def meshkit_gateway_factory(tmp_path_factory):
    """``start(cors_origins=(), site=None, extra_args=())`` -> a GatewayProcess of its own,
    stopped at the end of the test."""
    started = []

    def start(**options) -> GatewayProcess:
        gateway = GatewayProcess(tmp_path_factory.mktemp("meshkit-gateway"), **options).start()
        started.append(gateway)
        return gateway
    yield start
    for gateway in started:
        gateway.stop()


@pytest.fixture
def meshkit_local(tmp_path):
    """``MeshKit.local`` in the test's tmp_path, not yet started: ``async with meshkit_local
    as kit:`` inside the test's event loop (it starts and closes there)."""
    from ..kit import MeshKit
    return MeshKit.local(tmp_path / "meshkit")
