"""Item 12: a hostile gateway can not make the client buffer more than the largest legal
answer: every reply is read as a stream and refused (LimitExceededError) once over its cap."""

import socket
import subprocess
import sys
import threading
import time

import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, cid_str
from meshkit_web.core.envelope import MAX_HEADER_SIZE
from meshkit_web.core.errors import LimitExceededError
from meshkit_web.core.limits import MAX_REPLY_SIZE, MAX_SEGMENT_BLOCK
from meshkit_web.crypto.nacl_backend import NaclBackend
from support.servers import ServerThread

from support.aio import run

HUGE = 615 << 20
CHUNK = 64 << 10
# bytes the server may push into loopback socket buffers before the client hangs up
SOCKET_SLACK = 16 << 20


class Flood:
    """A hostile gateway on a raw socket (so what it counts is what the kernel accepted, not
    what a framework buffered): every block read, and with ``shape="json"`` the directory
    too, is answered with ``HUGE`` bytes: "chunked" (no length), "declared-late" (a true
    Content-Length, so only streaming can stop it). Anything else gets a small JSON reply."""

    def __init__(self, shape: str):
        self.shape = shape
        self.sent = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn):
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            line = head.split(b"\r\n", 1)[0].decode()
            flood = "/ipfs/" in line or self.shape == "json"
            if not flood:
                body = b'{"id": "mk", "fingerprint": "f"}'
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (len(body), body))
                return
            length = b"content-length: %d\r\n" % HUGE if self.shape == "declared-late" else b""
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n" + length +
                             b"connection: close\r\n\r\n")
                chunk = b"\0" * CHUNK
                for _ in range(HUGE // CHUNK):
                    conn.sendall(chunk)
                    self.sent += CHUNK
            except OSError:  # the client hung up: what it was sent is counted
                return

    def close(self):
        self.listener.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


ROOT = cid_bytes(DAG_CBOR, codec.encode({"x": 1}))
SEGMENT = cid_bytes(RAW, b"segment")


@pytest.mark.parametrize("shape", ["chunked", "declared-late"])
def test_block_reads_stop_at_the_cap(shape):
    with Flood(shape) as flood:
        client = GatewayClient(flood.url, NaclBackend())

        async def read(cid):
            try:
                return await client.get_block(cid)
            finally:
                await client.close()
        for cid, cap in ((SEGMENT, MAX_SEGMENT_BLOCK), (ROOT, MAX_HEADER_SIZE)):
            flood.sent = 0
            started = time.monotonic()
            with pytest.raises(LimitExceededError, match=f"over {cap} bytes"):
                run(read(cid))
            assert time.monotonic() - started < 10
            time.sleep(0.2)  # let the server notice the hang-up
            assert flood.sent <= cap + SOCKET_SLACK, flood.sent


def test_json_replies_stop_at_the_cap():
    with Flood("json") as flood:
        client = GatewayClient(flood.url, NaclBackend())

        async def publish():
            try:
                return await client.request("POST", "/v1/directory", json_body={}, auth=False)
            finally:
                await client.close()
        with pytest.raises(LimitExceededError, match=f"over {MAX_REPLY_SIZE} bytes"):
            run(publish())
        time.sleep(0.2)
        assert flood.sent <= MAX_REPLY_SIZE + SOCKET_SLACK


def test_declared_length_over_the_cap_is_refused_before_reading():
    async def block(request):
        return Response(b"x" * 10, headers={"content-length": str(HUGE)})  # a lie, never sent
    app = Starlette(routes=[Route("/healthz", lambda r: Response("ok")), Route("/ipfs/{cid}", block)])
    with ServerThread(app) as server:
        client = GatewayClient(server.url, NaclBackend())

        async def read():
            try:
                return await client.get_block(SEGMENT)
            finally:
                await client.close()
        with pytest.raises(LimitExceededError):
            run(read())


MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=120)
sys.stdout.write(proc.stderr)
print("MAXRSS", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(proc.returncode)
"""


def test_cli_open_fails_fast_with_bounded_memory(cli, tmp_path):
    cli("identity", "create", "bob")
    with Flood("chunked") as flood:
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", MEASURE, sys.executable, "-m", "meshkit_web", "--home", str(cli.home),
                               "open", cid_str(ROOT), "--as", "bob", "--out", str(tmp_path / "out"), "--gateway", flood.url],
                              capture_output=True, text=True, timeout=180)
        elapsed = time.monotonic() - started
        time.sleep(0.2)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert lines[-2].startswith("meshkit: limit_exceeded: gateway reply to /ipfs/"), lines
    rss_mib = int(lines[-1].split()[1]) / 1024
    assert rss_mib < 150, f"the CLI grew to {rss_mib:.0f} MiB"
    assert flood.sent <= MAX_HEADER_SIZE + SOCKET_SLACK and elapsed < 30
    assert not (tmp_path / "out").exists()
