"""A bounded load test over loopback: one gateway (uvicorn on 127.0.0.1, embedded blockstore
+ SQLite), 64 concurrent clients, each with its own identity and published GatewayClient.

Each client seals a few hundred KB (64 KiB segments) to the next client in a ring and
uploads it; every block is then checked present with the size that was put (HEAD
/ipfs/{cid}?format=raw), and the recipient opens the envelope through a fresh
GatewayClient and compares the bytes. Nothing may be lost or corrupted.

Block put/get latencies are measured around Upload.put_block/put_batch and GatewayClient.get_block and printed
with the throughput of each phase; nothing about timing is asserted. The gateway runs in a
thread of the test process, so it shares one interpreter (and GIL) with the 64 clients'
sealing and opening: these numbers are a floor, not the gateway's own speed (for that, see
bench/gateway.py, which runs it in its own process).
"""

import asyncio
import os
import time

import httpx
import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.clients.upload import Upload
from meshkit_web.core.cid import cid_str
from meshkit_web.core.identity import create_identity
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider

from support.aio import run
from support.servers import ServerThread

CLIENTS = 64
SEGMENT = 64 * 1024
MIB = 1 << 20


class TimedUpload(Upload):
    """Upload that records (seconds, bytes) of every block put."""

    def __init__(self, session, puts: list):
        super().__init__(session)
        self.puts = puts
        self.stored: dict[bytes, int] = {}  # cid -> size, every block this client put

    async def put_block(self, cid: bytes, data: bytes) -> None:
        start = time.perf_counter()
        await super().put_block(cid, data)
        self.puts.append((time.perf_counter() - start, len(data)))
        self.stored[cid] = len(data)

    async def put_batch(self, blocks: list) -> None:
        """A batch request: each of its blocks is charged the request's time."""
        start = time.perf_counter()
        await super().put_batch(blocks)
        for cid, data in blocks:
            self.puts.append((time.perf_counter() - start, len(data)))
            self.stored[cid] = len(data)


class TimedClient(GatewayClient):
    """GatewayClient that records (seconds, bytes) of every block put (TimedUpload) and get."""

    def __init__(self, *args, puts: list, gets: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload = TimedUpload(self.session, puts)
        self.puts, self.gets = puts, gets

    @property
    def stored(self) -> dict[bytes, int]:
        return self.upload.stored

    async def get_block(self, cid: bytes) -> bytes:
        start = time.perf_counter()
        data = await super().get_block(cid)
        self.gets.append((time.perf_counter() - start, len(data)))
        return data


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(label: str, samples: list[tuple[float, int]], wall: float) -> str:
    latencies = [s for s, _ in samples]
    size = sum(n for _, n in samples)
    return (f"{label}: {len(samples)} blocks, {size / MIB:.1f} MiB in {wall:.2f} s = {size / MIB / wall:.1f} MiB/s; "
            f"latency p50 {percentile(latencies, 0.50) * 1e3:.1f} ms, p99 {percentile(latencies, 0.99) * 1e3:.1f} ms, "
            f"max {max(latencies) * 1e3:.1f} ms")


@pytest.mark.slow
def test_64_concurrent_clients_lose_and_corrupt_nothing(tmp_path, backend, capsys):
    # 64 new identities at once from one address: more than the default per-address limit allows
    config = GatewayConfig(data_dir=str(tmp_path / "data"), anonymous_limits={"directory": "1000/minute",
                                                                           "challenge": "1000/minute"})
    with ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "data" / "blockstore")))) as server:
        report = run(load(server.url, backend))
    with capsys.disabled():
        print("\n" + "\n".join(report))


async def load(url: str, backend) -> list[str]:
    people = await asyncio.gather(*(create_identity(backend, f"load-{i}", int(time.time())) for i in range(CLIENTS)))
    payloads = [os.urandom(200_000 + 3_000 * i) for i in range(CLIENTS)]  # 200..389 KB
    puts, gets = [], []
    senders = [TimedClient(url, backend, who, puts=puts, gets=gets) for who in people]
    try:
        # publish and fetch a token first, so the timed puts do not include the challenge flow
        async def join(client):
            await client.publish()
            await client.token()
        await asyncio.gather(*(join(c) for c in senders))

        start = time.perf_counter()
        roots = await asyncio.gather(*(
            c.seal_upload([payloads[i]], recipients=[people[(i + 1) % CLIENTS].public], segment_size=SEGMENT)
            for i, c in enumerate(senders)))
        upload_wall = time.perf_counter() - start
    finally:
        await asyncio.gather(*(c.close() for c in senders))

    # every block each client put is there, with the size it put
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        async def present(cid: bytes, size: int):
            reply = await http.head(f"/ipfs/{cid_str(cid)}?format=raw")
            return reply.status_code == 200 and int(reply.headers["content-length"]) == size
        stored = [(cid, size) for c in senders for cid, size in c.stored.items()]
        checks = await asyncio.gather(*(present(cid, size) for cid, size in stored))
    missing = [cid_str(cid) for (cid, _), ok in zip(stored, checks) if not ok]
    assert not missing, f"{len(missing)} of {len(stored)} blocks missing or of the wrong size: {missing[:5]}"
    for i, c in enumerate(senders):
        segments = -(-len(payloads[i]) // SEGMENT)
        assert len(c.stored) == segments + 1, f"client {i} put {len(c.stored)} blocks, expected {segments + 1}"
        assert roots[i] in c.stored

    # each recipient opens through a fresh client and gets exactly the bytes sealed
    async def fetch(i: int) -> bytes:
        async with TimedClient(url, backend, people[(i + 1) % CLIENTS], puts=[], gets=gets) as reader:
            opened = await reader.open(roots[i])
            return b"".join([chunk async for chunk in opened.plaintext()])
    start = time.perf_counter()
    received = await asyncio.gather(*(fetch(i) for i in range(CLIENTS)))
    open_wall = time.perf_counter() - start
    corrupted = [i for i in range(CLIENTS) if received[i] != payloads[i]]
    assert not corrupted, f"clients {corrupted} read back different bytes"

    plain = sum(map(len, payloads)) / MIB
    return [
        f"load: {CLIENTS} concurrent clients, {plain:.1f} MiB of plaintext, {len(stored)} blocks, "
        "all present and intact",
        summary("block puts (seal+upload phase)", puts, upload_wall),
        summary("block gets (open phase)      ", gets, open_wall),
        f"end to end: seal+upload {plain / upload_wall:.1f} MiB/s, open+verify {plain / open_wall:.1f} MiB/s "
        "of plaintext",
    ]
