"""Strict decoding: the format's edges a second implementation could get wrong (docs/FORMAT.md)."""

import os

import pytest
from multiformats import CID

from meshkit_web.core import codec, errors
from meshkit_web.core.capsule import KIND as CAPSULE, make_capsule, verify_capsule
from meshkit_web.core.car import split_frame_cid
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, verify_block
from meshkit_web.core.envelope import (KIND, MAX_HEADER_SIZE, LINK_ENCODED_LEN, RECIPIENT_ENCODED_LEN,
                                       HYBRID_RECIPIENT_ENCODED_LEN, MAX_HYBRID_RECIPIENTS,
                                       max_index_blocks, parse_header)
from meshkit_web.core.proof import KIND as PROOF, SHARED, make_proof, verify_proof
from meshkit_web.core.signing import sign_map
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.constants import NOW
from support.envelopes import getter, open_all, seal_to_blocks

DATA = os.urandom(3000)


def resigned(backend, people, root, store, mutate):
    obj = dict(parse_header(root, store[root]).raw)
    mutate(obj)
    data = codec.encode(run(sign_map(backend, people["alice"].sig_private, KIND, obj)))
    new_root = cid_bytes(DAG_CBOR, data)
    store[new_root] = data
    return new_root


@pytest.fixture
def sealed(backend, people):
    root, store, _ = run(seal_to_blocks(backend, DATA, people["alice"], [people["bob"].public]))
    return root, store


@pytest.mark.parametrize("version", [True, 1.0, "1", None])
def test_version_must_be_the_integer_1(backend, people, sealed, version):
    root, store = sealed
    new_root = resigned(backend, people, root, store, lambda o: o.__setitem__("v", version))
    with pytest.raises(errors.UnsupportedVersionError):
        run(open_all(backend, new_root, store, people["bob"]))


def test_unknown_suite_is_unsupported_version(backend, people, sealed):
    root, store = sealed
    new_root = resigned(backend, people, root, store, lambda o: o.__setitem__("suite", 2))
    with pytest.raises(errors.UnsupportedVersionError):
        run(open_all(backend, new_root, store, people["bob"]))


def test_duplicate_and_empty_recipients_are_refused(backend, people, sealed):
    root, store = sealed
    dup = resigned(backend, people, root, store, lambda o: o.__setitem__("recipients", o["recipients"] * 2))
    empty = resigned(backend, people, root, store, lambda o: o.__setitem__("recipients", []))
    for bad in (dup, empty):
        with pytest.raises(errors.EnvelopeFormatError):
            run(open_all(backend, bad, store, people["bob"]))


def test_segment_links_must_be_raw_sha2_256(backend, people, sealed):
    root, store = sealed
    def to_cbor_codec(obj):
        first = bytes(obj["segments"][0])
        obj["segments"] = [CID.decode(b"\x01\x71" + first[2:])] + list(obj["segments"][1:])
    new_root = resigned(backend, people, root, store, to_cbor_codec)
    with pytest.raises(errors.EnvelopeFormatError, match="raw sha2-256"):
        run(open_all(backend, new_root, store, people["bob"]))


def test_unknown_codec_root_is_a_typed_error():
    odd = b"\x01\x70\x12\x20" + bytes(32)  # dag-pb
    with pytest.raises(errors.EnvelopeFormatError):
        verify_block(odd, b"x")
    with pytest.raises(errors.EnvelopeFormatError):
        cid_bytes(0x70, b"x")


def test_longer_segment_is_not_called_truncated(backend, people, sealed):
    """A (re-signed) header linking a segment one byte longer than its size allows."""
    root, store = sealed
    def longer(obj):
        first = bytes(obj["segments"][0])
        padded = store[first] + b"\x00"
        padded_cid = cid_bytes(RAW, padded)
        store[padded_cid] = padded
        obj["segments"] = [CID.decode(padded_cid)] + list(obj["segments"][1:])
    new_root = resigned(backend, people, root, store, longer)
    with pytest.raises(errors.SegmentAuthenticationError, match="longer"):
        run(open_all(backend, new_root, store, people["bob"]))


