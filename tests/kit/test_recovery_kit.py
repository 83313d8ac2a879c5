"""kit.identity's recovery kit on CPython through a real gateway (FORMAT.md 11.7): confirmed on
one device, every device of the account reads it; a new phrase from a linked device; the old
phrase then recovers nothing (typed, nothing left behind), the new one restores the library."""

import asyncio

import pytest

from meshkit_web import MeshKit, MeshKitError
from meshkit_web.testing import run


async def link(new_kit, new_name, approver_kit, approver_name):
    """Both sides of a device link through the kit, the approver given the new device's short
    code (not its link): the code shown is the code typed."""
    request = await new_kit.devices.request_link(new_name)
    assert request.code not in repr(request) and request.link not in repr(request)
    shown = asyncio.get_running_loop().create_future()

    async def ask_code(offers):
        return await shown
    waiting = asyncio.ensure_future(new_kit.devices.wait_for_link(request.link, ask_code=ask_code, timeout=30))
    added = await approver_kit.devices.approve(approver_name, request.code, on_code=shown.set_result, timeout=30)
    assert added.name == new_name
    return await waiting


def test_the_kit_is_confirmed_account_wide_and_the_phrase_replaced(meshkit_gateway, tmp_path):
    url = meshkit_gateway.url

    async def go():
        async with MeshKit.connect(url, home=tmp_path / "laptop") as laptop, \
                MeshKit.connect(url, home=tmp_path / "phone") as phone:
            made = await laptop.identity.create("laptop")
            first = made.recovery_phrase
            assert made.recovery_kit == "not confirmed"
            sealed = await laptop.seal(b"the plans", from_="laptop", name="plans.txt")
            linked = await link(phone, "phone", laptop, "laptop")
            assert linked.account == made.account
            assert [i.recovery_kit for i in await phone.identity.list()] == ["not confirmed"]
            with pytest.raises(MeshKitError) as wrong:
                await laptop.identity.confirm_recovery_kit("laptop", " ".join(reversed(first.split())))
            assert wrong.value.code == "bad_phrase"
            confirmed = await laptop.identity.confirm_recovery_kit("laptop", first)
            assert confirmed.recovery_kit == "confirmed"
            # the phone never saw the phrase: it reads the account's confirmation
            assert [i.recovery_kit for i in await phone.identity.list()] == ["confirmed"]

            new = await phone.identity.new_recovery_phrase("phone")
            assert new.recovery_phrase != first and len(new.recovery_phrase.split()) == 24
            assert new.recovery_phrase not in repr(new)
            assert (new.account, new.account_fingerprint) == (made.account, made.account_fingerprint)
            assert new.recovery_kit == "not confirmed" and new.library_sealed and new.rewrapped >= 1
            assert [i.recovery_kit for i in await laptop.identity.list()] == ["not confirmed"]

        async with MeshKit.connect(url, home=tmp_path / "fresh") as fresh:
            with pytest.raises(MeshKitError) as old:
                await fresh.identity.recover("tablet", first)
            assert old.value.code == "phrase_replaced"
            assert await fresh.identity.list() == []  # nothing half-made
            back = await fresh.identity.recover("tablet", new.recovery_phrase)
            assert back.account == made.account and back.restored >= 1 and back.recovery_kit == "confirmed"
            assert await (await fresh.open(sealed.root, as_="tablet")).read() == b"the plans"
            assert "plans.txt" in {e.name for e in (await fresh.library("tablet")).envelopes}
    run(go())
