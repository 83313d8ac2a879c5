"""Writes tests/vectors/account-v1.json: FORMAT.md section 11 worked out on fixed inputs.

Every key comes from a fixed seed and Ed25519 signatures are deterministic, so running
this again gives the same bytes; change the format, the spec and this file together.
    .venv/bin/python scripts/make_account_vectors.py
"""

import asyncio
import json
import pathlib

from meshkit_web.core import codec
from meshkit_web.core.account import (certify_device, derive_recovery_keys, device_consent, make_account_record,
                                      phrase_from_secret)
from meshkit_web.core.identity import make_identity
from meshkit_web.core.signing import sign_map
from meshkit_web.crypto.nacl_backend import NaclBackend

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors" / "account-v1.json"
SECRET = bytes(range(32))
T0 = 1_790_000_000


async def device(backend, name: str, n: int):
    sig_private, sig_key = await backend.ed25519_import_private(bytes([n]) * 32)
    enc_private, enc_key = await backend.x25519_import_private(bytes([n + 100]) * 32)
    return await make_identity(backend, name, T0, sig_private, sig_key, enc_private, enc_key)


async def resign(backend, record_bytes: bytes, private, **changes) -> bytes:
    """A record with some fields changed and signed again (for failure cases)."""
    obj = codec.decode_map(record_bytes, "account")
    obj.update(changes)
    obj.pop("sig")
    return codec.encode(await sign_map(backend, private, "account", obj))


