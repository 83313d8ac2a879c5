"""Accounts in the app, in real Chromium: several browser contexts as several devices.
Create (the phrase once), seal, link a second device by its short code + code, see the library there
and open everything; every device lost: recover from the phrase in a fresh profile; remove
a device, whose next request fails typed. Mistakes change nothing."""

import re

import pytest

from support.browser import OPEN_DIGEST_JS, OPEN_TEXT_JS, SEAL_TEXT_JS, call, ready
from support.linking import browser_link

SEAL = """
  const file = new File([new Uint8Array(arg.size).map((_, i) => (i * 7) % 251)], arg.name);
  return await meshkit.seal(file, {from: arg.as, to: [], mode: "direct"});"""


@pytest.fixture
def devices(profiles):
    return profiles(3)


def test_link_recover_and_remove_devices_in_the_app(devices):
    laptop, phone, fresh = devices
    made = call(laptop, "return await meshkit.identity.create('alice-laptop', {deviceName: 'alice-laptop'});")
    assert "error" not in made, made
    phrase, account = made["recoveryPhrase"], {"account": made["account"], "fingerprint": made["accountFingerprint"]}
    assert len(phrase.split()) == 24 and account["account"].startswith("mk")
    caps = call(laptop, "return await meshkit.capabilities();")
    assert caps["recovery_kit"]["alice-laptop"] == "not confirmed" and "persistent" in caps["storage"]
    words = phrase.split()
    wrong = call(laptop, "return await meshkit.identity.confirmRecoveryKit('alice-laptop', arg);",
                 " ".join([words[1], words[0]] + words[2:]))
    assert wrong["error"] == "bad_phrase"
    assert call(laptop, "return await meshkit.identity.confirmRecoveryKit('alice-laptop', arg);", phrase) == {
        "confirmed": True, "accountVersion": 2}  # the account's record says it, for every device
    assert call(laptop, "return await meshkit.capabilities();")["recovery_kit"]["alice-laptop"] == "confirmed"
    assert phrase not in str(call(laptop, "return await meshkit.capabilities();"))

    sealed = call(laptop, SEAL, {"as": "alice-laptop", "size": 300_000, "name": "plans.pdf"})
    assert sealed["status"] == "uploaded", sealed
    digest = call(laptop, OPEN_DIGEST_JS, {"root": sealed["root"], "as": "alice-laptop"})

    # link the phone: it shows a link; the laptop shows a code, typed on the phone. A wrong
    # code there: the phone joins nothing
    request = call(phone, "return await meshkit.devices.requestLink({deviceName: 'alice-phone'});")
    # the link, and the short code that finds it (no comparison code before an account answered)
    assert set(request) == {"link", "code", "identity"} and re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", request["code"])
    _, bad = browser_link(phone, laptop, "alice-laptop", request["link"],
                          typed=lambda code: "000 000" if code != "000 000" else "111 111")
    assert bad["error"] == "link_code_mismatch"
    ready(laptop)  # a fresh page: the laptop's approval waited for a consent that never comes
    request = call(phone, "return await meshkit.devices.requestLink({deviceName: 'alice-phone'});")
    assert [d["new"] for d in call(laptop, "return await meshkit.devices.list('alice-laptop');")] == [False]
    # the laptop is given the phone's short code, typed sloppily, instead of the link
    approved, linked = browser_link(phone, laptop, "alice-laptop", request["link"],
                                    given=request["code"].lower().replace("-", " "))
    # a device added since the laptop last looked is flagged there, once, with who added it
    listed = {d["name"]: d for d in call(laptop, "return await meshkit.devices.list('alice-laptop');")}
    assert listed["alice-phone"]["new"] and listed["alice-phone"]["addedByName"] == "alice-laptop"
    assert listed["alice-laptop"]["addedByName"] == "the account's creation" and not listed["alice-laptop"]["new"]
    assert not any(d["new"] for d in call(laptop, "return await meshkit.devices.list('alice-laptop');"))
    assert approved["device"]["name"] == "alice-phone", approved
    assert linked["account"] == account["account"] and linked["accountFingerprint"] == account["fingerprint"]
    offers = phone.evaluate("() => window.offers")  # who asked was said before the code was typed
    assert [o["fingerprint"] for o in offers] == [account["fingerprint"]] and offers[0]["approverName"] == "alice-laptop"
    assert call(laptop, "return await meshkit.devices.approve('alice-laptop', arg.link, {onCode: () => {}});",
                request)["error"] == "bad_link"  # a link works once
    assert call(laptop, "return await meshkit.devices.approve('alice-laptop', arg.code, {onCode: () => {}});",
                request)["error"] == "bad_link"  # and so does its code
    assert call(laptop, "return await meshkit.devices.approve('alice-laptop', 'ZZZZZ-ZZZZZ', {onCode: () => {}});",
                request)["error"] == "bad_link"  # a code no device shows
    # the phone sees the library with names, and opens what the laptop sealed
    listed = call(phone, "return await meshkit.envelopes('alice-phone');")
    assert [e["name"] for e in listed if e["root"] == sealed["root"]] == ["plans.pdf"]
    assert call(phone, OPEN_DIGEST_JS, {"root": sealed["root"], "as": "alice-phone"}) == digest
    assert {d["name"] for d in call(phone, "return await meshkit.devices.list('alice-phone');")} == {
        "alice-laptop", "alice-phone"}

    # the laptop's site data is cleared, and the phone is stolen: recover in a fresh profile
    laptop.context.clear_cookies()
    laptop.evaluate("() => new Promise((resolve) => { const r = indexedDB.deleteDatabase('meshkit'); "
                    "r.onsuccess = r.onerror = r.onblocked = () => resolve(); })")
    typo = call(fresh, "return await meshkit.identity.recover('alice-new', arg);", " ".join(words[:-1] + ["zoo"]))
    assert typo["error"] == "bad_phrase"
    assert call(fresh, "return await meshkit.identity.list();") == []  # nothing half-made
    recovered = call(fresh, "return await meshkit.identity.recover('alice-new', arg);", phrase)
    assert (recovered["account"], recovered["accountFingerprint"]) == (account["account"], account["fingerprint"])
    assert recovered["restored"] >= 1
    assert call(fresh, OPEN_DIGEST_JS, {"root": sealed["root"], "as": "alice-new"}) == digest
    ids = {d["name"]: d["id"] for d in call(fresh, "return await meshkit.devices.list('alice-new');")}
    removed = call(fresh, "return await meshkit.devices.remove('alice-new', arg);",
                   [ids["alice-laptop"], ids["alice-phone"]])
    assert "error" not in removed, removed
    # the stolen phone's next request needing a token fails, typed
    assert call(phone, "return await meshkit.inbox('alice-phone');")["error"] == "unauthorized"
    # the phrase never reached a console (the page's or its logging), on any device
    logged = "\n".join(line for page in devices for line in page.console_lines)
    assert phrase not in logged and " ".join(words[5:9]) not in logged


