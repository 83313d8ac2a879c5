"""Real HTTP servers for tests: uvicorn in a background thread, bound to 127.0.0.1."""

import threading
import time

import httpx
import uvicorn

from meshkit_web.testing import free_port  # noqa: F401 - the one free-port helper, re-exported for the suite




class ServerThread:
    """Run an ASGI app under uvicorn on 127.0.0.1:<free port> until stop()."""

    def __init__(self, app, port: int | None = None, ready_path: str = "/healthz"):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        from meshkit_web.gateway.server import uvicorn_options  # the same protocol and deadlines as `meshkit serve`
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on", **uvicorn_options()))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.ready_path = ready_path

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if httpx.get(self.url + self.ready_path, timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server on {self.url} did not become ready")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
