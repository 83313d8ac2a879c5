"""Three devices of one account seal at once (issue 27): every seal whose upload succeeded is
in the library, no save is refused as `conflict`, and afterwards each device's library lists
every file. The saves are what the CLI runs after a seal (clients.accounts.remember_sealed), on
real devices linked through a real gateway. Device 0 seals through one client (a browser tab:
its saves take turns); devices 1 and 2 through a fresh client per seal (one CLI process per
file), so up to 2 x FILES + 1 saves race on the pointer at once."""

import asyncio
import os
import time

from meshkit_web.clients.accounts import remember_sealed
from meshkit_web.clients.accounts import MAX_CHANGES, account_recipients, create_account, load_library
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.cid import cid_str
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.constants import NOW
from support.linking import link_device

DEVICES = 3
FILES = 12     # sealed at once by each device
BOUND = 120.0  # seconds for all the seals: a hang fails, it does not stall the suite


async def _seal_and_remember(client, record, name: str) -> tuple[str, str]:
    """One seal as the CLI does it: upload, then the library entry. ("ok"|error code, root)."""
    data = os.urandom(2000)
    root = cid_str(await client.seal_upload([data], recipients=account_recipients(record)))
    try:
        landed = await remember_sealed(client, record, root, name, len(data))
    except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
        return getattr(exc, "code", type(exc).__name__), root
    return ("ok" if landed else "not saved"), root


async def _one_process(url, backend, identity, record, name: str) -> tuple[str, str]:
    """A seal through a client of its own, as one CLI run makes it."""
    async with GatewayClient(url, backend, identity) as client:
        return await _seal_and_remember(client, record, name)


def test_three_devices_sealing_at_once_all_land_in_the_library(fresh_gateway, backend):
    async def go():
        people = [await create_identity(backend, f"device-{i}", NOW) for i in range(DEVICES)]
        clients = [GatewayClient(fresh_gateway, backend, who) for who in people]
        try:
            _, record = await create_account(clients[0], "alice")
            for device in clients[1:]:
                record, _ = await link_device(clients[0], record, device)
            # each device refreshes the record it knows (all devices, all recipients)
            records = [await c.fetch_account(record.id) for c in clients]
            assert all(len(r.devices) == DEVICES for r in records)
            started = time.monotonic()
            seals = [_seal_and_remember(clients[0], records[0], f"d0-f{f}.txt") for f in range(FILES)]
            seals += [_one_process(fresh_gateway, backend, people[d], records[d], f"d{d}-f{f}.txt")
                      for d in range(1, DEVICES) for f in range(FILES)]
            outcomes = await asyncio.wait_for(asyncio.gather(*seals), BOUND)
            took = time.monotonic() - started
            failed = [code for code, _ in outcomes if code != "ok"]
            assert not failed, f"{len(failed)} of {len(outcomes)} library saves failed: {sorted(set(failed))}"
            sealed = {root for _, root in outcomes}
            for d, c in enumerate(clients):
                library, _ = await load_library(c, records[d])
                listed = set(library.items("envelope"))
                assert sealed <= listed, f"device {d} misses {len(sealed - listed)} of {len(sealed)} files"
            # a fresh client of a device (another process, the same identity) reads them all too
            async with GatewayClient(fresh_gateway, backend, people[2]) as again:
                library, _ = await load_library(again, records[2])
                assert sealed <= set(library.items("envelope"))
            return took
        finally:
            await asyncio.gather(*(c.close() for c in clients))
    took = run(go())
    print(f"{DEVICES * FILES} seals with library saves from {DEVICES} devices in {took:.1f} s")


def test_saved_library_versions_do_not_stay_pinned(fresh_gateway, backend):
    """Every save appends a change record (an envelope, pinned); a fold releases the parts no
    pointer lists any more. So what one device keeps pinned grows with its files, not with
    how often the library was saved (a trial found 370 pins for 120 files)."""
    files = MAX_CHANGES + 13  # past one fold

    async def go():
        client = GatewayClient(fresh_gateway, backend, await create_identity(backend, "pinner", NOW))
        try:
            _, record = await create_account(client, "pinner")
            for f in range(files):
                code, _ = await _seal_and_remember(client, record, f"f{f}.txt")
                assert code == "ok", code
            return len((await client.request("GET", "/v1/pins")).json()["pins"])
        finally:
            await client.close()
    pins = run(go())
    assert pins <= files + MAX_CHANGES + 2, f"{pins} pins for {files} files: saved library versions stay pinned"