@pytest.mark.parametrize("text", ["AAAA=", "AA+/", "AAB", "A A"])
def test_base64url_is_strict(text):
    with pytest.raises(errors.EnvelopeFormatError):
        codec.b64d(text)
    assert codec.b64d("AAE") == b"\x00\x01"


def test_max_segments_keeps_the_header_under_its_limit(backend, people):
    """The worst case the seal limit allows still encodes under MAX_HEADER_SIZE (sizes measured),
    for classic and X-Wing entries alike."""
    link = codec.encode(CID.decode(cid_bytes(RAW, b"x")))
    assert len(link) == LINK_ENCODED_LEN
    classic = run(create_identity(backend, "erin", NOW, pq=False))
    root, store, _ = run(seal_to_blocks(backend, b"", people["alice"], [people["bob"].public, classic.public]))
    entries = parse_header(root, store[root]).raw["recipients"]
    hybrid_entries = [e for e in entries if "kem" in e]
    classic_entries = [e for e in entries if "kem" not in e]
    assert len(hybrid_entries) == 2 and len(classic_entries) == 1  # bob and alice X-Wing, erin X25519
    longest_id = hybrid_entries[0]["id"] + ".recovery"  # an account's recovery key: the longest id (11.3)
    hybrid_entry, classic_entry = ({**entries[0], "id": longest_id} for entries in (hybrid_entries, classic_entries))
    assert len(codec.encode(classic_entry)) <= RECIPIENT_ENCODED_LEN
    assert len(codec.encode(hybrid_entry)) <= HYBRID_RECIPIENT_ENCODED_LEN
    for n, hybrid in ((3, 0), (3, 3), (MAX_HYBRID_RECIPIENTS, MAX_HYBRID_RECIPIENTS)):
        obj = dict(parse_header(root, store[root]).raw)
        obj["recipients"] = [hybrid_entry] * hybrid + [classic_entry] * (n - hybrid)  # the largest entries
        del obj["segments"]  # the largest header is the tree form's, linking its index blocks
        blocks = max(1, max_index_blocks(n, hybrid))
        obj["index"] = [CID.decode(cid_bytes(DAG_CBOR, i.to_bytes(4, "big"))) for i in range(blocks)]
        assert len(codec.encode(obj)) <= MAX_HEADER_SIZE, (n, hybrid)


def test_capsule_policy_limit_checked_on_verify(backend, people, sealed):
    root, store = sealed
    capsule = run(make_capsule(backend, people["alice"], root, getter(store), people["dave"].public, now=NOW))
    obj = codec.decode_map(capsule.data, CAPSULE)
    del obj["sig"]
    obj["policy"] = "p" * 600
    data = codec.encode(run(sign_map(backend, people["alice"].sig_private, CAPSULE, obj)))
    with pytest.raises(errors.EnvelopeFormatError, match="policy"):
        run(verify_capsule(backend, data))


def test_share_proof_needs_a_recipient(backend, people, sealed):
    root, _ = sealed
    proof = run(make_proof(backend, people["alice"], SHARED, root, now=NOW, recipient=people["bob"].id,
                           capsule=cid_bytes(DAG_CBOR, b"c")))
    obj = codec.decode_map(proof.data, PROOF)
    del obj["sig"]
    obj["recipient"] = None
    data = codec.encode(run(sign_map(backend, people["alice"].sig_private, PROOF, obj)))
    with pytest.raises(errors.EnvelopeFormatError, match="recipient"):
        run(verify_proof(backend, data))


def test_car_frame_with_cidv0():
    v0 = b"\x12\x20" + bytes(32)
    assert split_frame_cid(v0 + b"data") == 34
    assert split_frame_cid(cid_bytes(RAW, b"x") + b"data") == 36
