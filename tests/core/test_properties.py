"""Property tests (hypothesis) for the envelope codec and the CAR codec."""

import io

from hypothesis import HealthCheck, given, settings, strategies as st

from meshkit_web.core import car, errors
from meshkit_web.core.cid import RAW, cid_bytes
from meshkit_web.core.envelope import open_envelope, parse_header, seal

from support.aio import run
from support.constants import NOW
from support.envelopes import getter

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def seal_blocks(backend, people, chunks, segment_size):
    async def go():
        return [b async for b in seal(backend, chunks, sender=people["alice"], recipients=[people["bob"].public],
                                      now=NOW, segment_size=segment_size)]
    return run(go())


@SETTINGS
@given(chunks=st.lists(st.binary(max_size=700), max_size=12), segment_size=st.integers(64, 512))
def test_any_chunking_round_trips(backend, people, chunks, segment_size):
    blocks = seal_blocks(backend, people, chunks, segment_size)
    store = {b.cid: b.data for b in blocks}
    header = parse_header(blocks[-1].cid, blocks[-1].data)
    assert header.size == sum(map(len, chunks)) and header.segment_size == segment_size

    async def go():
        opened = await open_envelope(backend, blocks[-1].cid, getter(store), people["bob"])
        out = [c async for c in opened.plaintext()]
        assert all(len(c) == segment_size for c in out[:-1])
        return b"".join(out)
    assert run(go()) == b"".join(chunks)


@SETTINGS
@given(data=st.binary(min_size=1, max_size=2000), position=st.integers(0, 10 ** 6), bit=st.integers(0, 7))
def test_any_single_bit_flip_fails_closed(backend, people, data, position, bit):
    blocks = seal_blocks(backend, people, [data], 256)
    store = {b.cid: b.data for b in blocks}
    target = blocks[position % len(blocks)]
    index = position % len(target.data)
    store[target.cid] = target.data[:index] + bytes([target.data[index] ^ (1 << bit)]) + target.data[index + 1:]

    async def go():
        opened = await open_envelope(backend, blocks[-1].cid, getter(store), people["bob"])
        return b"".join([c async for c in opened.plaintext()])
    try:
        run(go())
    except errors.CIDMismatchError:
        return
    raise AssertionError("a flipped bit was not detected")


@SETTINGS
@given(st.binary(max_size=4000))
def test_header_parser_never_crashes_on_garbage(data):
    try:
        parse_header(cid_bytes(0x71, data), data)
    except errors.MeshKitError:
        pass


@SETTINGS
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=8))
def test_car_framing_round_trips(blocks):
    cids = [cid_bytes(RAW, b) for b in blocks]
    written = car.encode([cids[0]], zip(cids, blocks))

    async def streamed():
        async def each():
            for pair in zip(cids, blocks):
                yield pair
        return b"".join([part async for part in car.encode_stream([cids[0]], each())])
    assert run(streamed()) == written
    stream = io.BytesIO(written)
    body = stream.read(car.read_varint(stream.read))
    assert car.decode_header(body) == [cids[0]]
    for cid, block in zip(cids, blocks):
        length = car.read_varint(stream.read)
        frame = stream.read(length)
        assert car.split_frame_cid(frame) == 36 and frame[:36] == cid and frame[36:] == block
    assert car.read_varint(stream.read) is None