def test_the_app_shows_the_kit_once_and_asks_for_it_back(page):
    ready(page)
    page.fill("[data-testid=identity-name]", "kit-owner")
    page.click("[data-testid=identity-create]")
    kit = page.get_by_test_id("kit")
    kit.wait_for(state="visible", timeout=30_000)
    words = page.get_by_test_id("kit-phrase").locator("li").all_inner_texts()
    assert len(words) == 24
    page.reload()  # the phrase is gone from the app; only the reminder is left
    ready(page)
    kit.wait_for(state="visible", timeout=30_000)
    assert page.get_by_test_id("kit-phrase").locator("li").count() == 0
    page.click("[data-testid=kit-start]")  # the reminder is one line until the person is ready
    page.fill("[data-testid=kit-retype]", " ".join(reversed(words)))
    page.click("[data-testid=kit-confirm]")
    page.locator("[data-testid=error][data-code=bad_phrase]").wait_for(timeout=30_000)  # typed, visible
    page.fill("[data-testid=kit-retype]", " ".join(words))
    page.click("[data-testid=kit-confirm]")
    kit.wait_for(state="hidden", timeout=30_000)
    assert call(page, "return (await meshkit.capabilities()).recovery_kit['kit-owner'];") == "confirmed"


@pytest.fixture
def four_devices(profiles):
    return profiles(4)


SHARE = "return await meshkit.share(arg.root, {from: arg.as, to: arg.to});"


