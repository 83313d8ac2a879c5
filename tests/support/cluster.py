"""Real parts for the scale-out test, each started on loopback in a temporary directory:
Debian's redis-server and nginx (installed by scripts/setup.sh), and `meshkit serve`
replicas as separate processes, which the test can SIGKILL and start again."""

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time

import httpx

from support.constants import ROOT
from support.servers import free_port


def wait_until(check, what: str, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {process.returncode}")
        try:
            if check():
                return
        except (OSError, httpx.HTTPError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} was not ready within {timeout:g} s")


def binary(name: str, *places: str) -> str:
    for place in places:
        if os.access(place, os.X_OK):
            return place
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: run scripts/setup.sh (Debian's {name} package)")
    return found


class Redis:
    def __init__(self, directory: pathlib.Path):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = directory
        self.process = None

    def start(self) -> "Redis":
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [binary("redis-server", "/usr/bin/redis-server"), "--bind", "127.0.0.1", "--port", str(self.port),
             "--save", "", "--appendonly", "no", "--dir", str(self.dir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        wait_until(client.ping, "redis-server", process=self.process)
        client.close()
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


class Replica:
    """One `meshkit serve` process. ``options``: its command-line flags; ``env``: secrets."""

    def __init__(self, name: str, directory: pathlib.Path, options: list[str], env: dict):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = directory
        self.options = options
        self.env = env
        self.process = None

    def start(self) -> "Replica":
        self.dir.mkdir(parents=True, exist_ok=True)
        log = open(self.dir / "serve.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "meshkit_web", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--data", str(self.dir / "data"), *self.options],
            stdout=log, stderr=log, env={**os.environ, **self.env}, cwd=self.dir)
        log.close()
        wait_until(lambda: httpx.get(self.url + "/healthz", timeout=1).status_code == 200,
                   f"replica {self.name}", timeout=60, process=self.process)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye; requests in flight die with it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


class Nginx:
    """deploy/nginx.conf, with this run's paths, port and replicas."""

    def __init__(self, directory: pathlib.Path, replicas: list[Replica]):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = directory
        self.replicas = replicas
        self.process = None

    def start(self) -> "Nginx":
        self.dir.mkdir(parents=True, exist_ok=True)
        upstreams = "\n".join(f"        server 127.0.0.1:{r.port} max_fails=1 fail_timeout=2s;" for r in self.replicas)
        conf = ((ROOT / "deploy" / "nginx.conf").read_text().replace("@PREFIX@", str(self.dir))
                .replace("@UPSTREAMS@", upstreams).replace("@LISTEN@", f"127.0.0.1:{self.port}"))
        (self.dir / "nginx.conf").write_text(conf)
        self.process = subprocess.Popen(
            [binary("nginx", "/usr/sbin/nginx"), "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"),
             "-e", str(self.dir / "error.log"), "-g", "daemon off;" + self._user()],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_until(lambda: httpx.get(self.url + "/healthz", timeout=1).status_code == 200, "nginx",
                   process=self.process)
        return self

    @staticmethod
    def _user() -> str:
        """As root, nginx's workers run as nobody, who cannot write the request-body buffers
        into a private temporary directory: keep them as the test's own user."""
        return " user root;" if os.geteuid() == 0 else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
