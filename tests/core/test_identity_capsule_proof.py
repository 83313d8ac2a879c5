"""Identities (self-signed records), capsules (shares) and proofs."""

import os

import pytest

from meshkit_web.core import codec, errors
from meshkit_web.core.capsule import make_capsule, verify_capsule
from meshkit_web.core.clock import CLOCK_SKEW_ALLOWED
from meshkit_web.core.envelope import open_envelope
from meshkit_web.core.identity import record_from_bytes, record_from_json
from meshkit_web.core.proof import SEALED, SHARED, make_proof, verify_proof
from meshkit_web.core.signing import identity_id

from support.aio import run
from support.constants import NOW
from support.envelopes import getter, open_all, seal_to_blocks


def test_record_round_trips_and_verifies(backend, people):
    alice = people["alice"].public
    assert alice.id == identity_id(alice.sig_key) and alice.id.startswith("mk")
    assert run(record_from_bytes(backend, alice.to_bytes())) == alice
    assert run(record_from_json(backend, alice.to_json())) == alice
    assert len(alice.fingerprint.replace("-", "")) == 32
    assert alice.fingerprint != people["bob"].public.fingerprint


@pytest.mark.parametrize("field,value,error", [
    ("name", "mallory", errors.SignatureError),
    ("enc_key", "carol", errors.SignatureError),          # someone else's encryption key
    ("id", "bob", errors.IdentityMismatchError),           # someone else's id
    ("sig_key", "bob", errors.IdentityMismatchError),
    ("v", 2, errors.UnsupportedVersionError),
])
def test_record_tampering(backend, people, field, value, error):
    record = people["alice"].public.to_json()
    if value in people:
        record[field] = people[value].public.to_json()[field]
    else:
        record[field] = value
    with pytest.raises(error):
        run(record_from_json(backend, record))


def test_record_json_has_no_private_material(people):
    text = str(people["alice"].public.to_json())
    assert "private" not in text
    assert repr(people["alice"].sig_private) == "<RawKey redacted>"
    assert "redacted" in repr(people["alice"].enc_private)


def test_capsule_grants_open_to_new_recipient(backend, people):
    data = os.urandom(3000)

    async def go():
        root, store, _ = await seal_to_blocks(backend, data, people["alice"], [people["bob"].public])
        with pytest.raises(errors.NotARecipientError):
            await open_all(backend, root, store, people["carol"])
        capsule = await make_capsule(backend, people["bob"], root, getter(store), people["carol"].public,
                                     now=NOW, expires=NOW + 3600, policy="policy://demo/allow")
        checked = await verify_capsule(backend, capsule.data, root=root, recipient=people["carol"].id, now=NOW + 10)
        assert checked.policy == "policy://demo/allow" and checked.sharer_id == people["bob"].id
        assert await open_all(backend, root, store, people["carol"], wrapped_key=checked.wrapped_key) == data
        # the capsule is for carol: dave cannot use it
        with pytest.raises(errors.NotARecipientError):
            await verify_capsule(backend, capsule.data, recipient=people["dave"].id)
        with pytest.raises(errors.NotARecipientError):
            await open_envelope(backend, root, getter(store), people["dave"], wrapped_key=checked.wrapped_key)
        # expired
        with pytest.raises(errors.ExpiredError):
            await verify_capsule(backend, capsule.data, now=NOW + 3600)
        # a client allows CLOCK_SKEW_ALLOWED past the expiry for a clock it cannot know exactly, no more
        await verify_capsule(backend, capsule.data, now=NOW + 3600 + CLOCK_SKEW_ALLOWED - 1, tolerance=CLOCK_SKEW_ALLOWED)
        with pytest.raises(errors.ExpiredError):
            await verify_capsule(backend, capsule.data, now=NOW + 3600 + CLOCK_SKEW_ALLOWED, tolerance=CLOCK_SKEW_ALLOWED)
        # for another root
        other_root, _, _ = await seal_to_blocks(backend, b"x", people["alice"], [people["bob"].public])
        with pytest.raises(errors.EnvelopeFormatError):
            await verify_capsule(backend, capsule.data, root=other_root)
        # tampered: expiry extended without the sharer's signature
        obj = codec.decode_map(capsule.data, "capsule")
        obj["expires"] = NOW + 10 ** 6
        with pytest.raises(errors.SignatureError):
            await verify_capsule(backend, codec.encode(obj))
        # a non-recipient cannot make a capsule
        with pytest.raises(errors.NotARecipientError):
            await make_capsule(backend, people["dave"], root, getter(store), people["carol"].public, now=NOW)
    run(go())


def test_proofs_verify_offline_and_detect_tampering(backend, people):
    async def go():
        root, store, _ = await seal_to_blocks(backend, b"proof me", people["alice"], [people["bob"].public])
        sealed = await make_proof(backend, people["alice"], SEALED, root, now=NOW)
        checked = await verify_proof(backend, sealed.data)
        assert (checked.statement, checked.root, checked.signer_id, checked.time) == (SEALED, root, people["alice"].id, NOW)

        capsule = await make_capsule(backend, people["alice"], root, getter(store), people["carol"].public, now=NOW)
        shared = await make_proof(backend, people["alice"], SHARED, root, now=NOW,
                                  recipient=people["carol"].id, capsule=capsule.cid)
        assert (await verify_proof(backend, shared.data)).capsule == capsule.cid

        obj = codec.decode_map(sealed.data, "proof")
        obj["time"] = NOW - 100  # backdating
        with pytest.raises(errors.SignatureError):
            await verify_proof(backend, codec.encode(obj))
        obj = codec.decode_map(sealed.data, "proof")
        obj["signer"] = {"id": people["bob"].id, "key": obj["signer"]["key"]}  # claim someone else signed
        with pytest.raises(errors.IdentityMismatchError):
            await verify_proof(backend, codec.encode(obj))
        with pytest.raises(errors.EnvelopeFormatError):
            await verify_proof(backend, sealed.data[:-3])
        # a proof signature is not an envelope or capsule signature (domain separation)
        with pytest.raises(errors.EnvelopeFormatError):
            await verify_capsule(backend, sealed.data)
    run(go())
