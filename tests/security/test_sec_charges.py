"""What storage costs, and who pays for it (security issue, class 2), over a real gateway on
SQLite and on PostgreSQL: tiny blocks are charged what they cost the disk (item 8), and
what an owner unpinned stops costing it even when someone else's pin keeps the blocks, the
pinner paying instead (item 10). Each test failed on the code before the fix."""

import contextlib
import os
import time

import pytest

from meshkit_web.core import codec
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, cid_str
from meshkit_web.core.envelope import KIND, read_header, seal, sealed_size
from meshkit_web.core.errors import MeshKitError, QuotaExceededError
from meshkit_web.core.identity import create_identity
from meshkit_web.core.limits import MIN_CHARGE, charged_envelope_size
from meshkit_web.core.signing import sign_map

from support.aio import run
from support.constants import NOW
from support.flood import Gateway, collect, usage


async def published(g, backend, *names):
    people = {n: await create_identity(backend, n, NOW) for n in names}
    for identity in people.values():
        async with g.client(backend, identity) as c:
            await c.publish()
    return people


def tiny(count: int, size: int = 80) -> list[tuple[bytes, bytes]]:
    blocks = [os.urandom(size) for _ in range(count)]
    return [(cid_bytes(RAW, b), b) for b in blocks]


# --- item 8: tiny blocks cost the disk far more than they are charged ------------------------------

def test_tiny_blocks_are_charged_at_least_a_disk_block_by_put_and_by_batch(tmp_path, backend, db_url):
    g = Gateway(tmp_path / "gw", db_url)

    async def go():
        carol = (await published(g, backend, "carol"))["carol"]
        async with g.client(backend, carol) as c:
            for cid, data in tiny(40):
                await c.put_block(cid, data)
            assert (await usage(c))["stored"] == 40 * MIN_CHARGE
            await c.put_batch(tiny(100))  # 80-byte blocks pass the batch's one-short-block rule
            assert (await usage(c))["stored"] == 140 * MIN_CHARGE
            large = os.urandom(5000)
            await c.put_batch([(cid_bytes(RAW, large), large), *tiny(1, 4095)])
            assert (await usage(c))["stored"] == 140 * MIN_CHARGE + 5000 + MIN_CHARGE  # 4095 bytes: one charge
    try:
        run(go())
    finally:
        g.stop()


def test_the_quota_holds_for_tiny_blocks(tmp_path, backend, db_url):
    g = Gateway(tmp_path / "gw", db_url, storage_quota=50 * MIN_CHARGE)

    async def go():
        carol = (await published(g, backend, "carol"))["carol"]
        async with g.client(backend, carol) as c:
            with pytest.raises(QuotaExceededError):
                await c.put_batch(tiny(64))
            assert (await usage(c))["stored"] == 50 * MIN_CHARGE
            with pytest.raises(QuotaExceededError):
                await c.put_block(*tiny(1)[0])
    try:
        run(go())
    finally:
        g.stop()


async def upload(client, data: bytes, recipients: list, segment_size: int | None = None) -> int:
    """Seal and put the blocks of one envelope (no pin, no proof): what that cost in storage."""
    before = (await usage(client))["stored"]
    extra = {"segment_size": segment_size} if segment_size else {}
    blocks = seal(client.backend, [data], sender=client.identity, recipients=recipients, now=int(time.time()), **extra)

    async def numbered():
        n = 0
        async for block in blocks:
            yield n, block.cid, block.data
            n += 1
    await client.put_blocks(numbered())
    return (await usage(client))["stored"] - before


def test_the_client_estimates_by_the_gateways_rule(tmp_path, backend, db_url):
    g = Gateway(tmp_path / "gw", db_url, storage_quota=1_000_000)

    async def go():
        people = await published(g, backend, "alice", "bob", "dave")
        async with g.client(backend, people["alice"]) as alice:
            for size in (0, 100, 5000, 200_000):
                cost = await upload(alice, os.urandom(size), [people["bob"].public])
                assert cost <= charged_envelope_size(size, 2) <= cost + 3000, size  # sender and bob
        async with g.client(backend, people["dave"]) as dave:
            # room left halfway between the sealed size and what the gateway would charge for it:
            # tiny blocks (MIN_CHARGE each), then one block of the bytes still to fill
            room = (sealed_size(100, 2) + charged_envelope_size(100, 2)) // 2
            left = (1_000_000 - (await usage(dave))["stored"] - room) // MIN_CHARGE - 1
            while left:
                await dave.put_batch(tiny(min(left, 81)))
                left -= min(left, 81)
            await dave.put_block(*tiny(1, 1_000_000 - (await usage(dave))["stored"] - room)[0])
            free = 1_000_000 - (await usage(dave))["stored"]
            assert sealed_size(100, 2) < free < charged_envelope_size(100, 2)
            with pytest.raises(QuotaExceededError):  # said before any upload, by the gateway's own rule
                await dave.check_room(100, 2)
    try:
        run(go())
    finally:
        g.stop()


