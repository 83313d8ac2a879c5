"""Writes tests/vectors/account-v1.json: FORMAT.md section 11 worked out on fixed inputs.

Every key comes from a fixed seed and Ed25519 signatures are deterministic, so running
this again gives the same bytes; change the format, the spec and this file together.
    .venv/bin/python scripts/make_account_vectors.py
"""

import asyncio
import json
import pathlib

from meshkit_web.core import codec, kdf
from meshkit_web.core.account import (ACCOUNT_SALT, RECOVERY_PQ_INFO, certify_device, derive_recovery_keys,
                                      device_consent, make_account_record, phrase_from_secret)
from meshkit_web.core.identity import make_identity
from meshkit_web.core.signing import sign_map
from meshkit_web.crypto.nacl_backend import NaclBackend

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors" / "account-v1.json"
SECRET = bytes(range(32))
T0 = 1_790_000_000


async def device(backend, name: str, n: int, pq: bool = False):
    """A device from fixed seeds; ``pq``: hybrid, its X-Wing seed 32 bytes of n + 200."""
    sig_private, sig_key = await backend.ed25519_import_private(bytes([n]) * 32)
    enc_private, enc_key = await backend.x25519_import_private(bytes([n + 100]) * 32)
    pq_private, pq_key = await backend.xwing_import_seed(bytes([n + 200]) * 32) if pq else (None, None)
    return await make_identity(backend, name, T0, sig_private, sig_key, enc_private, enc_key,
                               pq_private=pq_private, pq_key=pq_key)


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
    phrase_chain = await _phrase_chain(b, keys, c_laptop, laptop)
    pq_chain = await _pq_chain(b, keys, phone)
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
        "phrase_chain": phrase_chain,
        "pq_chain": pq_chain,
        "phrase_failures": [
            {"case": "a word mistyped", "phrase": " ".join(["abandonx"] + words[1:]), "error": "bad_phrase"},
            {"case": "two words swapped (checksum)", "phrase": " ".join(swapped), "error": "bad_phrase"},
            {"case": "23 words", "phrase": " ".join(words[:-1]), "error": "bad_phrase"},
        ],
    }
    OUT.write_text(json.dumps(vectors, indent=1) + "\n")
    print(f"wrote {OUT}")


NEW_SECRET = bytes(range(100, 132))


async def _phrase_chain(b, keys, c_laptop, laptop) -> dict:
    """FORMAT.md 11.7: version 1; version 2 confirms the kit (signed by the phrase's root);
    version 3, signed by the laptop, replaces the phrase (kit not confirmed); version 4 is
    signed by the new phrase's root. Failure cases: "prev" is the index in "records" of the
    record each is checked after."""
    acct = keys.account_id
    new = await derive_recovery_keys(b, NEW_SECRET)
    common = dict(name="alice", root_key=keys.root_key, recovery_key=keys.recovery_key, devices=[c_laptop],
                  removed=[], created=T0)
    p1 = await make_account_record(b, version=1, prev=None, signer_id=acct, signer_private=keys.root_private, **common)
    p2 = await make_account_record(b, version=2, prev=p1, signer_id=acct, signer_private=keys.root_private, kit=True,
                                   **common)
    p3 = await make_account_record(b, version=3, prev=p2, signer_id=laptop.id, signer_private=laptop.sig_private,
                                   phrase=(new.root_key, new.recovery_key), **common)
    p4 = await make_account_record(b, version=4, prev=p3, signer_id=acct, signer_private=new.root_private, kit=True,
                                   **common)
    old_root = await resign(b, p4.data, keys.root_private)  # the replaced phrase signs version 4
    kit_by_device = await resign(b, p4.data, laptop.sig_private, signer=laptop.id)
    confirmed_at_once = await resign(b, p3.data, laptop.sig_private, kit=True)
    obj = codec.decode_map(p4.data, "account")  # version 4 without 'phrase', by the first root
    obj.pop("sig"), obj.pop("phrase"), obj.pop("kit")
    back_to_first = codec.encode(await sign_map(b, keys.root_private, "account", obj))
    return {
        "about": "version 2 confirms the kit (root-signed, 'kit': true); version 3 (signed by the laptop) "
                 "replaces the phrase with the one of new_secret ('phrase'; the kit starts not confirmed); "
                 "version 4 is signed by the new phrase's root and confirms its kit. The account id and "
                 "fingerprint stay the first phrase's; seals go to the new recovery key",
        "new_secret": NEW_SECRET.hex(), "new_root_key": new.root_key.hex(), "new_recovery_key": new.recovery_key.hex(),
        "records": [r.data.hex() for r in (p1, p2, p3, p4)],
        "failures": [
            {"case": "signed by the replaced phrase's root", "prev": 2, "record": old_root.hex(),
             "error": "bad_signature"},
            {"case": "a device marks the kit confirmed", "prev": 2, "record": kit_by_device.hex(),
             "error": "bad_account_chain"},
            {"case": "a new phrase that starts confirmed", "prev": 1, "record": confirmed_at_once.hex(),
             "error": "bad_account_chain"},
            {"case": "the first phrase brought back by its own root", "prev": 2, "record": back_to_first.hex(),
             "error": "bad_signature"},
            {"case": "a replaced phrase in a record with nothing before it", "prev": None, "record": p3.data.hex(),
             "error": "bad_account_chain"},
        ],
    }


