"""The segment index (FORMAT.md 3.5): past INLINE_SEGMENTS segments the header links index
blocks instead of segments. A 64-byte segment size makes the tree appear at 256 KiB, so
these are ordinary tests of the form a file of more than 4 GiB takes."""

import os

import pytest

from meshkit_web.core import codec, errors
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, codec_of, to_link
from meshkit_web.core.envelope import (INDEX_FANOUT, INDEX_KIND, INLINE_SEGMENTS, KIND, MIN_SEGMENT_SIZE,
                                       index_block_count, open_envelope, parse_header, seal)
from meshkit_web.core.signing import sign_map

from support.aio import run
from support.constants import NOW
from support.envelopes import flip, open_all

SEG = MIN_SEGMENT_SIZE


def sealed(backend, people, segments: int, tail: int = 5, **kw):
    data = os.urandom((segments - 1) * SEG + tail)

    async def go():
        return [b async for b in seal(backend, [data], sender=people["alice"], recipients=[people["bob"].public],
                                      now=NOW, segment_size=SEG, **kw)]
    blocks = run(go())
    return data, blocks[-1].cid, {b.cid: b.data for b in blocks}, blocks


def test_inline_up_to_the_threshold_then_an_index(backend, people):
    assert INLINE_SEGMENTS == INDEX_FANOUT == 4096
    _, root, store, blocks = sealed(backend, people, INLINE_SEGMENTS)
    header = parse_header(root, store[root])
    assert len(header.segments) == INLINE_SEGMENTS and header.index == () and "index" not in header.raw
    assert all(codec_of(b.cid) == RAW for b in blocks[:-1])

    _, root, store, blocks = sealed(backend, people, INLINE_SEGMENTS + 1)
    header = parse_header(root, store[root])
    assert header.segments == () and "segments" not in header.raw and len(header.index) == 2
    index_blocks = [b for b in blocks[:-1] if codec_of(b.cid) == DAG_CBOR]
    assert [b.cid for b in index_blocks] == list(header.index)
    first, last = (codec.decode_map(b.data, "index") for b in index_blocks)
    assert first["meshkit"] == INDEX_KIND and first["v"] == 1
    assert [len(first["segments"]), len(last["segments"])] == [INDEX_FANOUT, 1]
    # emitted as the spec says: a full index block after the segment that follows its span
    # (only that one shows the header cannot list them all), the last one before the header
    order = [b.cid for b in blocks]
    assert order.index(index_blocks[0].cid) == INDEX_FANOUT + 1
    assert order[-2] == index_blocks[1].cid


