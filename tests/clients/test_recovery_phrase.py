"""A recovery phrase that can be replaced, and a kit confirmation the whole account sees
(FORMAT.md 11.7), on CPython through a real gateway: a device confirms, a linked device
sees it; a new phrase from any device; the old phrase then recovers nothing (typed), the new
one restores the library; the gateway refuses what the old phrase signs; and a hostile
gateway that serves the account as it was before the new phrase is caught (rollback)."""

import os

import pytest

from meshkit_web.clients import accounts
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec
from meshkit_web.core.account import (AccountChainError, certify_device, derive_recovery_keys, device_consent,
                                      kit_state, make_account_record, secret_from_phrase, verify_account_record)
from meshkit_web.core.errors import AccountRollbackError, MeshKitError, RecoveryPhraseError
from meshkit_web.core.identity import create_identity
from meshkit_web.core.signing import sign_map

from support.aio import run
from support.constants import NOW
from support.linking import link_device


async def read(opened) -> bytes:
    return b"".join([chunk async for chunk in opened.plaintext()])


async def _old_root_signed_next(backend, latest, old_phrase, skip: int = 1):
    """The next version of ``latest`` (``skip`` > 1: a later one, a re-anchor), as someone
    holding the replaced phrase would sign it with the first root: without its ``phrase``
    (back to the first keys) when it follows, with it (as a re-anchor must) when not."""
    keys = await derive_recovery_keys(backend, secret_from_phrase(old_phrase))
    dropped = ("sig", "phrase", "kit") if skip == 1 else ("sig", "kit")
    obj = {k: v for k, v in codec.decode_map(latest.data, "account").items() if k not in dropped}
    obj.update(version=latest.version + skip, prev=latest.hash if skip == 1 else bytes(32), signer=latest.id)
    return codec.encode(await sign_map(backend, keys.root_private, "account", obj))


def test_confirm_everywhere_replace_the_phrase_and_recover_with_the_new_one(fresh_gateway, backend):
    gateway, secret_text = fresh_gateway, os.urandom(40_000)

    async def go():
        laptop, phone, fresh = [await create_identity(backend, n, NOW) for n in ("laptop", "phone", "fresh")]
        async with GatewayClient(gateway, backend, laptop) as on_laptop, \
                GatewayClient(gateway, backend, phone) as on_phone:
            first, record = await accounts.create_account(on_laptop, "alice")
            assert kit_state(record) == "not confirmed"
            root = await on_laptop.seal_upload([secret_text], recipients=accounts.account_recipients(record))
            assert await accounts.remember_sealed(on_laptop, record, root_str(root), "plans.pdf", len(secret_text))
            record, _ = await link_device(on_laptop, record, on_phone)
            assert not record.kit
            # the laptop confirms: the phone, which never saw the phrase, reads "confirmed"
            words = first.split()
            with pytest.raises(RecoveryPhraseError):
                await accounts.confirm_kit(on_laptop, record, " ".join(words[1:2] + words[:1] + words[2:]))
            record = await accounts.confirm_kit(on_laptop, record, first)
            seen = await on_phone.fetch_account(record.id, known=await on_phone.fetch_account(record.id))
            assert kit_state(seen) == "confirmed" and seen.version == record.version

            # a new phrase, made on the phone: same account id and fingerprint, kit not confirmed
            made = await accounts.new_recovery_phrase(on_phone, seen)
            assert made.phrase != first and len(made.phrase.split()) == 24 and made.phrase not in repr(made)
            assert (made.record.id, made.record.fingerprint) == (record.id, record.fingerprint)
            assert made.record.version == record.version + 1 and kit_state(made.record) == "not confirmed"
            assert made.library and made.rewrapped >= 1
            on_laptop_now = await on_laptop.fetch_account(record.id, known=record)
            assert kit_state(on_laptop_now) == "not confirmed"
            # the old phrase confirms nothing any more, typed; nothing changed
            with pytest.raises(MeshKitError) as old:
                await accounts.confirm_kit(on_laptop, on_laptop_now, first)
            assert old.value.code == "phrase_replaced"
            # the gateway refuses a record signed with the old phrase's root
            for skip in (1, 5):  # following the newest record, or re-anchoring above it
                forged = await _old_root_signed_next(backend, on_laptop_now, first, skip)
                with pytest.raises(MeshKitError) as refused:
                    await on_laptop.request("POST", "/v1/accounts", body=forged, content_type="application/cbor",
                                            auth=False)
                assert refused.value.code in ("bad_signature", "bad_account_chain")
            # the gateway's hint from the new phrase's root id to the account (checked by the client)
            new_keys = await derive_recovery_keys(backend, secret_from_phrase(made.phrase))
            assert new_keys.account_id != record.id
            assert await on_laptop.account_of(new_keys.account_id) == record.id

        # every device lost: the old phrase recovers nothing (typed); the new one restores the library
        async with GatewayClient(gateway, backend, fresh) as on_fresh:
            with pytest.raises(MeshKitError) as old:
                await accounts.recover_account(on_fresh, first)
            assert old.value.code == "phrase_replaced"
            assert (await on_fresh.fetch_account(record.id)).version == made.record.version  # nothing changed
            recovered, keys = await accounts.recover_account(on_fresh, made.phrase)
            assert recovered.id == record.id and fresh.id in {d.id for d in recovered.devices}
            assert kit_state(recovered) == "confirmed"  # typed: the new kit is confirmed account-wide
            library, restored = await accounts.recover_library(on_fresh, recovered, keys)
            del keys
            assert restored >= 1 and library.items("envelope")[root_str(root)]["name"] == "plans.pdf"
            assert await read(await on_fresh.open(root)) == secret_text  # re-wrapped to itself
            # replaced again: the second phrase, found only through the gateway's hint, is told so
            third = await accounts.new_recovery_phrase(on_fresh, recovered)
            assert third.phrase not in (first, made.phrase)
        another = await create_identity(backend, "another", NOW)
        async with GatewayClient(gateway, backend, another) as on_another:
            with pytest.raises(MeshKitError) as second:
                await accounts.recover_account(on_another, made.phrase)
            assert second.value.code == "phrase_replaced"
    run(go())


