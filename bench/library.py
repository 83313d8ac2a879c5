#!/usr/bin/env python3
"""One library edit at any library size: `meshkit seal` of a 6-byte file (a real CLI
process through a real gateway, the file's entry saved into the account's library) with an
empty library and with 20,000 entries, in the same run.

    .venv/bin/python bench/library.py [--entries 20000] [--runs 7]

Methodology. A gateway (embedded provider, SQLite) runs in this process under uvicorn on
127.0.0.1. A CLI home makes an account there; the library is filled by the Python API (one
change, then folded into a base, as a device that filed 20,000 things would have it). Each
run is a fresh `meshkit seal` process (the CLI reads nothing it did not keep). The time is
the process's wall time; the median of --runs is compared. Every seal is checked: its entry
is in the library read back afterwards. The row PASSes when the seal at 20,000 entries takes
at most 1.25x the seal at an empty library (the peer: the same command, same run).
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from meshkit_web.clients import accounts  # noqa: E402
from meshkit_web.clients.gateway import GatewayClient  # noqa: E402
from meshkit_web.crypto.nacl_backend import NaclBackend  # noqa: E402
from meshkit_web.gateway.app import create_app  # noqa: E402
from meshkit_web.gateway.config import GatewayConfig  # noqa: E402
from meshkit_web.providers.embedded import EmbeddedProvider  # noqa: E402
from meshkit_web.stores.filestore import FileStore  # noqa: E402
from support.servers import ServerThread  # noqa: E402

TARGET = 1.25


def meshkit(home, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "meshkit_web", "--home", home, *map(str, args)],
                          capture_output=True, text=True, check=True, timeout=300)


def seal_times(home, url, runs: int, tag: str) -> tuple[list[float], list[str]]:
    times, roots = [], []
    for i in range(runs):
        tiny = os.path.join(home, f"{tag}-{i}.txt")
        with open(tiny, "w") as f:
            f.write("hello\n")
        started = time.perf_counter()
        roots.append(meshkit(home, "seal", tiny, "--from", "laptop", "--gateway", url).stdout.split()[-1])
        times.append(time.perf_counter() - started)
    return times, roots


async def fill(home, url, entries: int) -> None:
    store = FileStore(home, NaclBackend())
    async with GatewayClient(url, store.backend, await store.load("laptop")) as client:
        record = await client.fetch_account(store.load_account("laptop").id)
        now = int(time.time())
        await accounts.save_library(client, record, lambda lib: [
            lib.put(f"envelope:bafybench{i:06d}", {"name": f"report {i}.pdf", "size": 1000 + i, "created": now}, now)
            for i in range(entries)], compact=True)


async def library_roots(home, url) -> set:
    store = FileStore(home, NaclBackend())
    async with GatewayClient(url, store.backend, await store.load("laptop")) as client:
        record = await client.fetch_account(store.load_account("laptop").id)
        library, _ = await accounts.load_library(client, record)
        return set(library.items("envelope"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base:
        data = os.path.join(base, "gateway")
        server = ServerThread(create_app(GatewayConfig(data_dir=data), EmbeddedProvider(os.path.join(data, "blocks"))))
        server.start()
        try:
            home = os.path.join(base, "home")
            meshkit(home, "identity", "create", "laptop", "--gateway", server.url, "--phrase-file",
                    os.path.join(base, "kit.txt"))
            empty, roots = seal_times(home, server.url, args.runs, "empty")
            asyncio.run(fill(home, server.url, args.entries))
            full, more = seal_times(home, server.url, args.runs, "full")
            found = asyncio.run(library_roots(home, server.url))
            ok = set(roots + more) <= found and len(found) >= args.entries
        finally:
            server.stop()
    small, large = statistics.median(empty), statistics.median(full)
    print(f"meshkit seal of a 6-byte file, library of 0 entries:  median {small:.3f} s (runs: "
          f"{', '.join(f'{t:.2f}' for t in empty)})")
    print(f"meshkit seal of a 6-byte file, library of {args.entries} entries: median {large:.3f} s (runs: "
          f"{', '.join(f'{t:.2f}' for t in full)})")
    print(f"ratio {large / small:.2f}x (target <= {TARGET}x): {'PASS' if large / small <= TARGET else 'FAIL'}; "
          f"every sealed file is in the library: {'yes' if ok else 'NO'}")
    from rows import record
    record("library.edit", entries=args.entries, empty_s=small, full_s=large, ok=ok)
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
