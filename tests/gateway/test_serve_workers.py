"""`meshkit serve --workers N`: several gateway processes on one port, one set of data."""

import os
import signal
import subprocess
import sys
import time

import httpx

from meshkit_web.core.cid import RAW, cid_bytes, cid_str

from support.servers import free_port


def children(pid: int) -> list[int]:
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def worker_processes(pid: int) -> list[int]:
    """uvicorn's worker processes: multiprocessing children started by spawn_main."""
    found = []
    for child in children(pid):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if b"spawn_main" in f.read():
                    found.append(child)
        except OSError:
            continue
    return found


def test_two_worker_processes_serve_one_gateway(tmp_path, cli):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "meshkit_web", "serve", "--data", str(tmp_path / "data"),
                               "--port", str(port), "--workers", "2"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env={**os.environ, "MESHKIT_SITE": ""})
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.time() < deadline, "the gateway did not start"
            time.sleep(0.2)
        assert len(worker_processes(server.pid)) == 2
        # one identity's token, made by whichever worker answered, works on every worker
        cli("identity", "create", "w")
        cli("identity", "publish", "w", "--gateway", url)
        data = os.urandom(5000)
        source = tmp_path / "f.bin"
        source.write_bytes(data)
        for _ in range(4):  # new connections: the kernel spreads them over the workers
            root = cli("seal", str(source), "--from", "w", "--to", "w", "--gateway", url).stdout.split()[-1]
            assert httpx.get(f"{url}/ipfs/{root}?format=raw").status_code == 200
        missing = cid_str(cid_bytes(RAW, b"absent"))
        assert httpx.get(f"{url}/ipfs/{missing}?format=raw").status_code == 404
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
