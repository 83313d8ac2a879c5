"""Whole-file opens read one streamed CAR (GET /ipfs/{root}?format=car&dag-scope=all) instead
of a request per block (clients/streamed_read.py); ranges read only their own blocks. The
gateway is trusted with nothing more: a CAR that lies fails closed exactly as a raw block
that lies, and a CAR that breaks off, comes out of order, is refused or is malformed makes
the read go on block by block, byte-exact."""

import asyncio
import hashlib
import os
import time

import pytest

from meshkit_web.clients import streamed_read
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import car, errors
from meshkit_web.core.identity import create_identity
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider

from support.aio import run
from support.constants import NOW
from support.servers import ServerThread

SEGMENT = 64 * 1024
STALL_S = 4.0
DATA = os.urandom(40 * SEGMENT + 123)  # 41 segments


class Wire:
    """ASGI wrapper: counts requests by kind and rewrites CAR replies with ``car_fault``
    (a function of the whole CAR body), so faults reach the client through a real server."""

    def __init__(self, app):
        self.app = app
        self.car_fault = None
        self.reset()

    def reset(self):
        self.raw, self.cars = [], []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith("/ipfs/"):
            return await self.app(scope, receive, send)
        query = scope["query_string"].decode()
        if "format=car" in query:
            self.cars.append(scope["path"])
        elif "format=raw" in query:
            self.raw.append(scope["path"])
        if "format=car" not in query or self.car_fault is None:
            return await self.app(scope, receive, send)
        held = []

        async def hold(message):
            held.append(message)
        await self.app(scope, receive, hold)
        body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        start = next(m for m in held if m["type"] == "http.response.start")
        await send(start)
        for piece in self.car_fault(body):
            if piece is None:  # a gateway that goes silent (bounded: the server must stop)
                await asyncio.sleep(STALL_S)
                continue
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@pytest.fixture(scope="module")
def world(tmp_path_factory, backend):
    base = tmp_path_factory.mktemp("streamed")
    config = GatewayConfig(data_dir=str(base / "data"))
    wire = Wire(create_app(config, EmbeddedProvider(str(base / "data" / "blockstore"))))
    server = ServerThread(wire).start()

    async def setup():
        people = {n: await create_identity(backend, n, NOW) for n in ("alice", "bob")}
        for person in people.values():
            async with GatewayClient(server.url, backend, person) as c:
                await c.publish()
        async with GatewayClient(server.url, backend, people["alice"]) as alice:
            root = await alice.seal_upload([DATA], recipients=[people["bob"].public], segment_size=SEGMENT)
        return people, root
    people, root = run(setup())
    yield {"url": server.url, "wire": wire, "people": people, "root": root, "backend": backend}
    server.stop()


@pytest.fixture
def wire(world):
    world["wire"].reset()
    world["wire"].car_fault = None
    yield world["wire"]
    world["wire"].car_fault = None


def open_as_bob(world, start=0, end=None) -> bytes:
    async def go():
        async with GatewayClient(world["url"], world["backend"], world["people"]["bob"]) as bob:
            opened = await bob.open(world["root"])
            return b"".join([chunk async for chunk in opened.plaintext(start, end)])
    return run(go())


