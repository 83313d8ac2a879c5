#!/usr/bin/env python3
"""Raw block put/get through the gateway vs the provider it fronts: the gateway's overhead.

    .venv/bin/python bench/gateway.py                          # 64 MiB, 8 in flight, best of 3
    .venv/bin/python bench/gateway.py --size-mib 256 --concurrency 16
    MESHKIT_BENCH_KUBO_API=http://127.0.0.1:5001 .venv/bin/python bench/gateway.py   # + Kubo

Methodology. The input is ``--size-mib`` blocks of 1 MiB of os.urandom data (raw codec,
CIDv1 sha2-256), made fresh for every run so no path ever sees a block it already holds.
Each path stores every block, then reads every block back, with ``--concurrency``
operations in flight (asyncio workers pulling from one queue); every block read is compared
with what was put, so a path that loses or corrupts data is reported FAILED, not fast.

  unsynced  EmbeddedProvider(durable=False): blocks renamed into place, never synced, as
            the gateway stored them before issue 27 (a power cut could lose them): "before".
  batched_unsynced  the batched gateway path over an unsynced store: the gateway "before".
  embedded  EmbeddedProvider called directly in this process (put/get on a fresh temp
            directory), one block a put, each put durable (syncfs) before it returns: the
            floor the gateway adds to.
  gateway   the real gateway app (meshkit_web.gateway.server.build: embedded provider +
            SQLite metadata in a fresh temp directory) under uvicorn in a SUBPROCESS on
            127.0.0.1, driven over loopback HTTP/1.1 keep-alive by httpx from this process:
            PUT /v1/blocks/{cid} with a capability token (challenge-response first, untimed),
            GET /ipfs/{cid}?format=raw. So every put is also authenticated, rate-limited and
            re-hashed by the gateway. The per-identity rate limit is raised so it never
            throttles (the limiter still runs), and uvicorn's access log is off.
  kubo      only if MESHKIT_BENCH_KUBO_API is set (e.g. http://127.0.0.1:5001): Kubo's RPC
            directly, POST /api/v0/block/put?cid-codec=raw&mhtype=sha2-256 (multipart) and
            POST /api/v0/block/get?arg=<cid>; MESHKIT_KUBO_AUTH, if set, is sent as the
            Authorization header. The CID Kubo answers must be ours.

Numbers per path: MiB/s = bytes / wall-clock time of the whole phase (all blocks, the
phase only: no setup, warm-up or verification of other phases); p99 = the 99th percentile
of per-block latency measured around the single call (client side for HTTP paths; with 64
blocks that is the slowest but one). A few warm-up blocks go through each path first,
untimed, and os.sync() runs before each timed phase so no path pays for another's
write-back. Each path runs ``--repeat`` times; the run with the best throughput is shown.

Overhead of the gateway = (gateway phase time / embedded phase time) - 1, i.e. how much
longer the same transfer takes through the gateway (= embedded MiB/s / gateway MiB/s - 1).
The target (from the issue) is under 15% for both put and get; the verdict is printed as
measured. Exit status: 2 if any path lost or corrupted data, 3 with --strict if the target
is missed, else 0.
"""

import argparse
import asyncio
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import httpx  # noqa: E402

from meshkit_web.core.cid import RAW, cid_bytes, cid_str  # noqa: E402
from rows import record  # noqa: E402  (bench/ is on sys.path: this script's own directory)

MIB = 1 << 20
BLOCK = MIB
TARGET = 0.15
WARMUP_BLOCKS = 4

SERVER = """
import os, sys, uvicorn
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider
config = GatewayConfig(data_dir=sys.argv[1], rate_limit="100000000/minute", token_ttl=24 * 3600)
config.load_secrets()
# as meshkit serve makes it; "unsynced": the store as it was before issue 27 (the before row)
provider = EmbeddedProvider(os.path.join(sys.argv[1], "blockstore"), durable=sys.argv[3] == "durable",
                            min_free=config.min_free)
app = create_app(config, provider)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False,
            server_header=False)
"""


class DataError(Exception):
    """A path lost or corrupted a block."""


def make_blocks(count: int) -> list[tuple[bytes, bytes]]:
    blocks = []
    for _ in range(count):
        data = os.urandom(BLOCK)
        blocks.append((cid_bytes(RAW, data), data))
    return blocks


