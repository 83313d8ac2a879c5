"""Accounts in Core (FORMAT.md section 11): recovery phrase, derivation, device
certificates, the chain of account records. Reads tests/vectors/account-v1.json: every
success case must give the same bytes, every failure case its error code."""

import json

import pytest

from meshkit_web.core.account import (AccountRollbackError, RecoveryPhraseError, check_not_older,
                                      derive_recovery_keys, phrase_from_secret, secret_from_phrase,
                                      verify_account_record, verify_chain)
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.signing import identity_id

from support.aio import run
from support.constants import TESTS

VECTORS = json.loads((TESTS / "vectors" / "account-v1.json").read_text())
CHAIN = [bytes.fromhex(h) for h in VECTORS["chain"]]


def test_recovery_derivation_matches_the_vectors(backend):
    r = VECTORS["recovery"]
    secret = bytes.fromhex(r["secret"])
    assert phrase_from_secret(secret) == r["phrase"]
    assert secret_from_phrase(r["phrase"]) == secret
    keys = run(derive_recovery_keys(backend, secret))
    assert (keys.root_key.hex(), keys.recovery_key.hex(), keys.account_id) == (
        r["root_key"], r["recovery_key"], r["account_id"])
    assert identity_id(keys.root_key) == r["account_id"]
    assert "root_private" not in repr(keys) and r["secret"] not in repr(keys)


def test_phrases_are_forgiving_about_form_but_not_about_words():
    r = VECTORS["recovery"]
    secret = bytes.fromhex(r["secret"])
    words = r["phrase"].split()
    assert secret_from_phrase("  " + "\n".join(w.upper() for w in words) + " ") == secret
    assert secret_from_phrase(" ".join(w[:4] for w in words)) == secret  # BIP-39 words are unique in 4 letters
    for case in VECTORS["phrase_failures"]:
        with pytest.raises(RecoveryPhraseError) as failed:
            secret_from_phrase(case["phrase"])
        assert failed.value.code == case["error"], case["case"]
        # the error names a position at most, never a word of the phrase
        assert not any(w in str(failed.value) for w in words if len(w) > 3), case["case"]


def test_the_chain_verifies_and_each_record_follows_the_last(backend):
    records = []
    prev = None
    for data, digest in zip(CHAIN, VECTORS["chain_hashes"]):
        prev = run(verify_account_record(backend, data, prev))
        assert prev.hash.hex() == digest
        records.append(prev)
    v1, v2, v3 = records
    devices = VECTORS["devices"]
    assert [d.id for d in v1.devices] == [devices["laptop"]["id"]]
    assert sorted(d.id for d in v2.devices) == sorted([devices["laptop"]["id"], devices["phone"]["id"]])
    assert v3.removed == (devices["phone"]["id"],) and [d.id for d in v3.devices] == [devices["laptop"]["id"]]
    assert v3.fingerprint == VECTORS["recovery"]["fingerprint"] == v1.fingerprint
    # seals to the account reach every current device and the recovery key, never a removed one
    assert {p.id for p in v3.recipients()} == {devices["laptop"]["id"], v3.id + ".recovery"}
    assert run(verify_chain(backend, CHAIN)).data == CHAIN[2]
    assert run(verify_chain(backend, CHAIN[2:], known=v2)).version == 3


@pytest.mark.parametrize("case", VECTORS["record_failures"], ids=lambda c: c["case"])
def test_record_failures_give_their_error(backend, case):
    prev = None
    for data in CHAIN[:case["prev"] + 1] if case["prev"] is not None else []:
        prev = run(verify_account_record(backend, data, prev))
    with pytest.raises(MeshKitError) as failed:
        run(verify_account_record(backend, bytes.fromhex(case["record"]), prev))
    assert failed.value.code == case["error"]


@pytest.mark.parametrize("case", VECTORS["chain_failures"], ids=lambda c: c["case"])
def test_rollback_and_forks_are_refused(backend, case):
    known = run(verify_chain(backend, CHAIN[:case["known"] + 1]))
    offered = [CHAIN[i] for i in case["records"]]
    if case.get("offer") == "fork":
        offered = [bytes.fromhex(VECTORS["fork"])]
        fork = run(verify_account_record(backend, offered[0]))  # root-signed: valid on its own
        with pytest.raises(AccountRollbackError):
            check_not_older(known, fork)
    with pytest.raises(MeshKitError) as failed:
        run(verify_chain(backend, offered, known=known))
    assert failed.value.code == case["error"]
    # nothing changed: the known record still verifies as the newest
    assert run(verify_chain(backend, [known.data], known=known)).data == known.data


