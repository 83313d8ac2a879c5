"""The recovery kit in real Chromium (FORMAT.md 11.7), several browser contexts as several
devices: the laptop confirms the kit, the linked phone (which never saw the phrase) lists it
as confirmed; the laptop makes a new phrase (the kit turns "not confirmed" everywhere); in a
fresh profile the old phrase recovers nothing (typed: phrase_replaced, nothing kept) and the
new one restores the library."""

import pytest

from support.browser import OPEN_TEXT_JS, SEAL_TEXT_JS, call
from support.linking import browser_link

KIT = "return (await meshkit.identity.list()).map((i) => [i.name, i.recoveryKit]);"


@pytest.fixture
def devices(profiles):
    return profiles(3)


def test_confirm_on_one_device_replace_the_phrase_and_recover_with_the_new_one(devices):
    laptop, phone, fresh = devices
    made = call(laptop, "return await meshkit.identity.create('alice-laptop');")
    assert "error" not in made and made["recoveryKit"] == "not confirmed", made
    first = made["recoveryPhrase"]
    sealed = call(laptop, SEAL_TEXT_JS, {"as": "alice-laptop", "text": "the plans", "name": "plans.txt"})
    assert sealed["status"] == "uploaded", sealed
    request = call(phone, "return await meshkit.devices.requestLink({deviceName: 'alice-phone'});")
    approved, linked = browser_link(phone, laptop, "alice-laptop", request["link"])
    assert "error" not in approved and linked["recoveryKit"] == "not confirmed", (approved, linked)

    confirmed = call(laptop, "return await meshkit.identity.confirmRecoveryKit('alice-laptop', arg);", first)
    assert confirmed["confirmed"] is True and confirmed["accountVersion"] > linked["accountVersion"], confirmed
    # the phone never saw the phrase: it reads the account's confirmation
    assert call(phone, KIT) == [["alice-phone", "confirmed"]]
    assert call(phone, "return await meshkit.capabilities();")["recovery_kit"] == {"alice-phone": "confirmed"}

    new = call(laptop, "return await meshkit.identity.newRecoveryPhrase('alice-laptop');")
    assert "error" not in new, new
    assert new["recoveryPhrase"] != first and len(new["recoveryPhrase"].split()) == 24
    assert (new["account"], new["accountFingerprint"]) == (made["account"], made["accountFingerprint"])
    assert new["recoveryKit"] == "not confirmed" and new["librarySealed"] is True and new["rewrapped"] >= 1
    assert call(phone, KIT) == [["alice-phone", "not confirmed"]]
    old = call(laptop, "return await meshkit.identity.confirmRecoveryKit('alice-laptop', arg);", first)
    assert old["error"] == "phrase_replaced"

    # a fresh profile: the old phrase recovers nothing, the new one restores the library
    old = call(fresh, "return await meshkit.identity.recover('alice-new', arg);", first)
    assert old["error"] == "phrase_replaced"
    assert call(fresh, "return await meshkit.identity.list();") == []  # nothing half-made
    recovered = call(fresh, "return await meshkit.identity.recover('alice-new', arg);", new["recoveryPhrase"])
    assert recovered.get("account") == made["account"] and recovered["restored"] >= 1, recovered
    assert recovered["recoveryKit"] == "confirmed"
    assert call(fresh, OPEN_TEXT_JS, {"root": sealed["root"], "as": "alice-new"}) == "the plans"
    listed = call(fresh, "return await meshkit.envelopes('alice-new');")
    assert [e["name"] for e in listed if e["root"] == sealed["root"]] == ["plans.txt"]
    # no phrase reached a console, on any device
    logged = "\n".join(line for page in devices for line in page.console_lines)
    assert first not in logged and new["recoveryPhrase"] not in logged
