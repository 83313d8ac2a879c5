"""js-ipfs 0.66 (tests/ipfs/daemon.mjs): a real, independent implementation of Kubo's RPC API,
run offline on loopback for the provider and gateway-over-Kubo suites. Installed by
scripts/setup.sh from tests/ipfs/package-lock.json; a missing install is an error, not a skip.

What it does differently from Kubo, and the provider copes with (tests/ipfs/README.md): it
ignores ``offline=true`` (an absent block is searched for until the RPC ``timeout`` option
stops it), it has no 2 MiB block limit, and it words "not pinned" its own way."""

import os
import signal
import subprocess
import tempfile
import threading
import time

from support.constants import TESTS
from support.servers import free_port

IPFS_DIR = TESTS / "ipfs"
START_TIMEOUT = 60.0


class JsIpfs:
    def __init__(self, repo: str | None = None):
        self._tmp = None if repo else tempfile.TemporaryDirectory(prefix="meshkit-jsipfs-")
        self.repo = repo or os.path.join(self._tmp.name, "repo")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log: list[str] = []

    def start(self) -> "JsIpfs":
        if not (IPFS_DIR / "node_modules" / "ipfs-core").is_dir():
            raise RuntimeError("js-ipfs is not installed: run scripts/setup.sh (npm ci --prefix tests/ipfs)")
        self.process = subprocess.Popen(
            ["node", str(IPFS_DIR / "daemon.mjs"), "--repo", self.repo, "--api-port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready = threading.Event()

        def read_stdout():
            for line in self.process.stdout:
                if line.startswith("READY "):
                    ready.set()
        threading.Thread(target=read_stdout, daemon=True).start()
        threading.Thread(target=lambda: self.log.extend(self.process.stderr), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("js-ipfs did not start: " + "".join(self.log[-20:]))
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