async def _pq_chain(b, keys, phone) -> dict:
    """FORMAT.md 11.1-11.3 with X-Wing: version 1 lists the recovery secret's X-Wing recovery
    key and a hybrid device (its certificate carries pq_key); version 2 adds a classic phone;
    version 3 (by the desktop) replaces the phrase with one that has an X-Wing key too."""
    acct = keys.account_id
    desktop = await device(b, "desktop", 4, pq=True)
    new = await derive_recovery_keys(b, NEW_SECRET)
    c_desktop = await certify_device(b, account=acct, device=desktop.public, added=T0, can_add=True,
                                     consent=await device_consent(b, desktop.sig_private, acct, desktop.id,
                                                                  desktop.public.pq_key),
                                     signer_id=acct, signer_private=keys.root_private)
    c_phone = await certify_device(b, account=acct, device=phone.public, added=T0 + 60, can_add=False,
                                   consent=await device_consent(b, phone.sig_private, acct, phone.id),
                                   signer_id=desktop.id, signer_private=desktop.sig_private)
    common = dict(name="alice", root_key=keys.root_key, recovery_key=keys.recovery_key, removed=[], created=T0)
    q1 = await make_account_record(b, version=1, prev=None, devices=[c_desktop], signer_id=acct,
                                   signer_private=keys.root_private, pq_recovery_key=keys.pq_key, **common)
    q2 = await make_account_record(b, version=2, prev=q1, devices=[c_desktop, c_phone], signer_id=desktop.id,
                                   signer_private=desktop.sig_private, **common)
    q3 = await make_account_record(b, version=3, prev=q2, devices=[c_desktop, c_phone], signer_id=desktop.id,
                                   signer_private=desktop.sig_private,
                                   phrase=(new.root_key, new.recovery_key, new.pq_key), **common)
    classic_phrase = await resign(b, q3.data, desktop.sig_private,  # q3 without its phrase's X-Wing key
                                  phrase={"root_key": new.root_key, "recovery_key": new.recovery_key})
    other = await derive_recovery_keys(b, bytes(range(1, 33)))
    swapped = await resign(b, q2.data, desktop.sig_private, pq_recovery_key=other.pq_key)
    dropped = codec.decode_map(q2.data, "account")
    dropped.pop("sig"), dropped.pop("pq_recovery_key")
    dropped = codec.encode(await sign_map(b, desktop.sig_private, "account", dropped))
    short = await resign(b, q1.data, keys.root_private, pq_recovery_key=keys.pq_key[:-1])
    over_q = await resign(b, q1.data, keys.root_private,  # its first ML-KEM coefficient is q = 3329
                          pq_recovery_key=b"\x01\x0d" + keys.pq_key[2:])
    null = await resign(b, q1.data, keys.root_private, pq_recovery_key=None)
    cert = dict(c_desktop.map, pq_key=other.pq_key)  # the certificate's pq_key swapped, its signature kept
    swapped_cert = await resign(b, q1.data, keys.root_private, devices=[cert])
    # the root certifies the hybrid desktop without its X-Wing key: its consent named the key
    classic = dict(c_desktop.map)
    classic.pop("sig"), classic.pop("pq_key")
    classic = await sign_map(b, keys.root_private, "device", classic)
    stripped = await resign(b, q1.data, keys.root_private, devices=[classic])
    return {
        "about": "an account with an X-Wing recovery key (pq_recovery_seed = HKDF(S, 'meshkit-web/v1 "
                 "recovery-pq-key')) and a hybrid device 'desktop' (X-Wing seed: 32 bytes of 0xcc); version 2 "
                 "adds the classic phone; version 3 replaces the phrase with new_secret's keys, X-Wing included",
        "pq_recovery_seed": kdf.hkdf(SECRET, RECOVERY_PQ_INFO, 32, salt=ACCOUNT_SALT).hex(),
        "pq_recovery_key": keys.pq_key.hex(), "new_pq_recovery_key": new.pq_key.hex(),
        "desktop": {"id": desktop.id, "pq_seed": (bytes([204]) * 32).hex(), "pq_key": desktop.public.pq_key.hex()},
        "records": [r.data.hex() for r in (q1, q2, q3)],
        "failures": [
            {"case": "a later version with another X-Wing recovery key", "prev": 0, "record": swapped.hex(),
             "error": "bad_account_chain"},
            {"case": "a later version without the X-Wing recovery key", "prev": 0, "record": dropped.hex(),
             "error": "bad_account_chain"},
            {"case": "a new phrase without an X-Wing recovery key, where the one before had one", "prev": 1,
             "record": classic_phrase.hex(), "error": "bad_account_chain"},
            {"case": "an X-Wing recovery key of 1215 bytes", "prev": None, "record": short.hex(),
             "error": "malformed"},
            {"case": "an X-Wing recovery key whose ML-KEM-768 part fails FIPS 203's check", "prev": None,
             "record": over_q.hex(), "error": "malformed"},
            {"case": "pq_recovery_key null (absent is the only other encoding)", "prev": None, "record": null.hex(),
             "error": "malformed"},
            {"case": "a device certificate whose X-Wing key was swapped", "prev": None,
             "record": swapped_cert.hex(), "error": "bad_signature"},
            {"case": "a hybrid device certified without its X-Wing key (its consent names the key)",
             "prev": None, "record": stripped.hex(), "error": "bad_signature"},
        ],
    }


if __name__ == "__main__":
    asyncio.run(main())
