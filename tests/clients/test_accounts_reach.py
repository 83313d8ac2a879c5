"""Reaching someone's account (FORMAT.md 11.6) against a real gateway: a device id or an
account id reaches the account's current devices and recovery key; a removed device
reaches the account as it is now, never the device; an id written into a stranger's
removed list neither reaches that stranger nor locks the identity out; the gateway's hint
cannot point elsewhere; a kept account is never rolled back; revoking reaches every device
the account ever certified."""

import asyncio

import pytest

from meshkit_web.clients import accounts
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.account import (AccountChainError, AccountRollbackError, KnownAccount, derive_recovery_keys,
                                      make_account_record, secret_from_phrase, verify_chain)
from meshkit_web.core.cid import cid_str
from meshkit_web.core.errors import MeshKitError, RevokedError
from meshkit_web.core.identity import create_identity
from meshkit_web.core.recipients import resolve_reach

from support.aio import run
from support.constants import NOW
from support.linking import link_device


async def client(gateway, backend, name):
    c = GatewayClient(gateway, backend, await create_identity(backend, name, NOW))
    await c.publish()
    return c


async def reach(sender, who, kept=None):
    store = {} if kept is None else kept

    async def account(ident):
        found = await accounts.account_reaching(sender, ident, next((k for k in store.values() if k.means(ident)),
                                                                     None))
        if found is not None:
            store[found.record.id] = found
        return found
    return await resolve_reach(who, own=[], contacts=[], directory=sender.resolve, account=account)


async def read(opened) -> bytes:
    return b"".join([chunk async for chunk in opened.plaintext()])


def test_a_removed_device_id_reaches_the_account_as_it_is_now(fresh_gateway, backend):
    async def go():
        laptop, phone, bob = [await client(fresh_gateway, backend, n) for n in ("laptop", "phone", "bob")]
        _, record = await accounts.create_account(laptop, "alice")
        # bob knows alice by her laptop's id: that reaches the account (laptop + recovery)
        kept = {}
        first = await reach(bob, laptop.identity.id, kept)
        assert first.account and first.id == record.id
        assert {p.id for p in first.identities} == {laptop.identity.id, record.recovery_identity().id}
        # by the account id too
        assert (await reach(bob, record.id)).id == record.id
        # add the phone (the link protocol, both sides at once), then remove the laptop
        record, _ = await link_device(laptop, record, phone)
        record = await accounts.remove_devices(phone, record, [laptop.identity.id])
        now = await reach(bob, laptop.identity.id, kept)
        assert {p.id for p in now.identities} == {phone.identity.id, record.recovery_identity().id}
        # a fresh sender, who never knew the laptop was alice's, learns it from the chain
        carol = await client(fresh_gateway, backend, "carol")
        fresh = await reach(carol, laptop.identity.id)
        assert {p.id for p in fresh.identities} == {phone.identity.id, record.recovery_identity().id}
        root = await bob.seal_upload([b"after the laptop was lost"], recipients=list(now.identities))
        assert await read(await phone.open(root)) == b"after the laptop was lost"
        # revoking "alice" also reaches the capsule bob made while the laptop was hers
        shared = await bob.seal_upload([b"shared before"], recipients=[])
        await accounts.share_with(bob, shared, first)
        revoked = await accounts.revoke_from(bob, shared, now)
        assert len(revoked) == 2  # the laptop's and the recovery key's
    run(go())