async def main() -> None:
    b = NaclBackend()
    keys = await derive_recovery_keys(b, SECRET)
    acct = keys.account_id
    async def record(prev, devices, removed, by):
        """The next version of alice's account after ``prev``, signed by device ``by`` (None: the root)."""
        return await make_account_record(b, name="alice", root_key=keys.root_key, recovery_key=keys.recovery_key,
                                         version=prev.version + 1 if prev else 1, prev=prev, devices=devices,
                                         removed=removed, created=T0, signer_id=by.id if by else acct,
                                         signer_private=by.sig_private if by else keys.root_private)

    laptop, phone, tablet = await device(b, "laptop", 1), await device(b, "phone", 2), await device(b, "tablet", 3)
    async def consent(d, account=None):
        return await device_consent(b, d.sig_private, account or acct, d.id)
    c_laptop = await certify_device(b, account=acct, device=laptop.public, consent=await consent(laptop), added=T0, can_add=True,
                                    signer_id=acct, signer_private=keys.root_private)
    v1 = await record(None, [c_laptop], [], None)
    c_phone = await certify_device(b, account=acct, device=phone.public, consent=await consent(phone), added=T0 + 60, can_add=False,
                                   signer_id=laptop.id, signer_private=laptop.sig_private)
    v2 = await record(v1, [c_laptop, c_phone], [], laptop)
    v3 = await record(v2, [c_laptop], [phone.id], laptop)
    # failure cases: each a record checked against a previous one (or none), and its error
    by_phone = await resign(b, v2.data, phone.sig_private, version=3, prev=v2.hash, signer=phone.id)
    c_tablet_by_phone = await certify_device(b, account=acct, device=tablet.public, consent=await consent(tablet),
                                             added=T0 + 90, can_add=False,
                                             signer_id=phone.id, signer_private=phone.sig_private)
    tablet_via_phone = await resign(b, v2.data, laptop.sig_private, version=3, prev=v2.hash,
                                    devices=[d.map for d in sorted([c_laptop, c_phone, c_tablet_by_phone],
                                                                   key=lambda d: d.id)])
    wrong_prev = await resign(b, v2.data, laptop.sig_private, prev=b"\x00" * 32)
    signed = codec.decode_map(v2.data, "account")
    tampered = codec.encode({**signed, "sig": bytes([signed["sig"][0] ^ 1]) + signed["sig"][1:]})
    skip = await resign(b, v2.data, laptop.sig_private, version=5)
    other_keys = await derive_recovery_keys(b, bytes(range(1, 33)))
    foreign_cert = await certify_device(b, account=other_keys.account_id, device=tablet.public,
                                        consent=await consent(tablet, other_keys.account_id), added=T0,
                                        can_add=False, signer_id=acct, signer_private=keys.root_private)
    foreign = await resign(b, v2.data, laptop.sig_private, version=3, prev=v2.hash,
                           devices=[d.map for d in sorted([c_laptop, c_phone, foreign_cert], key=lambda d: d.id)])
    # a device enrolled without its consent (the consent is for another account)
    c_unwilling = await certify_device(b, account=acct, device=tablet.public,
                                       consent=await consent(tablet, other_keys.account_id), added=T0 + 90,
                                       can_add=False, signer_id=acct, signer_private=keys.root_private)
    unwilling = await resign(b, v2.data, laptop.sig_private, version=3, prev=v2.hash,
                             devices=[d.map for d in sorted([c_laptop, c_phone, c_unwilling], key=lambda d: d.id)])
    # a device-signed record that brings back the removed phone
    unremoved = await resign(b, v3.data, laptop.sig_private, version=4, prev=v3.hash, removed=[],
                             devices=[d.map for d in sorted([c_laptop, c_phone], key=lambda d: d.id)])
    # the laptop adds a phone that may add devices; the phone then removes the laptop: the
    # phone's certificate (signed by the laptop) is carried over and stays good
    c_phone_admin = await certify_device(b, account=acct, device=phone.public, consent=await consent(phone),
                                         added=T0 + 60, can_add=True, signer_id=laptop.id,
                                         signer_private=laptop.sig_private)
    r2 = await record(v1, [c_laptop, c_phone_admin], [], laptop)
    r3 = await record(r2, [c_phone_admin], [laptop.id], phone)
    # a device re-certifies a device it did not add (the phone, added by the laptop, now
    # "added by" the laptop again with can_add: a thief's way to rewrite who added whom)
    c_phone_recert = await certify_device(b, account=acct, device=phone.public, consent=await consent(phone),
                                          added=T0 + 120, can_add=True, signer_id=laptop.id,
                                          signer_private=laptop.sig_private)
    recertified = await resign(b, v2.data, laptop.sig_private, version=3, prev=v2.hash,
                               devices=[d.map for d in sorted([c_laptop, c_phone_recert], key=lambda d: d.id)])
    words = phrase_from_secret(SECRET).split()
    swapped = words[:]
    swapped[0], swapped[1] = swapped[1], swapped[0]
    vectors = {
        "description": "MeshKit account vectors (docs/FORMAT.md section 11). Hex unless noted.",
        "recovery": {
            "secret": SECRET.hex(), "phrase": " ".join(words),
            "root_key": keys.root_key.hex(), "recovery_key": keys.recovery_key.hex(),
            "account_id": acct, "fingerprint": v1.fingerprint,
        },
        "devices": {d.name: {"sig_seed": (bytes([n]) * 32).hex(), "enc_seed": (bytes([n + 100]) * 32).hex(),
                             "id": d.id} for d, n in ((laptop, 1), (phone, 2), (tablet, 3))},
        "chain": [v1.data.hex(), v2.data.hex(), v3.data.hex()],
        "chain_hashes": [v1.hash.hex(), v2.hash.hex(), v3.hash.hex()],
        "record_failures": [
            {"case": "signed by a device that may not add devices", "prev": 1, "record": by_phone.hex(),
             "error": "bad_account_chain"},
            {"case": "a certificate signed by a device that may not add devices", "prev": 1,
             "record": tablet_via_phone.hex(), "error": "bad_account_chain"},
            {"case": "prev is not the hash of the previous record", "prev": 0, "record": wrong_prev.hex(),
             "error": "bad_account_chain"},
            {"case": "a version skipped", "prev": 1, "record": skip.hex(), "error": "bad_account_chain"},
            {"case": "one bit of the signature flipped", "prev": 0, "record": tampered.hex(),
             "error": "bad_signature"},
            {"case": "a device certified for another account", "prev": 1, "record": foreign.hex(),
             "error": "bad_account_chain"},
            {"case": "a device enrolled without its own consent", "prev": 1, "record": unwilling.hex(),
             "error": "bad_signature"},
            {"case": "a device-signed record with no previous record", "prev": None, "record": v2.data.hex(),
             "error": "bad_account_chain"},
            {"case": "a device-signed record that brings back a removed device", "prev": 2,
             "record": unremoved.hex(), "error": "bad_account_chain"},
            {"case": "a device-signed record that re-certifies a device already in the account", "prev": 1,
             "record": recertified.hex(), "error": "bad_account_chain"},
        ],
        "chain_failures": [
            {"case": "rolled back: version 2 offered after version 3 was verified", "known": 2, "records": [1],
             "error": "rollback"},
            {"case": "a different version 3 than the one verified", "known": 2, "records": [], "offer": "fork",
             "error": "rollback"},
        ],
        "removal_chain": {
            "about": "the phone, added by the laptop, removes the laptop: valid as a chain (the phone's "
                     "certificate is carried over from version 2); version 3 alone has a certificate whose "
                     "signer is in no record, so it is bad_account_chain without version 2",
            "records": [v1.data.hex(), r2.data.hex(), r3.data.hex()], "alone_error": "bad_account_chain"},
        "fork": (await resign(b, v3.data, keys.root_private, removed=[], signer=acct,
                              devices=[c_laptop.map])).hex(),
        "phrase_failures": [
            {"case": "a word mistyped", "phrase": " ".join(["abandonx"] + words[1:]), "error": "bad_phrase"},
            {"case": "two words swapped (checksum)", "phrase": " ".join(swapped), "error": "bad_phrase"},
            {"case": "23 words", "phrase": " ".join(words[:-1]), "error": "bad_phrase"},
        ],
    }
    OUT.write_text(json.dumps(vectors, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