def frames(body: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A CAR body as (its header bytes, [(cid, data)])."""
    header_len, pos = car.decode_varint(body)
    header, pos = body[:pos + header_len], pos + header_len
    out = []
    while pos < len(body):
        frame_len, pos = car.decode_varint(body, pos)
        cid_len = car.split_frame_cid(body[pos:pos + 40])
        out.append((body[pos:pos + cid_len], body[pos + cid_len:pos + frame_len]))
        pos += frame_len
    return header, out


def assemble(header: bytes, items) -> bytes:
    return header + b"".join(car.frame_prefix(cid, len(data)) + data for cid, data in items)


def test_a_whole_open_is_one_car_request_not_one_per_block(world, wire):
    assert open_as_bob(world) == DATA
    assert len(wire.cars) == 1
    assert len(wire.raw) == 1, wire.raw  # the header, read (and checked) before the key is unwrapped


def test_a_range_reads_only_its_blocks_and_no_car(world, wire):
    start, end = 5 * SEGMENT + 7, 7 * SEGMENT + 3
    assert open_as_bob(world, start, end) == DATA[start:end]
    assert wire.cars == []
    assert len(wire.raw) == 1 + 3  # the header and the three segments holding the range


def test_the_streamed_read_is_used_by_the_cli_path_too(world, wire, tmp_path):
    """GatewayClient.open is what the CLI, the page and the worker call: the same CAR read."""
    async def go():
        async with GatewayClient(world["url"], world["backend"], world["people"]["bob"]) as bob:
            opened = await bob.open(world["root"])
            digest = hashlib.sha256()
            async for chunk in opened.plaintext():
                digest.update(chunk)
            return digest.hexdigest()
    assert run(go()) == hashlib.sha256(DATA).hexdigest()
    assert len(wire.cars) == 1


def flip_in_segment(number):
    def fault(body):
        header, items = frames(body)
        cid, data = items[number]
        items[number] = (cid, data[:10] + bytes([data[10] ^ 1]) + data[11:])
        return [assemble(header, items)]
    return fault


def test_a_tampered_block_in_the_car_fails_closed_with_nothing_after_it(world, wire):
    wire.car_fault = flip_in_segment(4)  # frame 0 is the header, so the 4th segment (index 3)

    async def go():
        got = bytearray()
        async with GatewayClient(world["url"], world["backend"], world["people"]["bob"]) as bob:
            opened = await bob.open(world["root"])
            with pytest.raises(errors.CIDMismatchError):
                async for chunk in opened.plaintext():
                    got += chunk
        return bytes(got)
    got = run(go())
    assert got == DATA[:len(got)] and len(got) <= 3 * SEGMENT


def test_a_car_claiming_another_root_is_not_read(world, wire):
    other = car.encode_header([bytes.fromhex("01551220") + bytes(32)])

    def fault(body):
        header, items = frames(body)
        return [assemble(other, items)]
    wire.car_fault = fault
    assert open_as_bob(world) == DATA
    assert len(wire.raw) == 1 + 41


@pytest.mark.parametrize("fault", ["cut-mid-frame", "reordered", "unrelated-blocks", "garbage", "empty"])
def test_a_car_that_misbehaves_makes_the_read_go_on_block_by_block(world, wire, fault):
    def misbehave(body):
        header, items = frames(body)
        if fault == "cut-mid-frame":  # a connection that breaks off
            whole = assemble(header, items)
            return [whole[:len(whole) // 2]]
        if fault == "reordered":
            return [assemble(header, items[:1] + list(reversed(items[1:])))]
        if fault == "unrelated-blocks":  # a flood of blocks nobody asked for: at most READ_AHEAD kept
            junk = [(car_cid(os.urandom(100)), os.urandom(100)) for _ in range(200)]
            return [assemble(header, items[:1] + junk + items[1:])]
        if fault == "garbage":
            return [header + os.urandom(5000)]
        return [b""]
    wire.car_fault = misbehave
    assert open_as_bob(world) == DATA
    assert len(wire.cars) == 1


def car_cid(data):
    from meshkit_web.core.cid import RAW, cid_bytes
    return cid_bytes(RAW, data)


def test_the_blocks_held_ahead_stay_bounded(world, wire, monkeypatch):
    """Whatever the stream sends, at most READ_AHEAD blocks wait in memory."""
    peak = []
    real_call = streamed_read.StreamedRead.__call__

    async def watched(self, cid):
        peak.append(len(self._held))
        return await real_call(self, cid)
    monkeypatch.setattr(streamed_read.StreamedRead, "__call__", watched)
    wire.car_fault = lambda body: [assemble(frames(body)[0], list(reversed(frames(body)[1])))]
    assert open_as_bob(world) == DATA
    assert max(peak) <= streamed_read.READ_AHEAD


def test_a_gateway_without_car_reads_still_opens(world, wire):
    class Old(GatewayClient):
        async def stream_get(self, path, *, accept):
            reply = await super().stream_get(path.replace("format=car", "format=nonsense"), accept=accept)
            return reply  # a 400: the read goes on block by block

    async def go():
        async with Old(world["url"], world["backend"], world["people"]["bob"]) as bob:
            opened = await bob.open(world["root"])
            return b"".join([chunk async for chunk in opened.plaintext()])
    assert run(go()) == DATA
    assert len(wire.raw) == 1 + 41 and wire.cars == []


def test_a_tree_form_envelope_streams_its_index_blocks_too(world, wire):
    """Past 4096 segments the header links index blocks (FORMAT.md 3.5); the CAR brings
    them between the segments (depth first) and the read still makes one CAR request."""
    data = os.urandom(4100 * 64 - 5)

    async def go():
        people = world["people"]
        async with GatewayClient(world["url"], world["backend"], people["alice"]) as alice:
            root = await alice.seal_upload([data], recipients=[people["bob"].public], segment_size=64)
        wire.reset()
        async with GatewayClient(world["url"], world["backend"], people["bob"]) as bob:
            opened = await bob.open(root)
            assert len(opened.header.index) == 2
            return b"".join([chunk async for chunk in opened.plaintext()])
    assert run(go()) == data
    assert len(wire.cars) == 1
    assert len(wire.raw) == 1 + 2  # the header and the two index blocks, read on their own


def test_a_gateway_that_goes_silent_mid_car_is_left_after_the_timeout(world, wire):
    """Headers and a few frames, then silence: the read gives the stream up after the
    client's timeout and goes on block by block (never waits for ever)."""
    def stall(body):
        return [body[:len(body) // 3], None]
    wire.car_fault = stall

    async def go():
        async with GatewayClient(world["url"], world["backend"], world["people"]["bob"], timeout=1.0) as bob:
            opened = await bob.open(world["root"])
            return b"".join([chunk async for chunk in opened.plaintext()])
    started = time.monotonic()
    assert run(go()) == DATA
    assert time.monotonic() - started < STALL_S - 1  # left after ~1 s, not after the stall
    assert len(wire.cars) == 1 and len(wire.raw) > 1


def test_a_paused_read_lets_go_of_its_connection(world, wire, monkeypatch):
    """A read paused longer than IDLE_CLOSE_S (a paused player) closes its stream; when it
    goes on, the rest comes block by block, byte-exact."""
    monkeypatch.setattr(streamed_read, "IDLE_CLOSE_S", 0.3)

    async def go():
        async with GatewayClient(world["url"], world["backend"], world["people"]["bob"]) as bob:
            opened = await bob.open(world["root"])
            reader = opened.plaintext()
            got = [await reader.__anext__() for _ in range(3)]
            raw_before = len(wire.raw)
            await asyncio.sleep(1.0)
            got += [chunk async for chunk in reader]
            return b"".join(got), raw_before
    data, raw_before = run(go())
    assert data == DATA
    assert len(wire.cars) == 1
    assert len(wire.raw) > raw_before  # after the pause: block by block


def test_a_steady_read_longer_than_the_idle_limit_keeps_its_stream(world, wire, monkeypatch):
    """Only a pause closes the stream: a read that keeps asking, for longer than IDLE_CLOSE_S
    in all, stays one CAR (a timer per call once closed it ~10 s into any long read)."""
    monkeypatch.setattr(streamed_read, "IDLE_CLOSE_S", 0.3)

    async def go():
        async with GatewayClient(world["url"], world["backend"], world["people"]["bob"]) as bob:
            opened = await bob.open(world["root"])
            got = []
            async for chunk in opened.plaintext():
                got.append(chunk)
                await asyncio.sleep(0.05)  # 41 segments: ~2 s in all, never 0.3 s quiet
            return b"".join(got)
    assert run(go()) == DATA
    assert len(wire.cars) == 1
    assert len(wire.raw) == 1, wire.raw  # the header only: no segment fetched on its own