def test_a_root_signed_record_of_another_account_does_not_replace_the_known_one(backend):
    import os
    from meshkit_web.core.account import (AccountChainError, certify_device, device_consent,
                                          make_account_record)
    from meshkit_web.core import codec
    from meshkit_web.core.identity import create_identity
    from meshkit_web.core.signing import sign_map

    async def other_account():
        keys = await derive_recovery_keys(backend, os.urandom(32))
        device = await create_identity(backend, "intruder", 1_790_000_000)
        cert = await certify_device(backend, account=keys.account_id, device=device.public,
                                    consent=await device_consent(backend, device.sig_private, keys.account_id,
                                                                 device.id, device.public.pq_key),
                                    added=1_790_000_000, can_add=True, signer_id=keys.account_id,
                                    signer_private=keys.root_private)
        first = await make_account_record(backend, name="mallory", root_key=keys.root_key,
                                          recovery_key=keys.recovery_key, version=1, prev=None, devices=[cert],
                                          removed=[], created=1_790_000_000, signer_id=keys.account_id,
                                          signer_private=keys.root_private)
        later = {k: v for k, v in codec.decode_map(first.data, "account").items() if k != "sig"}
        later.update(version=9, prev=first.hash)  # newer than alice's, signed by its own root
        return codec.encode(await sign_map(backend, keys.root_private, "account", later))
    known = run(verify_chain(backend, CHAIN))
    with pytest.raises(AccountChainError):
        run(verify_chain(backend, [run(other_account())], known=known))


def test_removing_the_device_that_added_another_keeps_the_other(backend):
    """FORMAT.md 11.3 rule 2: a certificate carried over unchanged from the previous version
    stays good when its signer is removed; the same record without that version does not check."""
    chain = VECTORS["removal_chain"]
    records = [bytes.fromhex(h) for h in chain["records"]]
    newest = run(verify_chain(backend, records))
    assert newest.version == 3 and [d.device.name for d in newest.devices] == ["phone"]
    with pytest.raises(MeshKitError) as failed:
        run(verify_account_record(backend, records[2], None))
    assert failed.value.code == chain["alone_error"]


PHRASE = VECTORS["phrase_chain"]
PHRASE_CHAIN = [bytes.fromhex(h) for h in PHRASE["records"]]


def test_a_replaced_phrase_and_a_confirmed_kit_follow_the_vectors(backend):
    """FORMAT.md 11.7: the kit confirmed by the phrase's root; a new phrase (signed by a
    device) that then signs as the root and receives as the recovery key, under the same
    account id and fingerprint."""
    from meshkit_web.core.account import kit_state
    records, prev = [], None
    for data in PHRASE_CHAIN:
        prev = run(verify_account_record(backend, data, prev))
        records.append(prev)
    p1, p2, p3, p4 = records
    assert [kit_state(r) for r in records] == ["not confirmed", "confirmed", "not confirmed", "confirmed"]
    assert p1.phrase is None and p3.phrase == (bytes.fromhex(PHRASE["new_root_key"]),
                                               bytes.fromhex(PHRASE["new_recovery_key"]))
    assert p4.id == p1.id and p4.fingerprint == VECTORS["recovery"]["fingerprint"]
    assert p4.recovery_identity().enc_key.hex() == PHRASE["new_recovery_key"] != p1.recovery_identity().enc_key.hex()
    new_keys = run(derive_recovery_keys(backend, bytes.fromhex(PHRASE["new_secret"])))
    first_keys = run(derive_recovery_keys(backend, bytes.fromhex(VECTORS["recovery"]["secret"])))
    assert p4.is_phrase(new_keys) and not p4.is_phrase(first_keys) and p2.is_phrase(first_keys)
    assert run(verify_chain(backend, PHRASE_CHAIN)).data == PHRASE_CHAIN[3]
    assert run(verify_chain(backend, PHRASE_CHAIN[3:], known=p3)).version == 4


@pytest.mark.parametrize("case", PHRASE["failures"], ids=lambda c: c["case"])
def test_phrase_failures_give_their_error(backend, case):
    prev = None
    for data in PHRASE_CHAIN[:case["prev"] + 1] if case["prev"] is not None else []:
        prev = run(verify_account_record(backend, data, prev))
    with pytest.raises(MeshKitError) as failed:
        run(verify_account_record(backend, bytes.fromhex(case["record"]), prev))
    assert failed.value.code == case["error"]
    if prev is not None and prev.phrase is not None:  # nor as a re-anchor after the verified record
        with pytest.raises(MeshKitError):
            run(verify_chain(backend, [bytes.fromhex(case["record"])], known=prev))


