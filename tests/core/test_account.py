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
                                                                 device.id),
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