# --- item 10: a foreign pin keeps an owner charged ---------------------------------------------------

async def resigned(client, root: bytes) -> tuple[bytes, bytes]:
    """The owner's header re-signed by ``client``'s identity as sender: a new root linking the
    owner's segment blocks (anyone who knows a root can make one)."""
    header = await read_header(client.backend, root, client.get_block)
    obj = dict(header.raw)
    me = client.identity
    obj["sender"] = {"id": me.id, "key": me.public.sig_key}
    data = codec.encode(await sign_map(client.backend, me.sig_private, KIND, obj))
    return cid_bytes(DAG_CBOR, data), data


def test_what_an_owner_unpinned_stops_costing_it_whoever_pins_it(tmp_path, backend, db_url):
    g = Gateway(tmp_path / "gw", db_url)

    async def go():
        people = await published(g, backend, "alice", "bob", "mallory")
        async with g.client(backend, people["alice"]) as alice, g.client(backend, people["mallory"]) as mallory:
            root = await alice.seal_upload([os.urandom(300_000)], recipients=[people["bob"].public],
                                           segment_size=64 * 1024)
            owned = (await usage(alice))["stored"]
            segments = (await read_header(backend, root, alice.get_block)).segments
            copy, data = await resigned(mallory, root)
            await mallory.put_block(copy, data)
            before = (await usage(mallory))["stored"]
            await mallory.pin(copy)
            kept = (await usage(mallory))["stored"] - before
            await alice.request("DELETE", f"/v1/pins/{cid_str(root)}")
            now = int(time.time())
            await collect(g, now + g.config.gc_grace + 10)
            assert (await usage(alice))["stored"] < owned - 300_000  # only her proof is left
            assert kept >= 300_000  # the pinner pays for what it keeps
            assert all([await mallory.get_block(s) for s in segments])  # mallory's pin keeps them
            await mallory.request("DELETE", f"/v1/pins/{cid_str(copy)}")
            await collect(g, now + 2 * g.config.gc_grace + 10)
            with pytest.raises(MeshKitError):
                await mallory.get_block(segments[0])
            assert (await usage(mallory))["stored"] == 0  # its copy of the header is gone too
    try:
        run(go())
    finally:
        g.stop()


def test_a_foreign_pin_of_blocks_put_again_by_car_batch(tmp_path, backend, db_url):
    g = Gateway(tmp_path / "gw", db_url)

    async def go():
        people = await published(g, backend, "alice", "mallory")
        async with g.client(backend, people["alice"]) as alice, g.client(backend, people["mallory"]) as mallory:
            root = await alice.seal_upload([os.urandom(200_000)], recipients=[], segment_size=32 * 1024)
            owned = (await usage(alice))["stored"]
            segments = (await read_header(backend, root, alice.get_block)).segments
            await mallory.put_batch([(s, await mallory.get_block(s)) for s in segments])  # charged to mallory
            copy, data = await resigned(mallory, root)
            await mallory.put_block(copy, data)
            await mallory.pin(copy)
            await alice.request("DELETE", f"/v1/pins/{cid_str(root)}")
            await collect(g, int(time.time()) + g.config.gc_grace + 10)
            assert (await usage(alice))["stored"] < owned - 200_000
            assert (await usage(mallory))["stored"] >= 200_000
            assert [await mallory.get_block(s) for s in segments]
    try:
        run(go())
    finally:
        g.stop()


def test_a_pin_the_pinner_cannot_pay_for_is_refused(tmp_path, backend, db_url):
    g = Gateway(tmp_path / "gw", db_url, storage_quota=400_000)

    async def go():
        people = await published(g, backend, "alice", "mallory")
        async with g.client(backend, people["alice"]) as alice, g.client(backend, people["mallory"]) as mallory:
            root = await alice.seal_upload([os.urandom(300_000)], recipients=[], segment_size=64 * 1024)
            await mallory.put_batch([(cid_bytes(RAW, b), b) for b in (os.urandom(75_000) for _ in range(2))])
            copy, data = await resigned(mallory, root)
            await mallory.put_block(copy, data)
            before = (await usage(mallory))["stored"]
            with pytest.raises(QuotaExceededError):
                await mallory.pin(copy)
            assert (await usage(mallory))["stored"] == before
            assert (await mallory.request("GET", "/v1/pins")).json()["pins"] == []
    try:
        run(go())
    finally:
        g.stop()


