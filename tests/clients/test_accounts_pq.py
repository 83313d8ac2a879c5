"""Post-quantum accounts on CPython through a real gateway (FORMAT.md 11.1-11.3, issue 26):
the account's X-Wing recovery key from the phrase, hybrid devices certified with their X-Wing
key, seals that pick X-Wing per recipient, and the phrase alone opening X-Wing entries."""

import pytest

from meshkit_web.clients.accounts import (account_recipients, create_account, new_recovery_phrase,
                                          open_with_recovery, recover_account)
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.account import derive_recovery_keys, secret_from_phrase
from meshkit_web.core.envelope import read_header
from meshkit_web.core.errors import UnsupportedError
from meshkit_web.core.hpke import KEM_X25519_SHA256, KEM_XWING
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.constants import NOW


async def read(opened) -> bytes:
    return b"".join([chunk async for chunk in opened.plaintext()])


def test_the_phrase_alone_opens_x_wing_entries_and_each_device_gets_its_strongest_suite(fresh_gateway, backend):
    async def go():
        laptop = await create_identity(backend, "laptop", NOW)  # hybrid by default here
        bob = await create_identity(backend, "bob", NOW)
        async with GatewayClient(fresh_gateway, backend, laptop) as on_laptop, \
                GatewayClient(fresh_gateway, backend, bob) as b:
            phrase, record = await create_account(on_laptop, "alice")
            keys = await derive_recovery_keys(backend, secret_from_phrase(phrase))
            assert record.pq_recovery_key == keys.pq_key and record.recovery_identity().kem == KEM_XWING
            assert record.device(laptop.id).device.pq_key == laptop.public.pq_key
            await b.publish()
            seen = await b.fetch_account(record.id)
            sealed = await b.seal_upload([b"for alice, post-quantum"], recipients=account_recipients(seen))
            header = await read_header(backend, sealed, b.get_block)
            assert {e.recipient: e.kem for e in header.recipients} == {
                laptop.id: KEM_XWING, record.id + ".recovery": KEM_XWING, bob.id: KEM_XWING}
        # every device lost; a classic device (a runtime without X-Wing keys) and the phrase alone
        phone = await create_identity(backend, "phone", NOW, pq=False)
        async with GatewayClient(fresh_gateway, backend, phone) as on_phone:
            recovered, keys = await recover_account(on_phone, phrase)
            assert recovered.pq_recovery_key == record.pq_recovery_key
            assert await read(await open_with_recovery(on_phone, sealed, recovered, keys)) == b"for alice, post-quantum"
            again = await on_phone.seal_upload([b"to both"], recipients=account_recipients(recovered))
            header = await read_header(backend, again, on_phone.get_block)
            assert {e.recipient: e.kem for e in header.recipients} == {
                laptop.id: KEM_XWING, phone.id: KEM_X25519_SHA256, record.id + ".recovery": KEM_XWING}
    run(go())


def test_a_new_phrase_brings_its_own_x_wing_recovery_key(fresh_gateway, backend):
    async def go():
        laptop = await create_identity(backend, "laptop", NOW)
        async with GatewayClient(fresh_gateway, backend, laptop) as on_laptop:
            _, record = await create_account(on_laptop, "alice")
            made = await new_recovery_phrase(on_laptop, record)
            new_keys = await derive_recovery_keys(backend, secret_from_phrase(made.phrase))
            assert made.record.current_pq_recovery_key == new_keys.pq_key != record.pq_recovery_key
            assert made.record.pq_recovery_key == record.pq_recovery_key  # the first one never changes
            sealed = await on_laptop.seal_upload([b"after"], recipients=account_recipients(made.record))
        phone = await create_identity(backend, "phone", NOW)
        async with GatewayClient(fresh_gateway, backend, phone) as on_phone:
            recovered, keys = await recover_account(on_phone, made.phrase)
            assert await read(await open_with_recovery(on_phone, sealed, recovered, keys)) == b"after"
    run(go())


def test_a_runtime_without_x_wing_cannot_make_a_post_quantum_account_phrase_classic(fresh_gateway, backend):
    """A device that cannot make an X-Wing key (Firefox, WebKit) is refused a new phrase for an
    account whose recovery key is X-Wing (unsupported), before anything is published: the
    account's recovery key never becomes classic (the chain refuses that too, FORMAT.md 11.3)."""
    class NoXWing(type(backend)):
        def pq_support(self):
            return {"keys": False, "seed": False, "encapsulate": False}

    async def go():
        laptop = await create_identity(backend, "laptop", NOW)
        async with GatewayClient(fresh_gateway, backend, laptop) as on_laptop:
            _, record = await create_account(on_laptop, "alice")
        async with GatewayClient(fresh_gateway, NoXWing(), laptop) as classic:
            with pytest.raises(UnsupportedError):
                await new_recovery_phrase(classic, record)
            seen = await classic.fetch_account(record.id, known=record)
            assert seen.version == record.version and seen.current_pq_recovery_key == record.pq_recovery_key
    run(go())


def test_a_linked_hybrid_device_is_certified_with_its_x_wing_key_and_gets_x_wing_capsules(fresh_gateway, backend):
    """Linking (FORMAT.md 11.5) certifies the new device's X-Wing key (its consent names it),
    and the library's re-wrap to it (a capsule per envelope) wraps with X-Wing."""
    from meshkit_web.clients.accounts import remember_sealed
    from support.linking import link_device

    async def go():
        laptop = await create_identity(backend, "laptop", NOW)
        phone = await create_identity(backend, "phone", NOW)
        async with GatewayClient(fresh_gateway, backend, laptop) as on_laptop, \
                GatewayClient(fresh_gateway, backend, phone) as on_phone:
            _, record = await create_account(on_laptop, "alice")
            root = await on_laptop.seal_upload([b"in the library"], recipients=account_recipients(record))
            assert await remember_sealed(on_laptop, record, cid(root), "notes", 14)
            await on_phone.publish()
            linked, seen = await link_device(on_laptop, record, on_phone)
            assert linked.device(phone.id).device.pq_key == phone.public.pq_key
            assert seen.device(phone.id).device.pq_key == phone.public.pq_key
            capsules = [c for c in await on_phone.capsules_for(root) if c["recipient"] == phone.id]
            assert capsules
            released = await on_phone.release(capsules[0]["cid"], root)
            assert released.wrapped_key.kem == KEM_XWING
            assert await read(await on_phone.open(root)) == b"in the library"
    run(go())


def cid(root: bytes) -> str:
    from meshkit_web.core.cid import cid_str
    return cid_str(root)