def test_an_id_in_a_strangers_removed_list_is_not_theirs(fresh_gateway, backend):
    async def go():
        victim, mallory, bob = [await client(fresh_gateway, backend, n) for n in ("victim", "mallory", "bob")]
        phrase, record = await accounts.create_account(mallory, "mallory")
        keys = await derive_recovery_keys(backend, secret_from_phrase(phrase))
        # mallory writes the victim's id into her own removed list (root-signed, so it verifies);
        # this gateway refuses it (the id was never a device of her account here), a lying one may not
        forged = await make_account_record(
            backend, name="mallory", root_key=record.root_key, recovery_key=record.recovery_key,
            version=2, prev=record, devices=list(record.devices), removed=[victim.identity.id],
            created=record.created, signer_id=record.id, signer_private=keys.root_private)
        with pytest.raises(AccountChainError):
            await mallory.publish_account(forged)
        # the victim is not locked out, and a seal to the victim reaches the victim only
        await victim.token()
        got = await reach(bob, victim.identity.id)
        assert not got.account and [p.id for p in got.identities] == [victim.identity.id]
        # even if a (lying) gateway points at mallory's account, the client refuses it
        with pytest.raises(AccountChainError):
            await accounts.account_reaching(bob, victim.identity.id, KnownAccount(forged, frozenset()))
    run(go())


def test_a_kept_account_is_never_rolled_back(fresh_gateway, backend):
    async def go():
        laptop, bob = await client(fresh_gateway, backend, "laptop"), await client(fresh_gateway, backend, "bob")
        phrase, v1 = await accounts.create_account(laptop, "alice")
        kept = await accounts.account_reaching(bob, v1.id, None)
        keys = await derive_recovery_keys(backend, secret_from_phrase(phrase))
        v2 = await make_account_record(backend, name="alice", root_key=v1.root_key, recovery_key=v1.recovery_key,
                                       version=2, prev=v1, devices=list(v1.devices), removed=[], created=v1.created,
                                       signer_id=v1.id, signer_private=keys.root_private)
        await laptop.publish_account(v2)
        newer = await accounts.account_reaching(bob, v1.id, kept)
        assert newer.record.version == 2
        # a gateway that answers with version 1 again, to a client that kept version 2
        with pytest.raises(AccountRollbackError):
            await verify_chain(backend, [v1.data], known=newer.record)
    run(go())


def test_a_reshare_closes_with_the_share_it_came_through(fresh_gateway, backend):
    async def go():
        bob, laptop, phone = [await client(fresh_gateway, backend, n) for n in ("bob", "laptop", "phone")]
        root = await bob.seal_upload([b"for the laptop"], recipients=[])
        capsule = await bob.share(root, laptop.identity.public, expires=NOW + 10 ** 8)
        again = await laptop.share(root, phone.identity.public)  # a re-share (as a re-wrap to a new device is)
        assert again.expires == NOW + 10 ** 8  # it never outlives the share it came from
        assert await read(await phone.open(root)) == b"for the laptop"
        await bob.request("DELETE", f"/v1/capsules/{cid_str(capsule.cid)}")
        with pytest.raises(RevokedError):
            await phone.open(root)
    run(go())


async def linked(gateway, backend, approver, record, name):
    """A new device linked by ``approver``: (its client, the new record)."""
    device = await client(gateway, backend, name)
    record, _ = await link_device(approver, record, device)
    return device, record


def test_a_share_revoked_since_does_not_stop_a_link(fresh_gateway, backend):
    async def go():
        laptop, mallory = await client(fresh_gateway, backend, "laptop"), await client(fresh_gateway, backend, "mal")
        _, record = await accounts.create_account(laptop, "alice")
        root = await mallory.seal_upload([b"bait"], recipients=[])
        capsule = await mallory.share(root, laptop.identity.public)
        await accounts.remember_shares(laptop, record, await laptop.inbox(include_acked=True))
        await mallory.request("DELETE", f"/v1/capsules/{cid_str(capsule.cid)}")
        mine = await laptop.seal_upload([b"mine"], recipients=accounts.account_recipients(record))
        await accounts.save_library(laptop, record, lambda lib: lib.put(f"envelope:{cid_str(mine)}", {}, NOW))
        phone, record = await linked(fresh_gateway, backend, laptop, record, "phone")
        assert record.device(phone.identity.id) is not None
        assert await read(await phone.open(mine)) == b"mine"
    run(go())


