"""The Python API's targets (issue 24), side by side in one run:

- ``MeshKit.local`` seal + open of SIZE MiB in-process, no slower than the path a program
  had before the API (the CLI's code: ``GatewayClient`` over the same gateway app in the same
  process, the glue a developer wrote by hand): target <= 1.10x its time (the same Core and
  gateway code; the facade adds the account fan-out and the library entry);
- memory: MeshKit.local's peak RSS for SIZE MiB within 4 MiB of the glue's (the facade adds
  no buffering; each measured in a fresh process; the same at SMALL MiB is printed too);
- ``from meshkit_web import MeshKit``: <= 150 ms (server and browser modules stay lazy),
  beside ``import pyrage`` (age's Python binding) in the same run.

    python bench/python_api.py [--size-mib 256]
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from rows import record  # noqa: E402

# Each measurement runs in a process of its own (peak RSS is per process). Both write a file
# of SIZE MiB, seal it, open it back to a file and compare: the time covers seal + open.
DIGEST = r"""
import hashlib
def digest(path):  # read in pieces: the check must not be what makes the peak
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while piece := f.read(1 << 20):
            h.update(piece)
    return h.digest()
"""

KIT = DIGEST + r"""
import asyncio, json, os, pathlib, resource, sys, time
from meshkit_web import MeshKit
size, folder = int(sys.argv[1]), pathlib.Path(sys.argv[2])
source = folder / "plain.bin"
async def main():
    async with MeshKit.local(folder / "kit") as kit:
        await kit.identity.create("alice")
        started = time.perf_counter()
        sealed = await kit.seal(source, from_="alice")
        await (await kit.open(sealed.root, as_="alice")).save(folder / "out.bin")
        return time.perf_counter() - started
seconds = asyncio.run(main())
same = digest(folder / "out.bin") == digest(source)
print(json.dumps({"s": seconds, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ok": same}))
"""

# The glue a program needed before MeshKit (the CLI's own calls): the gateway app in this
# process over httpx's ASGI transport, a client per identity, seal_upload and open.
GLUE = DIGEST + r"""
import asyncio, json, os, pathlib, resource, sys, time
import httpx
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.clients.transport import HttpxTransport
from meshkit_web.crypto.nacl_backend import NaclBackend
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.gateway.server import make_provider
from meshkit_web.stores.filestore import FileStore
from meshkit_web.kit.files import FileSource, write_verified
size, folder = int(sys.argv[1]), pathlib.Path(sys.argv[2])
source = folder / "plain.bin"
async def main():
    url = "http://in-process"
    config = GatewayConfig(data_dir=str(folder / "gw"), public_urls=[url], gc_interval=0, rate_limit="1000000/minute",
                           pin_quota=1 << 50, storage_quota=1 << 50)
    app = create_app(config, make_provider(config))
    store = FileStore(str(folder / "home"), NaclBackend())
    alice = await store.create("alice", int(time.time()))
    async with app.router.lifespan_context(app):
        client = GatewayClient(url, store.backend, alice, transport=HttpxTransport(httpx.ASGITransport(app=app)))
        client.streamed_reads = False  # the ASGI transport holds a whole reply
        await client.publish()
        started = time.perf_counter()
        root = await client.seal_upload(FileSource(str(source)), recipients=[], metadata={"name": "plain.bin"})
        opened = await client.open(root)
        await write_verified(opened.plaintext(), str(folder / "out.bin"), replace=True)
        seconds = time.perf_counter() - started
        await client.close()
    return seconds
seconds = asyncio.run(main())
same = digest(folder / "out.bin") == digest(source)
print(json.dumps({"s": seconds, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "ok": same}))
"""

IMPORT = r"""
import time, sys
started = time.perf_counter()
exec(sys.argv[1])
print((time.perf_counter() - started) * 1000)
"""


def measure(script: str, mib: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="meshkit-bench-") as folder:
        with open(os.path.join(folder, "plain.bin"), "wb") as out:
            for _ in range(mib):
                out.write(os.urandom(1 << 20))
        done = subprocess.run([sys.executable, "-c", script, str(mib << 20), folder], capture_output=True, text=True,
                              timeout=3600, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])


def import_ms(statement: str, runs: int = 7) -> float:
    """The median of fresh interpreters' import time (the interpreter's own start excluded)."""
    times = [float(subprocess.run([sys.executable, "-c", IMPORT, statement], capture_output=True, text=True,
                                  check=True, cwd="/").stdout) for _ in range(runs)]
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--small-mib", type=int, default=32)
    args = parser.parse_args()
    kit, glue = measure(KIT, args.size_mib), measure(GLUE, args.size_mib)
    small = measure(KIT, args.small_mib)
    mine, peer = import_ms("from meshkit_web import MeshKit"), import_ms("import pyrage")
    ok = kit["ok"] and glue["ok"] and small["ok"]
    print(f"seal+open {args.size_mib} MiB in-process: MeshKit.local {kit['s']:.2f} s, GatewayClient glue "
          f"{glue['s']:.2f} s ({kit['s'] / glue['s']:.2f}x)")
    print(f"peak RSS: {kit['rss_mib']:.0f} MiB at {args.size_mib} MiB (the glue {glue['rss_mib']:.0f} MiB), "
          f"{small['rss_mib']:.0f} MiB at {args.small_mib} MiB")
    print(f"import: from meshkit_web import MeshKit {mine:.0f} ms, import pyrage {peer:.0f} ms")
    record("python.local", mib=args.size_mib, kit_s=kit["s"], glue_s=glue["s"], rss_mib=kit["rss_mib"],
           glue_rss_mib=glue["rss_mib"], small_rss_mib=small["rss_mib"], small_mib=args.small_mib, import_ms=mine,
           pyrage_import_ms=peer, ok=ok)
    if not ok:
        raise SystemExit("an opened file differs from what was sealed")


if __name__ == "__main__":
    main()