async def timed_phase(blocks, concurrency: int, operation) -> tuple[float, list[float]]:
    """Run ``operation(cid, data)`` for every block, ``concurrency`` at a time: wall seconds
    and per-block latencies."""
    queue: asyncio.Queue = asyncio.Queue()
    for block in blocks:
        queue.put_nowait(block)
    latencies: list[float] = []

    async def worker():
        while True:
            try:
                cid, data = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            await operation(cid, data)
            latencies.append(time.perf_counter() - start)

    os.sync()
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


def check(label: str, cid: bytes, data: bytes, got: bytes) -> None:
    if got != data:
        raise DataError(f"{label}: block {cid_str(cid)} came back different ({len(got)} bytes)")


async def measure(label: str, blocks, concurrency: int, put, get) -> dict:
    """Warm up, then time the put phase and the get phase of one path."""
    for cid, data in make_blocks(WARMUP_BLOCKS):
        await put(cid, data)
        check(label, cid, data, await get(cid))

    async def read(cid, data):
        check(label, cid, data, await get(cid))
    put_s, put_lat = await timed_phase(blocks, concurrency, put)
    get_s, get_lat = await timed_phase(blocks, concurrency, read)
    return {"put_s": put_s, "get_s": get_s, "put_lat": put_lat, "get_lat": get_lat,
            "bytes": sum(len(d) for _, d in blocks)}


# --- paths ------------------------------------------------------------------------------

