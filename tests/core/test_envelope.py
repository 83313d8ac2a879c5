"""Envelope round trips, recipients, and the tamper matrix (each case -> its typed error,
and no plaintext from the bad block onward)."""

import os

import pytest

from meshkit_web.core import codec, errors
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, to_link
from meshkit_web.core.envelope import (DEFAULT_SEGMENT_SIZE, KIND, parse_header, read_header, seal,
                                       unwrap_content_key, wrap_content_key, derive_keys)
from meshkit_web.core.signing import sign_map

from support.aio import run
from support.constants import NOW
from support.envelopes import flip, getter, open_all, seal_to_blocks

SEG = 1024


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 10 * SEG + 7])
def test_round_trip_sizes(backend, people, size):
    data = os.urandom(size)

    async def go():
        root, store, blocks = await seal_to_blocks(backend, data, people["alice"], [people["bob"].public])
        assert len(blocks) - 1 == max(1, -(-size // SEG))  # segments + header
        assert await open_all(backend, root, store, people["bob"]) == data
        assert await open_all(backend, root, store, people["alice"]) == data  # sender is a recipient
    run(go())


def test_default_segment_size_and_arbitrary_chunking(backend, people):
    data = os.urandom(3 * DEFAULT_SEGMENT_SIZE + 12345)
    chunks = [data[i:i + 77777] for i in range(0, len(data), 77777)]  # chunks unrelated to segments

    async def go():
        blocks = [b async for b in seal(backend, chunks, sender=people["alice"],
                                        recipients=[people["bob"].public], now=NOW)]
        # FORMAT.md 3.3: a full sealed segment of the default size is exactly a 1 MiB block
        assert [len(b.data) for b in blocks[:-1]] == [1 << 20] * 3 + [12345 + 16]
        store = {b.cid: b.data for b in blocks}
        assert await open_all(backend, blocks[-1].cid, store, people["bob"]) == data
    run(go())


def test_multiple_recipients_and_non_recipient(backend, people):
    data = os.urandom(5000)

    async def go():
        root, store, _ = await seal_to_blocks(backend, data, people["alice"],
                                              [people["bob"].public, people["dave"].public])
        for name in ("alice", "bob", "dave"):
            assert await open_all(backend, root, store, people[name]) == data
        with pytest.raises(errors.NotARecipientError):
            await open_all(backend, root, store, people["carol"])
    run(go())


def test_no_self_excludes_sender(backend, people):
    async def go():
        root, store, _ = await seal_to_blocks(backend, b"x", people["alice"], [people["bob"].public],
                                              include_sender=False)
        with pytest.raises(errors.NotARecipientError):
            await open_all(backend, root, store, people["alice"])
    run(go())


def test_same_plaintext_gives_different_envelopes(backend, people):
    async def go():
        a = await seal_to_blocks(backend, b"same", people["alice"], [people["bob"].public])
        b = await seal_to_blocks(backend, b"same", people["alice"], [people["bob"].public])
        assert a[0] != b[0]
    run(go())


# --- tamper matrix -----------------------------------------------------------------------------

DATA = bytes(range(256)) * 20  # 5120 bytes = 5 segments of 1024; distinct per segment position


def sealed(backend, people):
    return run(seal_to_blocks(backend, DATA, people["alice"], [people["bob"].public, people["dave"].public]))


def expect_failure(backend, root, store, identity, error):
    with pytest.raises(error) as info:
        run(open_all(backend, root, store, identity))
    return getattr(info.value, "received", [])


@pytest.mark.parametrize("position", [0, 2, 4])
def test_flipped_bit_in_segment(backend, people, position):
    root, store, blocks = sealed(backend, people)
    victim = blocks[position].cid
    store[victim] = flip(store[victim], 100)
    received = expect_failure(backend, root, store, people["bob"], errors.CIDMismatchError)
    assert b"".join(received) == DATA[:position * SEG]  # nothing from the bad block onward


@pytest.mark.parametrize("where", [0, 40, -1])
def test_flipped_bit_in_header(backend, people, where):
    root, store, _ = sealed(backend, people)
    store[root] = flip(store[root], where % len(store[root]))
    assert expect_failure(backend, root, store, people["bob"], errors.CIDMismatchError) == []


def test_swapped_segment_bytes(backend, people):
    root, store, blocks = sealed(backend, people)
    a, b = blocks[1].cid, blocks[2].cid
    store[a], store[b] = store[b], store[a]
    received = expect_failure(backend, root, store, people["bob"], errors.CIDMismatchError)
    assert b"".join(received) == DATA[:SEG]


def test_missing_last_segment_block(backend, people):
    root, store, blocks = sealed(backend, people)
    del store[blocks[-2].cid]
    received = expect_failure(backend, root, store, people["bob"], errors.MissingBlockError)
    assert b"".join(received) == DATA[:4 * SEG]


def test_truncated_header(backend, people):
    root, store, _ = sealed(backend, people)
    store[root] = store[root][:-10]
    expect_failure(backend, root, store, people["bob"], errors.CIDMismatchError)
    # and served under its own (matching) CID, the truncated bytes do not parse
    truncated = store[root]
    with pytest.raises(errors.EnvelopeFormatError):
        parse_header(cid_bytes(DAG_CBOR, truncated), truncated)


def test_replaced_header(backend, people):
    root, store, _ = sealed(backend, people)
    other_root, other_store, _ = run(seal_to_blocks(backend, b"other", people["alice"], [people["bob"].public]))
    store[root] = other_store[other_root]
    expect_failure(backend, root, store, people["bob"], errors.CIDMismatchError)


def test_wrong_cid(backend, people):
    root, store, blocks = sealed(backend, people)
    # asking for a segment's CID as if it were the root: not a DAG-CBOR header
    expect_failure(backend, blocks[0].cid, store, people["bob"], errors.EnvelopeFormatError)
    # a CID nobody stored
    expect_failure(backend, cid_bytes(DAG_CBOR, b"nothing"), store, people["bob"], errors.MissingBlockError)


def test_header_modified_without_resigning(backend, people):
    root, store, _ = sealed(backend, people)
    obj = dict(parse_header(root, store[root]).raw)
    obj["created"] = obj["created"] + 1
    data = codec.encode(obj)
    new_root = cid_bytes(DAG_CBOR, data)
    store[new_root] = data
    expect_failure(backend, new_root, store, people["bob"], errors.SignatureError)


def test_sender_key_swapped_under_same_id(backend, people):
    root, store, _ = sealed(backend, people)
    obj = dict(parse_header(root, store[root]).raw)
    obj["sender"] = {"id": people["alice"].id, "key": people["carol"].public.sig_key}
    signed = run(sign_map(backend, people["carol"].sig_private, KIND, obj))
    data = codec.encode(signed)
    new_root = cid_bytes(DAG_CBOR, data)
    store[new_root] = data
    expect_failure(backend, new_root, store, people["bob"], errors.IdentityMismatchError)


def forge(backend, people, store, root, mutate):
    """A malicious recipient (bob) re-signs a header with changed segments and wraps the content
    key to carol: the signature is valid, so only the segment nonces can catch it."""
    async def go():
        header = await read_header(backend, root, getter(store))
        content_key = await unwrap_content_key(backend, people["bob"], header.recipient_entry(people["bob"].id),
                                               header.commitment)
        wrapped = await wrap_content_key(backend, content_key, header.commitment, people["carol"].public)
        obj = dict(header.raw)
        obj["segments"] = [to_link(c) for c in mutate(list(header.segments))]
        obj["size"] = min(header.size, len(obj["segments"]) * header.segment_size)
        obj["recipients"] = [wrapped.to_map()]
        obj["sender"] = {"id": people["bob"].id, "key": people["bob"].public.sig_key}
        data = codec.encode(await sign_map(backend, people["bob"].sig_private, KIND, obj))
        new_root = cid_bytes(DAG_CBOR, data)
        store[new_root] = data
        return new_root
    return run(go())


def test_reordered_segments_in_resigned_header(backend, people):
    root, store, _ = sealed(backend, people)
    new_root = forge(backend, people, store, root, lambda s: [s[0], s[2], s[1], s[3], s[4]])
    received = expect_failure(backend, new_root, store, people["carol"], errors.SegmentAuthenticationError)
    assert b"".join(received) == DATA[:SEG]


def test_dropped_last_segment_in_resigned_header(backend, people):
    root, store, _ = sealed(backend, people)
    new_root = forge(backend, people, store, root, lambda s: s[:-1])
    received = expect_failure(backend, new_root, store, people["carol"], errors.TruncatedEnvelopeError)
    assert b"".join(received) == DATA[:3 * SEG]


def test_early_final_segment_in_resigned_header(backend, people):
    """The final segment moved forward: a 'last' segment followed by more data is refused."""
    root, store, _ = sealed(backend, people)
    new_root = forge(backend, people, store, root, lambda s: [s[0], s[4], s[2], s[3], s[1]])
    received = expect_failure(backend, new_root, store, people["carol"], errors.SegmentAuthenticationError)
    assert b"".join(received) == DATA[:SEG]


def test_key_commitment_stops_per_recipient_keys(backend, people):
    """A malicious sender wraps a different content key to one recipient: that open fails closed."""
    async def go():
        root, store, _ = await seal_to_blocks(backend, DATA, people["alice"], [people["bob"].public])
        header = await read_header(backend, root, getter(store))
        evil = await wrap_content_key(backend, os.urandom(32), header.commitment, people["dave"].public)
        obj = dict(header.raw)
        obj["recipients"] = list(obj["recipients"]) + [evil.to_map()]
        data = codec.encode(await sign_map(backend, people["alice"].sig_private, KIND, obj))
        new_root = cid_bytes(DAG_CBOR, data)
        store[new_root] = data
        assert await open_all(backend, new_root, store, people["bob"]) == DATA
        with pytest.raises(errors.KeyUnwrapError):
            await open_all(backend, new_root, store, people["dave"])
    run(go())


def test_unsupported_version(backend, people):
    root, store, _ = sealed(backend, people)
    obj = dict(parse_header(root, store[root]).raw)
    obj["v"] = 2
    data = codec.encode(run(sign_map(backend, people["alice"].sig_private, KIND, obj)))
    new_root = cid_bytes(DAG_CBOR, data)
    store[new_root] = data
    expect_failure(backend, new_root, store, people["bob"], errors.UnsupportedVersionError)


def test_wrong_length_segment_is_refused_before_decryption(backend, people):
    """A header whose size disagrees with a block's length: refused on length, not via AES-GCM."""
    root, store, _ = run(seal_to_blocks(backend, DATA[:5000], people["alice"], [people["bob"].public]))
    # the short final segment (904 bytes) where the forged size says a full one must be
    new_root = forge(backend, people, store, root, lambda s: [s[0], s[1], s[2], s[4]])
    received = expect_failure(backend, new_root, store, people["carol"], errors.TruncatedEnvelopeError)
    assert b"".join(received) == DATA[:3 * SEG]


def test_derive_keys_are_distinct():
    payload, commitment = derive_keys(b"\x00" * 32)
    assert payload != commitment and len(payload) == len(commitment) == 32


def test_byte_ranges_read_only_the_segments_they_need(backend, people):
    """FORMAT.md 4, byte ranges: every range equals the plaintext's slice, fetches only its
    segments, and a tampered segment inside a range still fails closed."""
    import random
    from meshkit_web.core.envelope import open_envelope
    data = os.urandom(10 * SEG + 7)

    async def go():
        root, store, blocks = await seal_to_blocks(backend, data, people["alice"], [people["bob"].public])
        fetched = []
        get = getter(store)

        async def counting(cid):
            fetched.append(cid)
            return await get(cid)
        opened = await open_envelope(backend, root, counting, people["bob"])
        rng = random.Random(7)
        edges = [(0, len(data)), (0, 0), (len(data), len(data)), (SEG - 1, SEG + 1), (SEG, 2 * SEG), (10 * SEG, len(data))]
        for start, end in edges + [tuple(sorted(rng.randrange(len(data) + 1) for _ in range(2))) for _ in range(40)]:
            fetched.clear()
            got = b"".join([chunk async for chunk in opened.plaintext(start, end)])
            assert got == data[start:end], (start, end)
            wanted = {blocks[i].cid for i in opened.segments_for(start, end)}
            assert set(fetched) == wanted and len(wanted) <= (end - start) // SEG + 2
        for bad in ((-1, 3), (5, 4), (0, len(data) + 1)):
            with pytest.raises(ValueError):
                [chunk async for chunk in opened.plaintext(*bad)]
        store[blocks[3].cid] = flip(store[blocks[3].cid], 5)  # tampered: inside the range, refused
        with pytest.raises(errors.CIDMismatchError):
            [chunk async for chunk in opened.plaintext(3 * SEG + 10, 3 * SEG + 20)]
        assert b"".join([c async for c in opened.plaintext(5 * SEG, 6 * SEG)]) == data[5 * SEG:6 * SEG]  # elsewhere: fine
    run(go())


@pytest.mark.parametrize("codec_", [RAW, DAG_CBOR])
def test_a_fast_link_is_the_cid_multiformats_decodes(codec_):
    """core.cid.to_link builds links from parts looked up once (multiformats' constructor,
    not its parser): the same object, the same dag-cbor bytes, the same text."""
    import dag_cbor
    from multiformats import CID
    binary = cid_bytes(codec_, os.urandom(64))
    fast, slow = to_link(binary), CID.decode(binary)
    assert fast == slow and bytes(fast) == binary and str(fast) == str(slow)
    assert dag_cbor.encode({"l": [fast]}) == dag_cbor.encode({"l": [slow]})
    assert dag_cbor.decode(dag_cbor.encode({"l": [fast]}))["l"][0] == slow