def test_the_new_phrase_re_anchors_the_chain_and_the_first_one_cannot(backend):
    """A root-signed record that does not follow (a re-anchor) is checked with the current
    phrase of the newest record verified: the new phrase's root may; the first root may not,
    even listing the new phrase. The first root's certificates carried over stay good."""
    from meshkit_web.core import codec
    from meshkit_web.core.signing import sign_map
    p3 = run(verify_chain(backend, PHRASE_CHAIN[:3]))
    new_keys = run(derive_recovery_keys(backend, bytes.fromhex(PHRASE["new_secret"])))
    first_keys = run(derive_recovery_keys(backend, bytes.fromhex(VECTORS["recovery"]["secret"])))
    obj = {k: v for k, v in codec.decode_map(PHRASE_CHAIN[3], "account").items() if k != "sig"}
    obj.update(version=7, prev=bytes(32))
    by_new = codec.encode(run(sign_map(backend, new_keys.root_private, "account", obj)))
    by_first = codec.encode(run(sign_map(backend, first_keys.root_private, "account", obj)))
    assert run(verify_chain(backend, [by_new], known=p3)).version == 7
    with pytest.raises(MeshKitError) as refused:
        run(verify_chain(backend, [by_first], known=p3))
    assert refused.value.code == "bad_signature"


PQ = VECTORS["pq_chain"]
PQ_CHAIN = [bytes.fromhex(h) for h in PQ["records"]]


def test_x_wing_recovery_key_and_hybrid_devices_follow_the_vectors(backend):
    """FORMAT.md 11.1-11.3 with X-Wing: the phrase derives the X-Wing recovery key (so the
    phrase alone opens X-Wing entries); a device certificate carries the device's X-Wing key,
    and the recipients built from the record are hybrid where the record says so."""
    from meshkit_web.core.hpke import KEM_X25519_SHA256, KEM_XWING
    keys = run(derive_recovery_keys(backend, bytes.fromhex(VECTORS["recovery"]["secret"])))
    assert keys.pq_key.hex() == PQ["pq_recovery_key"]
    assert backend.export_private(keys.pq_private).hex() == PQ["pq_recovery_seed"]
    records, prev = [], None
    for data in PQ_CHAIN:
        prev = run(verify_account_record(backend, data, prev))
        records.append(prev)
    q1, q2, q3 = records
    assert q1.pq_recovery_key.hex() == PQ["pq_recovery_key"] == q2.pq_recovery_key.hex()
    assert q1.fingerprint == VECTORS["recovery"]["fingerprint"]  # the fingerprint stays the classic keys'
    kems = {p.id: p.kem for p in q2.recipients()}
    assert kems == {PQ["desktop"]["id"]: KEM_XWING, VECTORS["devices"]["phone"]["id"]: KEM_X25519_SHA256,
                    q2.id + ".recovery": KEM_XWING}
    assert q2.device(PQ["desktop"]["id"]).device.pq_key.hex() == PQ["desktop"]["pq_key"]
    assert q1.is_phrase(keys) and q2.recovery_identity().pq_key == keys.pq_key
    new_keys = run(derive_recovery_keys(backend, bytes.fromhex(PHRASE["new_secret"])))
    assert q3.recovery_identity().pq_key.hex() == PQ["new_pq_recovery_key"] == new_keys.pq_key.hex()
    assert q3.is_phrase(new_keys) and not q3.is_phrase(keys)
    # an old account (no pq_recovery_key) keeps verifying and keeps a classic recovery key
    old = run(verify_chain(backend, CHAIN))
    assert old.pq_recovery_key is None and old.recovery_identity().kem == KEM_X25519_SHA256


@pytest.mark.parametrize("case", PQ["failures"], ids=lambda c: c["case"])
def test_x_wing_failures_give_their_error(backend, case):
    prev = None
    for data in PQ_CHAIN[:case["prev"] + 1] if case["prev"] is not None else []:
        prev = run(verify_account_record(backend, data, prev))
    with pytest.raises(MeshKitError) as failed:
        run(verify_account_record(backend, bytes.fromhex(case["record"]), prev))
    assert failed.value.code == case["error"], case["case"]


def test_a_re_anchor_keeps_the_x_wing_recovery_key(backend):
    """A root-signed record that does not follow (recovery's re-anchor) may not drop or swap
    the account's X-Wing recovery key either: it is fixed for the account's life."""
    from meshkit_web.core.account import AccountChainError, make_account_record
    keys = run(derive_recovery_keys(backend, bytes.fromhex(VECTORS["recovery"]["secret"])))
    known = run(verify_chain(backend, PQ_CHAIN[:2]))

    def anchor(**pq):
        return run(make_account_record(backend, name="alice", root_key=keys.root_key, recovery_key=keys.recovery_key,
                                       version=known.version + 3, prev=known, devices=list(known.devices),
                                       removed=[], created=known.created, signer_id=known.id,
                                       signer_private=keys.root_private, **pq))
    assert anchor().pq_recovery_key == known.pq_recovery_key
    for changed in (None, run(derive_recovery_keys(backend, bytes(32))).pq_key):
        with pytest.raises(AccountChainError):
            anchor(pq_recovery_key=changed)