def test_revoked_decoys_do_not_crowd_out_a_live_share(fresh_gateway, backend):
    async def go():
        alice, carol, bob, dave = [await client(fresh_gateway, backend, n) for n in ("alice", "carol", "bob", "dave")]
        root = await alice.seal_upload([b"shared"], recipients=[carol.identity.public])
        await alice.share(root, bob.identity.public)
        for _ in range(20):  # carol, a co-recipient, stores and revokes newer shares to bob
            decoy = await carol.share(root, bob.identity.public)
            await carol.request("DELETE", f"/v1/capsules/{cid_str(decoy.cid)}")
        await bob.share(root, dave.identity.public)
        assert await read(await dave.open(root)) == b"shared"
    run(go())


def test_a_second_sealing_proof_is_no_second_notice(fresh_gateway, backend):
    async def go():
        from meshkit_web.core.proof import SEALED, make_proof
        alice, bob = await client(fresh_gateway, backend, "alice"), await client(fresh_gateway, backend, "bob")
        root = await alice.seal_upload([b"once"], recipients=[bob.identity.public])
        again = await make_proof(backend, alice.identity, SEALED, root, now=NOW + 5)
        await alice.request("POST", "/v1/proofs", body=again.data, content_type="application/cbor")
        notices = [m for m in await bob.inbox() if m["kind"] == "sealed"]
        assert [m["share"]["root"] for m in notices] == [cid_str(root)]
        # and a client may not post one itself
        refused = await alice.request("POST", f"/v1/mailbox/{bob.identity.id}?kind=sealed", body=b"{}", ok=(403,))
        assert refused.status == 403
    run(go())


def test_removing_a_device_removes_the_devices_it_added(fresh_gateway, backend):
    async def go():
        laptop = await client(fresh_gateway, backend, "laptop")
        _, record = await accounts.create_account(laptop, "alice")
        phone, record = await linked(fresh_gateway, backend, laptop, record, "phone")
        thiefs, record = await linked(fresh_gateway, backend, phone, record, "thiefs")  # added by the phone
        record = await accounts.remove_devices(laptop, record, [phone.identity.id])
        assert {d.id for d in record.devices} == {laptop.identity.id}
        assert {phone.identity.id, thiefs.identity.id} <= set(record.removed)
        with pytest.raises(MeshKitError) as refused:
            await thiefs.inbox()
        assert refused.value.code == "unauthorized"
    run(go())


def test_a_device_leaves_only_by_being_removed(fresh_gateway, backend):
    async def go():
        laptop = await client(fresh_gateway, backend, "laptop")
        _, record = await accounts.create_account(laptop, "alice")
        phone, record = await linked(fresh_gateway, backend, laptop, record, "phone")
        with pytest.raises(AccountChainError):  # the laptop drops the phone without saying so
            await make_account_record(backend, name="alice", root_key=record.root_key,
                                      recovery_key=record.recovery_key, version=record.version + 1, prev=record,
                                      devices=[record.device(laptop.identity.id)], removed=[],
                                      created=record.created, signer_id=laptop.identity.id,
                                      signer_private=laptop.identity.sig_private)
    run(go())


def test_the_gateway_refuses_a_reshare_that_outlives_or_escapes_its_source(fresh_gateway, backend):
    """A modified client re-sharing without the source's expiry or policy: refused, typed."""
    from meshkit_web.core.capsule import make_capsule
    from meshkit_web.core.errors import ForbiddenError

    async def go():
        alice, bob, dave = [await client(fresh_gateway, backend, n) for n in ("alice", "bob", "dave")]
        root = await alice.seal_upload([b"brief"], recipients=[])
        await alice.share(root, bob.identity.public, expires=NOW + 3600 * 24 * 365)
        wrapped, _ = await bob._own_wrapped_key(root)
        for expires in (None, NOW + 3600 * 24 * 400):  # forever, or longer than the source
            forged = await make_capsule(backend, bob.identity, root, bob.get_block, dave.identity.public,
                                        now=NOW, expires=expires, wrapped_key=wrapped)
            with pytest.raises(ForbiddenError):
                await bob.request("POST", "/v1/capsules", body=forged.data, content_type="application/cbor")
        honest = await bob.share(root, dave.identity.public)  # the client inherits the expiry
        assert honest.expires == NOW + 3600 * 24 * 365
    run(go())