async def run_embedded(blocks, concurrency: int, workdir: str, durable: bool = True) -> dict:
    from meshkit_web.providers.embedded import EmbeddedProvider
    provider = EmbeddedProvider(tempfile.mkdtemp(prefix="embedded-", dir=workdir), durable=durable)
    await provider.start()
    try:
        return await measure("embedded" if durable else "unsynced", blocks, concurrency, provider.put, provider.get)
    finally:
        await provider.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    """The gateway under uvicorn in a child process, on a fresh data directory."""

    def __init__(self, workdir: str, durable: bool = True):
        self.data = tempfile.mkdtemp(prefix="gateway-", dir=workdir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(workdir, f"gateway-{self.port}.log"), "w+")
        env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, self.data, str(self.port),
                                      "durable" if durable else "unsynced"],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gateway exited with {self.proc.returncode}: {self.tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                self.stop()
                raise RuntimeError(f"gateway did not become ready: {self.tail()}")
            time.sleep(0.1)

    def tail(self) -> str:
        self.log.seek(0)
        return " | ".join(self.log.read().strip().splitlines()[-3:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


async def gateway_token(url: str) -> str:
    from meshkit_web.clients.gateway import GatewayClient
    from meshkit_web.core.identity import create_identity
    from meshkit_web.crypto.nacl_backend import NaclBackend
    backend = NaclBackend()
    identity = await create_identity(backend, "bench", int(time.time()))
    async with GatewayClient(url, backend, identity, scopes=("blocks:write",)) as client:
        await client.publish()
        return await client.token()


def http_client(concurrency: int, **kw) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=concurrency,
                                                              max_keepalive_connections=concurrency), **kw)


async def run_gateway(blocks, concurrency: int, workdir: str) -> dict:
    server = GatewayProcess(workdir)
    try:
        token = await gateway_token(server.url)
        async with http_client(concurrency, base_url=server.url,
                               headers={"Authorization": "Bearer " + token}) as http:
            async def put(cid, data):
                reply = await http.put(f"/v1/blocks/{cid_str(cid)}", content=data,
                                       headers={"Content-Type": "application/octet-stream"})
                if reply.status_code != 201:
                    raise DataError(f"gateway: put of {cid_str(cid)} answered {reply.status_code} {reply.text[:200]}")

            async def get(cid):
                reply = await http.get(f"/ipfs/{cid_str(cid)}?format=raw",
                                       headers={"Accept": "application/vnd.ipld.raw"})
                if reply.status_code != 200:
                    raise DataError(f"gateway: get of {cid_str(cid)} answered {reply.status_code}")
                return reply.content
            return await measure("gateway", blocks, concurrency, put, get)
    finally:
        server.stop()


async def run_gateway_batched(blocks, concurrency: int, workdir: str, durable: bool = True) -> dict:
    """As GatewayClient moves an envelope: puts are CARs of BATCH_BLOCKS blocks per POST
    /v1/blocks, UPLOAD_CONCURRENCY requests in flight; the get is one streamed CAR of the DAG
    (a DAG-CBOR block linking every block, as an envelope header does), read as it arrives
    with core.car.CarStream, every block checked."""
    from meshkit_web.clients.upload import BATCH_BYTES, UPLOAD_CONCURRENCY
    from meshkit_web.core import car, codec
    from meshkit_web.core.cid import DAG_CBOR, to_link
    per = max(1, BATCH_BYTES // MIB)
    groups = [(blocks[i][0], blocks[i:i + per]) for i in range(0, len(blocks), per)]
    links = codec.encode({"links": [to_link(cid) for cid, _ in blocks]})
    root = cid_bytes(DAG_CBOR, links)
    server = GatewayProcess(workdir, durable)
    try:
        token = await gateway_token(server.url)
        async with http_client(max(concurrency, UPLOAD_CONCURRENCY), base_url=server.url,
                               headers={"Authorization": "Bearer " + token}) as http:
            async def put(_, group):
                body = car.encode_header([group[0][0]]) + b"".join(car.frame_prefix(c, len(d)) + d for c, d in group)
                reply = await http.post("/v1/blocks", content=body, headers={"Content-Type": car.CAR_MEDIA})
                if reply.status_code != 201 or len(reply.json()["blocks"]) != len(group):
                    raise DataError(f"gateway: batch put answered {reply.status_code} {reply.text[:200]}")

            latencies = []

            async def read_car(_root, _none):
                expected = dict(blocks)
                seen = 0
                async with http.stream("GET", f"/ipfs/{cid_str(root)}?format=car&dag-scope=all",
                                       headers={"Accept": car.CAR_MEDIA}) as reply:
                    if reply.status_code != 200:
                        raise DataError(f"gateway: CAR read answered {reply.status_code}")
                    stream = car.CarStream(reply.aiter_raw())
                    await stream.header()
                    last = time.perf_counter()
                    async for cid, data in stream.blocks():
                        now = time.perf_counter()
                        latencies.append(now - last)
                        last = now
                        if cid != root:
                            check("gateway CAR read", cid, expected[cid], data)
                            seen += 1
                if seen != len(blocks):
                    raise DataError(f"gateway: the CAR brought {seen} of {len(blocks)} blocks")
            await put(None, make_blocks(WARMUP_BLOCKS))
            put_s, put_lat = await timed_phase(groups, UPLOAD_CONCURRENCY, put)
            reply = await http.put(f"/v1/blocks/{cid_str(root)}", content=links,
                                   headers={"Content-Type": "application/octet-stream"})
            if reply.status_code != 201:
                raise DataError(f"gateway: put of the DAG's root answered {reply.status_code}")
            get_s, _ = await timed_phase([(root, None)], 1, read_car)
            return {"put_s": put_s, "get_s": get_s, "put_lat": put_lat, "get_lat": latencies,
                    "bytes": sum(len(d) for _, d in blocks)}
    finally:
        server.stop()


async def run_kubo(blocks, concurrency: int, api: str) -> dict:
    auth = os.environ.get("MESHKIT_KUBO_AUTH")
    async with http_client(concurrency, base_url=api.rstrip("/") + "/api/v0",
                           headers={"Authorization": auth} if auth else {}) as http:
        async def put(cid, data):
            reply = await http.post("/block/put", params={"cid-codec": "raw", "mhtype": "sha2-256"},
                                    files={"file": ("block", data, "application/octet-stream")})
            if reply.status_code != 200:
                raise DataError(f"kubo: block/put answered {reply.status_code} {reply.text[:200]}")
            if reply.json().get("Key") != cid_str(cid):
                raise DataError(f"kubo: block/put answered CID {reply.json().get('Key')}, not {cid_str(cid)}")

        async def get(cid):
            reply = await http.post("/block/get", params={"arg": cid_str(cid)})
            if reply.status_code != 200:
                raise DataError(f"kubo: block/get of {cid_str(cid)} answered {reply.status_code}")
            return reply.content
        return await measure("kubo", blocks, concurrency, put, get)


# --- driver and table ---------------------------------------------------------------------

def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def best(runs: list[dict]) -> dict:
    """Fastest put run and fastest get run (each with its own latencies)."""
    put = min(runs, key=lambda r: r["put_s"])
    get = min(runs, key=lambda r: r["get_s"])
    return {"put_mib_s": put["bytes"] / MIB / put["put_s"], "put_p99_ms": p99(put["put_lat"]) * 1e3,
            "get_mib_s": get["bytes"] / MIB / get["get_s"], "get_p99_ms": p99(get["get_lat"]) * 1e3}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=64, help="MiB moved per phase, as 1 MiB blocks (default 64)")
    parser.add_argument("--concurrency", type=int, default=8, help="operations in flight (default 8)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per path; the fastest is shown (default 3)")
    parser.add_argument("--tmpdir", default=None, help="where the stores go (default: the system temp dir)")
    parser.add_argument("--strict", action="store_true", help="exit 3 if the overhead target is missed")
    args = parser.parse_args(argv)
    if args.size_mib < 1 or args.concurrency < 1 or args.repeat < 1:
        parser.error("--size-mib, --concurrency and --repeat must be positive")

    kubo_api = os.environ.get("MESHKIT_BENCH_KUBO_API")
    paths = {"unsynced": "embedded, no syncs (before)", "embedded": "embedded (in-process)",
             "gateway": "gateway, 1 block/request",
             "batched": "gateway, CAR batches/stream", "batched_unsynced": "  same, no syncs (before)"}
    if kubo_api:
        paths["kubo"] = "kubo (RPC, direct)"
    workdir = tempfile.mkdtemp(prefix="meshkit-gateway-bench-", dir=args.tmpdir)
    runs: dict[str, list[dict]] = {name: [] for name in paths}
    failures: dict[str, str] = {}
    try:
        for _ in range(args.repeat):
            blocks = make_blocks(args.size_mib)  # fresh per run, the same for every path in it
            for name in paths:
                if name in failures:
                    continue
                try:
                    if name in ("embedded", "unsynced"):
                        result = asyncio.run(run_embedded(blocks, args.concurrency, workdir, name == "embedded"))
                    elif name == "gateway":
                        result = asyncio.run(run_gateway(blocks, args.concurrency, workdir))
                    elif name in ("batched", "batched_unsynced"):
                        result = asyncio.run(run_gateway_batched(blocks, args.concurrency, workdir,
                                                                 name == "batched"))
                    else:
                        result = asyncio.run(run_kubo(blocks, args.concurrency, kubo_api))
                    runs[name].append(result)
                except (DataError, RuntimeError, httpx.HTTPError, OSError) as exc:
                    failures[name] = f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"raw block put/get: {args.size_mib} x 1 MiB blocks per phase, concurrency {args.concurrency}, "
          f"best of {args.repeat}; python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {platform.machine()}")
    header = f"{'path':<26} {'put MiB/s':>10} {'put p99 ms':>11} {'get MiB/s':>10} {'get p99 ms':>11}"
    print(header)
    print("-" * len(header))
    rows = {}
    for name, label in paths.items():
        if name in failures:
            print(f"{label:<26} FAILED: {failures[name]}")
            continue
        rows[name] = row = best(runs[name])
        print(f"{label:<26} {row['put_mib_s']:>10.1f} {row['put_p99_ms']:>11.1f} "
              f"{row['get_mib_s']:>10.1f} {row['get_p99_ms']:>11.1f}")
    if kubo_api:
        print(f"kubo: RPC API at {kubo_api}")
    else:
        print("kubo: not measured (MESHKIT_BENCH_KUBO_API is not set; point it at a Kubo RPC API, "
              "e.g. http://127.0.0.1:5001, to add a row)")

    verdict_ok = None
    if "embedded" in rows and "batched" in rows:
        record("gateway.blocks", **{f"{name}_{op}_mib_s": rows[name][f"{op}_mib_s"]
                                    for name in ("embedded", "unsynced", "batched", "batched_unsynced", "gateway")
                                    if name in rows
                                    for op in ("put", "get")})
    if "embedded" in rows and "batched" in rows:
        e, g = rows["embedded"], rows["batched"]
        put_over = e["put_mib_s"] / g["put_mib_s"] - 1
        get_over = e["get_mib_s"] / g["get_mib_s"] - 1
        verdict_ok = put_over < TARGET and get_over < TARGET
        print(f"gateway (CAR batches) overhead vs embedded (extra time for the same transfer): put {put_over:+.0%}, "
              f"get {get_over:+.0%}; target < {TARGET:.0%}: {'PASS' if verdict_ok else 'FAIL'}")
    else:
        print("gateway overhead: not computed (a path failed): FAIL")
    if failures:
        return 2
    if args.strict and not verdict_ok:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