# --- releases: what one gives up stops costing it at once, and only its own charges move ----------

def served(tmp_path, db_url, test, **config) -> None:
    """Run ``test(g)`` against a gateway of its own, then stop it."""
    g = Gateway(tmp_path / "gw", db_url, **config)
    try:
        run(test(g))
    finally:
        g.stop()


@contextlib.asynccontextmanager
async def clients(g, backend, *names):
    """A published identity and its client for each name."""
    people = await published(g, backend, *names)
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(g.client(backend, people[n])) for n in names]


async def sealed(client, size: int) -> tuple[bytes, list]:
    """An envelope ``client`` sealed to itself alone and pinned: (its root, its segments)."""
    root = await client.seal_upload([os.urandom(size)], recipients=[], segment_size=64 * 1024)
    return root, (await read_header(client.backend, root, client.get_block)).segments


def test_a_release_gives_back_only_the_callers_own_unpinned_charges(tmp_path, backend, db_url):
    async def go(g):
        async with clients(g, backend, "alice", "mallory") as (alice, mallory):
            root, segments = await sealed(alice, 300_000)
            other, _ = await sealed(alice, 100_000)
            await mallory.put_batch([(s, await mallory.get_block(s)) for s in segments])  # charged to mallory too
            owned, theirs = (await usage(alice))["stored"], (await usage(mallory))["stored"]
            kept = await alice.release_root(root)  # still pinned: its own pin keeps every block
            assert (kept["blocks"], kept["bytes"]) == (0, 0) and kept["kept"] >= len(segments) + 1
            assert (await mallory.release_root(other))["blocks"] == 0  # alice's charges are alice's
            assert (await usage(alice))["stored"] == owned
            await alice.unpin(root)
            released = await alice.release_root(root)
            assert released["blocks"] == len(segments) + 1 and released["bytes"] >= 300_000
            assert (await usage(alice))["stored"] == owned - released["bytes"]  # at once, not after the grace
            assert (await usage(mallory))["stored"] == theirs  # never another identity's charge
            assert (await alice.release_root(root))["blocks"] == 0  # twice: nothing more
            await collect(g, int(time.time()))  # the next round (no grace passed): what nobody pays for goes
            with pytest.raises(MeshKitError):
                await alice.get_block(root)  # only alice was charged for the header
            assert [await alice.get_block(s) for s in segments]  # mallory pays for the segments: kept
            assert await alice.get_block(other)  # her other envelope: pinned, untouched
            gone = await mallory.release_blocks(list(segments))
            assert gone["blocks"] == len(segments) and (await usage(mallory))["stored"] == theirs - gone["bytes"]
            await collect(g, int(time.time()))
            with pytest.raises(MeshKitError):
                await alice.get_block(segments[0])
    served(tmp_path, db_url, go)


def test_a_release_keeps_what_a_pin_reaches_and_needs_a_token(tmp_path, backend, db_url):
    """A block someone else's pin reaches is never deleted by a release: the pinner pays for it."""
    import httpx

    async def go(g):
        async with clients(g, backend, "alice", "mallory") as (alice, mallory):
            root, segments = await sealed(alice, 200_000)
            copy, data = await resigned(mallory, root)
            await mallory.put_block(copy, data)
            await mallory.pin(copy)  # charged for every block its pin keeps
            await alice.unpin(root)
            assert (await alice.release_root(root))["blocks"] == len(segments) + 1
            await collect(g, int(time.time()))
            assert [await mallory.get_block(s) for s in segments]  # mallory's pin keeps them
            async with httpx.AsyncClient() as http:
                refused = await http.post(f"{g.url}/v1/release/{cid_str(root)}")
                assert refused.status_code == 401
    served(tmp_path, db_url, go)


def test_an_upload_refused_for_quota_stops_counting_at_once(tmp_path, backend, db_url):
    """Refused at its pin (the pin quota) or half way (the storage quota): what landed is
    given back by the client right away, not held against the quota for the grace."""
    async def go(g):
        async with clients(g, backend, "alice") as (alice,):
            with pytest.raises(QuotaExceededError):  # every block landed, then the pin was refused
                await sealed(alice, 300_000)
            assert (await usage(alice))["stored"] == 0
            with pytest.raises(QuotaExceededError):  # refused half way: the storage quota
                await alice.seal_upload([os.urandom(900_000)], recipients=[], segment_size=64 * 1024, pin=False)
            assert (await usage(alice))["stored"] == 0
            await sealed(alice, 100_000)  # room for this one
    served(tmp_path, db_url, go, pin_quota=200_000, storage_quota=700_000)
