"""Accounts end to end on CPython through a real gateway: create (phrase shown once), seal
and share to the account, lose every device, recover from the phrase alone on a fresh one
(same id and fingerprint; everything opens again), remove the lost device."""

import os

import pytest

from meshkit_web.clients.accounts import (account_reaching, account_recipients, create_account, open_with_recovery,
                                          recover_account, remove_devices, share_with)
from meshkit_web.core.recipients import resolve_reach
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.account import RecoveryPhraseError
from meshkit_web.core.cid import cid_str
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.constants import NOW


async def read(opened) -> bytes:
    return b"".join([chunk async for chunk in opened.plaintext()])


async def share_with_account(sharer, root, who):
    """A share to ``who`` by the one rule (core.recipients): an account id reaches its devices."""
    reach = await resolve_reach(who, own=[], contacts=[], directory=sharer.resolve,
                                account=lambda ident: account_reaching(sharer, ident, None))
    assert reach.account
    return await share_with(sharer, root, reach)


def test_recover_from_the_phrase_alone_and_remove_the_lost_device(fresh_gateway, backend):
    gateway = fresh_gateway
    sealed_text, shared_text = os.urandom(70_000), os.urandom(50_000)

    async def go():
        laptop = await create_identity(backend, "laptop", NOW)
        bob = await create_identity(backend, "bob", NOW)
        async with GatewayClient(gateway, backend, laptop) as on_laptop, GatewayClient(gateway, backend, bob) as b:
            phrase, record = await create_account(on_laptop, "alice")
            assert len(phrase.split()) == 24 and phrase not in repr(record)
            await b.publish()
            # bob sees alice's account as its chain proves it, and seals and shares to it
            seen = await b.fetch_account(record.id)
            assert seen.fingerprint == record.fingerprint
            sealed = await b.seal_upload([sealed_text], recipients=account_recipients(seen))
            earlier = await b.seal_upload([shared_text], recipients=[])
            await share_with_account(b, earlier, seen.id)
            assert await read(await on_laptop.open(sealed)) == sealed_text
            assert await read(await on_laptop.open(earlier)) == shared_text

        # every device lost: a fresh one, the phrase alone
        phone = await create_identity(backend, "phone", NOW)
        async with GatewayClient(gateway, backend, phone) as on_phone:
            with pytest.raises(RecoveryPhraseError):  # one word swapped for another: checksum
                words = phrase.split()
                await recover_account(on_phone, " ".join(words[1:2] + words[:1] + words[2:]))
            assert (await on_phone.fetch_account(record.id)).version == 1  # nothing changed
            recovered, keys = await recover_account(on_phone, phrase)
            assert (recovered.id, recovered.fingerprint) == (record.id, record.fingerprint)
            assert {d.id for d in recovered.devices} == {laptop.id, phone.id}
            assert await read(await open_with_recovery(on_phone, sealed, recovered, keys)) == sealed_text
            assert await read(await open_with_recovery(on_phone, earlier, recovered, keys)) == shared_text
            del keys  # re-wrapped: the phone opens both without the phrase from now on
            assert await read(await on_phone.open(sealed)) == sealed_text
            assert await read(await on_phone.open(earlier)) == shared_text
            final = await remove_devices(on_phone, recovered, [laptop.id])
            assert [d.id for d in final.devices] == [phone.id] and laptop.id in final.removed

        async with GatewayClient(gateway, backend, laptop) as lost:
            with pytest.raises(MeshKitError) as refused:
                await lost.open(earlier)  # a share needs a token: refused for a removed device
            assert refused.value.code == "unauthorized"
        async with GatewayClient(gateway, backend, bob) as b:
            # new seals to the account skip the removed device
            current = await b.fetch_account(record.id, known=seen)
            assert laptop.id not in {p.id for p in account_recipients(current)}
    run(go())


def test_link_a_second_device_that_then_opens_everything_and_sees_the_library(fresh_gateway, backend):
    gateway = fresh_gateway
    import asyncio
    from meshkit_web.clients.accounts import (LinkCodeMismatchError, LinkError, approve_link, load_library,
                                              request_link, save_library)
    from support.linking import link_device
    texts = [os.urandom(30_000 + i) for i in range(3)]

    async def go():
        laptop, phone, bob = [await create_identity(backend, n, NOW) for n in ("laptop", "phone", "bob")]
        async with GatewayClient(gateway, backend, laptop) as on_laptop, GatewayClient(gateway, backend, bob) as b, \
                GatewayClient(gateway, backend, phone) as on_phone:
            _, record = await create_account(on_laptop, "alice")
            await b.publish()
            mine = await on_laptop.seal_upload([texts[0]], recipients=account_recipients(record))
            from_bob = await b.seal_upload([texts[1]], recipients=[])
            await share_with_account(b, from_bob, record.id)

            def remember(library):
                library.put(f"envelope:{cid_str(mine)}",
                            {"name": "report.pdf", "size": len(texts[0])}, NOW)
                library.put(f"envelope:{cid_str(from_bob)}", {"name": "from bob.txt", "size": len(texts[1])}, NOW)
                library.put(f"contact:{bob.id}", {"name": "bob", "fingerprint": bob.public.fingerprint}, NOW)
            await save_library(on_laptop, record, remember)

            # a wrong code typed on the phone: it joins nothing, and the account is unchanged
            with pytest.raises(LinkCodeMismatchError):
                await link_device(on_laptop, record, on_phone, timeout=5,
                                  typed=lambda code: "000 000" if code != "000 000" else "111 111")
            with pytest.raises(LinkError):
                await approve_link(on_laptop, record, "meshkit-link:nonsense", show_code=print)
            assert (await on_laptop.fetch_account(record.id)).version == 1
            approved, linked = await link_device(on_laptop, record, on_phone)
            assert approved.version == linked.version == 2 and linked.device(phone.id) is not None
            # the phone sees the library with names and opens all of it
            library, _ = await load_library(on_phone, linked)
            assert sorted(v["name"] for v in library.items("envelope").values()) == ["from bob.txt", "report.pdf"]
            assert library.items("contact")[bob.id]["fingerprint"] == bob.public.fingerprint
            for root, text in ((mine, texts[0]), (from_bob, texts[1])):
                assert await read(await on_phone.open(root)) == text
            # the same link again: already used, nothing changes
            with pytest.raises(LinkError):
                await approve_link(on_laptop, approved, (await request_link(on_phone)).link, show_code=print)
            # bob shares again, to the account as it is now: both devices open it
            again = await b.seal_upload([texts[2]], recipients=[])
            await share_with_account(b, again, record.id)
            for device in (on_laptop, on_phone):
                assert await read(await device.open(again)) == texts[2]
    run(go())