def root_str(root: bytes) -> str:
    from meshkit_web.core.cid import cid_str
    return cid_str(root)


def test_a_gateway_serving_the_account_from_before_the_new_phrase_is_caught(malicious_gateway, backend):
    """After a device saw the record with the new phrase, a gateway that serves the account as
    it was before (a rollback), or a next version signed by the replaced phrase, is refused."""
    proxy = malicious_gateway

    async def go():
        laptop = await create_identity(backend, "laptop", NOW)
        async with GatewayClient(proxy.url, backend, laptop) as on_laptop:
            first, record = await accounts.create_account(on_laptop, "alice")
            before = await proxy.record("GET", f"/v1/accounts/{record.id}?since=0")
            made = await accounts.new_recovery_phrase(on_laptop, record)
            seen = await on_laptop.fetch_account(record.id, known=made.record)
            assert seen.phrase is not None
            proxy.on("GET", rf"^/v1/accounts/{record.id}\?", proxy.replay(before))
            with pytest.raises(AccountRollbackError):
                await on_laptop.fetch_account(record.id, known=seen)
            proxy.clear()
            # a next version signed by the replaced phrase (as its holder and the gateway would
            # make it), following or re-anchoring: refused by the device that saw the new one
            for skip in (1, 3):  # the next version, or a later one (a re-anchor)
                forged = await _old_root_signed_next(backend, seen, first, skip=skip)
                proxy.on("GET", rf"^/v1/accounts/{record.id}\?", proxy.answer(
                    200, codec_json({"records": [codec.b64e(forged)]})))
                with pytest.raises(MeshKitError) as refused:
                    await on_laptop.fetch_account(record.id, known=seen)
                assert refused.value.code in ("bad_signature", "bad_account_chain"), skip
                proxy.clear()
            assert (await on_laptop.fetch_account(record.id, known=seen)).data == seen.data
    run(go())


def codec_json(value) -> bytes:
    import json
    return json.dumps(value).encode()


def test_a_phrase_is_never_believed_from_a_record_alone(backend):
    """Core: a record carrying a replaced phrase verifies only after the record before it (a
    record standing alone could name any keys); and a new phrase never starts confirmed."""
    async def go():
        keys = await derive_recovery_keys(backend, os.urandom(32))
        other = await derive_recovery_keys(backend, os.urandom(32))
        device = await create_identity(backend, "d", NOW)
        cert = await certify_device(
            backend, account=keys.account_id, device=device.public, added=NOW, can_add=True,
            consent=await device_consent(backend, device.sig_private, keys.account_id, device.id,
                                         device.public.pq_key),
            signer_id=keys.account_id, signer_private=keys.root_private)
        common = dict(name="a", root_key=keys.root_key, recovery_key=keys.recovery_key, devices=[cert],
                      removed=[], created=NOW)
        v1 = await make_account_record(backend, version=1, prev=None, signer_id=keys.account_id,
                                       signer_private=keys.root_private, **common)
        v2 = await make_account_record(backend, version=2, prev=v1, signer_id=device.id,
                                       signer_private=device.sig_private,
                                       phrase=(other.root_key, other.recovery_key), **common)
        assert v2.current_root_key == other.root_key and v2.recipients()[-1].enc_key == other.recovery_key
        with pytest.raises(AccountChainError):
            await verify_account_record(backend, v2.data)
        with pytest.raises(AccountChainError):  # a new phrase that claims a confirmed kit
            await make_account_record(backend, version=2, prev=v1, signer_id=device.id,
                                      signer_private=device.sig_private, kit=True,
                                      phrase=(other.root_key, other.recovery_key), **common)
        with pytest.raises(AccountChainError):  # a device cannot say the kit was confirmed
            await make_account_record(backend, version=2, prev=v1, signer_id=device.id,
                                      signer_private=device.sig_private, kit=True, **common)
        # the first root signs nothing after the phrase was replaced
        with pytest.raises(MeshKitError):
            await make_account_record(backend, version=3, prev=v2, signer_id=keys.account_id,
                                      signer_private=keys.root_private, **common)
    run(go())