def test_shares_from_another_person_reach_every_device_of_the_account(four_devices):
    """B shares with A's account (by the id of A's laptop, as B knows her); A links a phone:
    the phone opens B's earlier share and seal, and lists the share; B shares again: both
    devices open it. All of A's devices lost: the recovered device opens everything; after
    A removes them, B's next share no longer reaches the removed phone."""
    laptop, phone, fresh, bob = four_devices
    alice = call(laptop, "return await meshkit.identity.create('a-laptop', {deviceName: 'a-laptop'});")
    call(bob, "return await meshkit.identity.create('b');")
    phrase = alice["recoveryPhrase"]
    bob_record = call(bob, "return await meshkit.identity.record('b');")
    assert call(laptop, "return await meshkit.contacts.add(arg);", bob_record)["account"]  # bob's account, verified
    bobs = call(bob, SEAL_TEXT_JS, {"as": "b", "to": [], "text": "from bob, shared", "name": "notes.txt"})
    first = call(bob, SHARE, {"root": bobs["root"], "as": "b", "to": alice["id"]})
    assert first["to"] == alice["account"] and first["account"] is True, first
    sealed = call(bob, SEAL_TEXT_JS, {"as": "b", "to": [alice["id"]], "text": "sealed to alice", "name": "s.txt"})
    assert sealed["recipients"] == [alice["account"]]
    assert call(laptop, OPEN_TEXT_JS, {"root": bobs["root"], "as": "a-laptop"}) == "from bob, shared"
    assert any(m["share"]["root"] == bobs["root"] for m in call(laptop, "return await meshkit.inbox('a-laptop', {all: true});"))

    request = call(phone, "return await meshkit.devices.requestLink({deviceName: 'a-phone'});")
    approved, linked = browser_link(phone, laptop, "a-laptop", request["link"])
    assert "error" not in approved and "error" not in linked, (approved, linked)
    # the phone knows bob (the library's contacts), by the name the laptop saw
    assert [c["name"] for c in call(phone, "return await meshkit.contacts.list();") if c["id"] == bob_record["id"]] == ["b"]
    # the phone: bob's earlier share (listed and opened), and what bob sealed to alice
    received = call(phone, "return await meshkit.inbox('a-phone', {all: true});")
    assert bobs["root"] in {m["share"]["root"] for m in received if m.get("share")}, received
    assert call(phone, OPEN_TEXT_JS, {"root": bobs["root"], "as": "a-phone"}) == "from bob, shared"
    assert call(phone, OPEN_TEXT_JS, {"root": sealed["root"], "as": "a-phone"}) == "sealed to alice"
    # the phone's inbox holds no "share" notices for the laptop's re-wraps to it
    assert not [m for m in call(phone, "return await meshkit.inbox('a-phone');") if m["kind"] == "share"]
    # bob shares again, to the account as it is now: both devices open
    again = call(bob, SEAL_TEXT_JS, {"as": "b", "to": [], "text": "second", "name": "two.txt"})
    assert len(call(bob, SHARE, {"root": again["root"], "as": "b", "to": alice["id"]})["capsules"]) == 3
    for page, name in ((laptop, "a-laptop"), (phone, "a-phone")):
        assert call(page, OPEN_TEXT_JS, {"root": again["root"], "as": name}) == "second"

    # every device lost: recover, and everything opens again; then remove the lost ones
    recovered = call(fresh, "return await meshkit.identity.recover('a-new', arg);", phrase)
    assert recovered.get("account") == alice["account"], recovered
    for root, text in ((bobs["root"], "from bob, shared"), (sealed["root"], "sealed to alice"),
                       (again["root"], "second")):
        assert call(fresh, OPEN_TEXT_JS, {"root": root, "as": "a-new"}) == text
    ids = {d["name"]: d["id"] for d in call(fresh, "return await meshkit.devices.list('a-new');")}
    call(fresh, "return await meshkit.devices.remove('a-new', arg);", [ids["a-laptop"], ids["a-phone"]])
    # bob still knows alice by her old laptop's id: the seal reaches her account as it is now
    third = call(bob, SEAL_TEXT_JS, {"as": "b", "to": [alice["id"]], "text": "third", "name": "3.txt"})
    assert call(fresh, OPEN_TEXT_JS, {"root": third["root"], "as": "a-new"}) == "third"
    assert call(phone, OPEN_TEXT_JS, {"root": third["root"], "as": "a-phone"})["error"] == "unauthorized"
    header_ids = call(bob, "return (await meshkit.envelopes('b')).find((e) => e.root === arg).recipients;", third["root"])
    assert header_ids == [alice["account"]]