@pytest.mark.parametrize("segments", [INLINE_SEGMENTS + 1, 2 * INDEX_FANOUT, 2 * INDEX_FANOUT + 3])
def test_tree_form_round_trips(backend, people, segments):
    data, root, store, _ = sealed(backend, people, segments, tail=SEG if segments % 2 == 0 else 7)
    header = parse_header(root, store[root])
    assert len(header.index) == index_block_count(header.count) == -(-segments // INDEX_FANOUT)
    assert run(open_all(backend, root, store, people["bob"])) == data


def test_a_range_fetches_only_its_index_block_and_segments(backend, people):
    data, root, store, _ = sealed(backend, people, 3 * INDEX_FANOUT + 10)
    header = parse_header(root, store[root])
    fetched = []

    async def get(cid):
        fetched.append(cid)
        return store[cid]

    async def go():
        opened = await open_envelope(backend, root, get, people["bob"])
        fetched.clear()
        start = (2 * INDEX_FANOUT + 5) * SEG + 3  # inside the third index block's span
        got = b"".join([c async for c in opened.plaintext(start, start + 2 * SEG)])
        return start, got
    start, got = run(go())
    assert got == data[start:start + 2 * SEG]
    assert fetched.count(header.index[2]) == 1
    assert not {header.index[0], header.index[1], header.index[3]} & set(fetched)
    assert len([c for c in fetched if codec_of(c) == RAW]) == 3


def _resign(backend, people, root, store, mutate):
    obj = dict(parse_header(root, store[root]).raw)
    del obj["sig"]
    mutate(obj)
    data = codec.encode(run(sign_map(backend, people["alice"].sig_private, KIND, obj)))
    new_root = cid_bytes(DAG_CBOR, data)
    return new_root, {**store, new_root: data}


def _index_block(links) -> tuple[bytes, bytes]:
    data = codec.encode({"meshkit": INDEX_KIND, "v": 1, "segments": [to_link(c) for c in links]})
    return cid_bytes(DAG_CBOR, data), data


def test_a_tampered_or_missing_index_block_fails_closed(backend, people):
    data, root, store, _ = sealed(backend, people, INDEX_FANOUT + 40)
    header = parse_header(root, store[root])
    tampered = dict(store)
    tampered[header.index[1]] = flip(store[header.index[1]], -1)
    with pytest.raises(errors.CIDMismatchError) as caught:
        run(open_all(backend, root, tampered, people["bob"]))
    assert len(b"".join(caught.value.received)) == INDEX_FANOUT * SEG  # only the first block's span
    missing = {k: v for k, v in store.items() if k != header.index[0]}
    with pytest.raises(errors.MissingBlockError) as caught:
        run(open_all(backend, root, missing, people["bob"]))
    assert caught.value.received == []


def _old_links(store, header) -> list:
    return [link for cid in header.index for link in codec.decode_map(store[cid], "index")["segments"]]


@pytest.mark.parametrize("case", ["both-fields", "inline-past-threshold", "index-too-short", "index-link-raw",
                                  "index-for-a-small-file"])
def test_header_index_shape_is_checked(backend, people, case):
    _, root, store, _ = sealed(backend, people, INDEX_FANOUT + 2)
    header = parse_header(root, store[root])
    _, small_root, small_store, _ = sealed(backend, people, 3)
    small = parse_header(small_root, small_store[small_root])

    def mutate(obj):
        if case == "both-fields":
            obj["segments"] = _old_links(store, header)
        elif case == "inline-past-threshold":
            obj["segments"] = _old_links(store, header)
            del obj["index"]
        elif case == "index-too-short":
            obj["index"] = obj["index"][:1]
        elif case == "index-link-raw":
            obj["index"] = [to_link(cid_bytes(RAW, b"x"))] + obj["index"][1:]
    if case == "index-for-a-small-file":
        cid, data = _index_block(small.segments)
        new_root, new_store = _resign(backend, people, small_root, {**small_store, cid: data},
                                      lambda obj: (obj.pop("segments"), obj.__setitem__("index", [to_link(cid)])))
    else:
        new_root, new_store = _resign(backend, people, root, store, mutate)
    with pytest.raises(errors.EnvelopeFormatError):
        run(open_all(backend, new_root, new_store, people["bob"]))


@pytest.mark.parametrize("case", ["one-link-short", "one-link-extra", "wrong-kind", "extra-key", "link-to-cbor"])
def test_an_index_block_of_the_wrong_shape_is_malformed(backend, people, case):
    """A sender (or a recipient re-packaging) who signs a header over a bad index block:
    CID-valid, so only the index block's own checks catch it."""
    _, root, store, _ = sealed(backend, people, INDEX_FANOUT + 20)
    header = parse_header(root, store[root])
    links = codec.decode_map(store[header.index[0]], "index")["segments"]
    obj = {"meshkit": INDEX_KIND, "v": 1, "segments": list(links)}
    if case == "one-link-short":
        obj["segments"] = obj["segments"][:-1]
    elif case == "one-link-extra":
        obj["segments"] = obj["segments"] + obj["segments"][:1]
    elif case == "wrong-kind":
        obj["meshkit"] = KIND
    elif case == "extra-key":
        obj["note"] = "x"
    elif case == "link-to-cbor":
        obj["segments"] = [to_link(header.index[1])] + obj["segments"][1:]
    data = codec.encode(obj)
    cid = cid_bytes(DAG_CBOR, data)
    new_root, new_store = _resign(backend, people, root, {**store, cid: data},
                                  lambda o: o.__setitem__("index", [to_link(cid)] + o["index"][1:]))
    with pytest.raises(errors.EnvelopeFormatError) as caught:
        run(open_all(backend, new_root, new_store, people["bob"]))
    assert caught.value.received == []


def test_a_read_left_early_does_not_spoil_the_next_one(backend, people):
    """A consumer that stops while the next segment's index block is still on its way (a
    player seeking away) must leave the opened envelope usable: the next range reads it."""
    import asyncio
    data, root, store, _ = sealed(backend, people, 2 * INDEX_FANOUT + 9)
    header = parse_header(root, store[root])

    async def get(cid):
        if cid == header.index[1]:
            await asyncio.sleep(0.05)  # the second index block is slow to arrive
        return store[cid]

    async def go():
        opened = await open_envelope(backend, root, get, people["bob"])
        start = (INDEX_FANOUT - 1) * SEG
        reading = opened.plaintext(start, start + 2 * SEG)
        first = await reading.__anext__()  # segment 4095; 4096 is being fetched meanwhile
        await reading.aclose()
        again = b"".join([c async for c in opened.plaintext(start + SEG, start + 2 * SEG)])
        return first, again
    first, again = run(go())
    start = (INDEX_FANOUT - 1) * SEG
    assert first == data[start:start + SEG] and again == data[start + SEG:start + 2 * SEG]
