#!/usr/bin/env python3
"""Giving a new device access to an account's envelopes: linking, and recovery from the
phrase, against re-encrypting every file (the naive peer), through a real gateway.

    .venv/bin/python bench/accounts.py                  # 100 envelopes of 64 KiB
    .venv/bin/python bench/accounts.py --envelopes 300 --size-kib 256

Methodology. A gateway (embedded provider, SQLite, in this process under uvicorn on
127.0.0.1) holds an account with one device that sealed N envelopes of random data, each
in the account's library. Timed, each on a fresh copy of that state:

  link      clients/accounts.approve_link + wait_for_link: the comparison-code check, the
            device's consent, the next account record, one capsule per envelope to the new
            device, the library sealed again; then the new device opens ONE envelope to show
            access (each envelope's access is checked, untimed, afterwards).
  recover   recover_account + recover_library on a fresh device from the phrase: the
            next record, the library opened with the recovery key, one re-wrap per envelope.
  re-seal   the peer: what a tool without key wrapping (age, a plain encrypted folder) does
            to give a new key access: download, decrypt, re-encrypt and upload every
            envelope to the new device.

A row PASSes if it is faster than the peer. Every envelope is opened by the new device
afterwards and compared with what was sealed, so a path that loses access FAILs.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from meshkit_web.clients import accounts  # noqa: E402
from meshkit_web.clients.gateway import GatewayClient  # noqa: E402
from meshkit_web.core.cid import cid_str  # noqa: E402
from meshkit_web.core.identity import create_identity  # noqa: E402
from meshkit_web.crypto.nacl_backend import NaclBackend  # noqa: E402
from meshkit_web.gateway.app import create_app  # noqa: E402
from meshkit_web.gateway.config import GatewayConfig  # noqa: E402
from meshkit_web.providers.embedded import EmbeddedProvider  # noqa: E402
from support.servers import ServerThread  # noqa: E402


async def setup(url, backend, count, size):
    laptop = await create_identity(backend, "laptop", int(time.time()))
    client = GatewayClient(url, backend, laptop)
    phrase, record = await accounts.create_account(client, "bench")
    sealed = {}
    for _ in range(count):
        data = os.urandom(size)
        root = await client.seal_upload([data], recipients=accounts.account_recipients(record))
        sealed[root] = data
    await accounts.save_library(client, record, lambda library: [
        library.put(f"envelope:{cid_str(root)}", {"name": f"file{i}", "size": size}, int(time.time()))
        for i, root in enumerate(sealed)])
    return client, record, phrase, sealed


async def check(client, sealed) -> bool:
    for root, data in sealed.items():
        opened = await client.open(root)
        if b"".join([c async for c in opened.plaintext()]) != data:
            return False
    return True


async def run_link(url, backend, count, size):
    laptop, record, _, sealed = await setup(url, backend, count, size)
    phone = GatewayClient(url, backend, await create_identity(backend, "phone", int(time.time())))
    link = await accounts.request_link(phone)
    shown = asyncio.get_running_loop().create_future()

    async def typed(offers):  # the user types the code the laptop shows
        return await shown
    started = time.perf_counter()
    await asyncio.gather(accounts.approve_link(laptop, record, link, show_code=shown.set_result),
                         accounts.wait_for_link(phone, link, ask_code=typed))
    first = next(iter(sealed))
    await (await phone.open(first)).plaintext().__anext__()
    elapsed = time.perf_counter() - started
    return elapsed, await check(phone, sealed)


async def run_recover(url, backend, count, size):
    _, _, phrase, sealed = await setup(url, backend, count, size)
    tablet = GatewayClient(url, backend, await create_identity(backend, "tablet", int(time.time())))
    started = time.perf_counter()
    record, keys = await accounts.recover_account(tablet, phrase)
    await accounts.recover_library(tablet, record, keys)
    elapsed = time.perf_counter() - started
    return elapsed, await check(tablet, sealed)


async def run_reseal(url, backend, count, size):
    laptop, _, _, sealed = await setup(url, backend, count, size)
    phone_identity = await create_identity(backend, "phone", int(time.time()))
    phone = GatewayClient(url, backend, phone_identity)
    await phone.publish()
    started = time.perf_counter()
    resealed = {}
    for root, data in sealed.items():
        opened = await laptop.open(root)
        plain = b"".join([c async for c in opened.plaintext()])
        resealed[await laptop.seal_upload([plain], recipients=[phone_identity.public])] = data
    elapsed = time.perf_counter() - started
    return elapsed, await check(phone, resealed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envelopes", type=int, default=100)
    parser.add_argument("--size-kib", type=int, default=64)
    args = parser.parse_args()
    backend = NaclBackend()
    size = args.size_kib << 10
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for name, runner in (("re-seal (peer)", run_reseal), ("link", run_link), ("recover", run_recover)):
            data = os.path.join(work, name.split()[0])
            config = GatewayConfig(data_dir=data, anonymous_limits={"directory": "1000/minute",
                                                                    "challenge": "1000/minute"})
            with ServerThread(create_app(config, EmbeddedProvider(os.path.join(data, "blocks")))) as server:
                results[name] = asyncio.run(runner(server.url, backend, args.envelopes, size))
    peer = results["re-seal (peer)"][0]
    print(f"giving a new device access to {args.envelopes} envelopes of {args.size_kib} KiB "
          f"(gateway on loopback, CPython {sys.version.split()[0]})")
    status = 0
    for name, (elapsed, ok) in results.items():
        verdict = "FAIL (lost access)" if not ok else ("peer" if name.startswith("re-seal") else
                                                      ("PASS" if elapsed < peer else "FAIL"))
        status |= 0 if ok else 2
        print(f"  {name:<16} {elapsed:7.2f} s  {elapsed / args.envelopes * 1000:7.1f} ms/envelope  {verdict}")
    return status


if __name__ == "__main__":
    sys.exit(main())
