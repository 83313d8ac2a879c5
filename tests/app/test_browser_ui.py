"""The PWA as a person uses it: keyboard and clicks, real files, real downloads."""

import json
import os
import re
import time

from playwright.sync_api import Page, expect

from support.app_ui import details, goto
from support.browser import call
from support.constants import BOOT_TIMEOUT

SHOTS = os.environ.get("MESHKIT_SCREENSHOTS")  # a directory: save screenshots there to look at


def shot(page: Page, name: str) -> None:
    """The page at 1280x800 and at 390x844, as it is now (to look at)."""
    if SHOTS:
        size = page.viewport_size
        for width, height in ((1280, 800), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=os.path.join(SHOTS, f"ui-{name}-{width}.png"))
        page.set_viewport_size(size)


def app(page: Page) -> None:
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)


def test_manifest_and_icons_make_it_installable(page: Page, base_url):
    app(page)
    href = page.get_attribute("link[rel=manifest]", "href")
    manifest = page.request.get(base_url + href)
    assert manifest.ok and manifest.headers["content-type"].startswith("application/manifest+json")
    data = json.loads(manifest.text())
    assert data["start_url"] == "/" and data["display"] == "standalone" and data["name"] == "MeshKit"
    sizes = {icon["sizes"] for icon in data["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in data["icons"]:
        reply = page.request.get(base_url + icon["src"])
        assert reply.ok and reply.headers["content-type"] == icon["type"], icon
        if icon["type"] == "image/png":
            assert reply.body()[:8] == b"\x89PNG\r\n\x1a\n"


def test_create_identity_seal_list_and_download_with_the_keyboard(page: Page, tmp_path):
    app(page)
    shot(page, "empty")
    caps = page.get_by_test_id("capabilities")
    expect(caps).to_contain_text("non-extractable")
    expect(caps).to_contain_text("indexeddb")

    page.get_by_test_id("identity-name").fill("keyboard-kim")
    page.get_by_test_id("identity-name").press("Enter")
    expect(page.get_by_test_id("notice")).to_contain_text("keyboard-kim")
    me = page.evaluate("meshkit.identity.list()")[0]
    goto(page, "settings")  # the identity card
    expect(page.get_by_test_id("fingerprint")).to_have_text(me["accountFingerprint"])  # the one people check
    expect(page.get_by_test_id("device-fingerprint")).to_have_text(me["fingerprint"])
    goto(page, "files")

    source = tmp_path / "report.pdf"
    source.write_bytes(os.urandom((1 << 20) * 2 + 321))
    page.get_by_test_id("file-input").set_input_files(str(source))
    expect(page.get_by_test_id("seal-status")).to_have_text("Done", timeout=30_000)
    assert page.eval_on_selector("[data-testid=seal-progress]", "p => p.value === p.max")
    row = page.get_by_test_id("envelope-row").first
    expect(row).to_contain_text("report.pdf")
    expect(row).to_contain_text("2.0 MiB")
    root = row.get_attribute("data-root")
    dialog = details(page, row)  # the root, under the file's technical details
    dialog.locator("summary", has_text="Technical details").click()
    assert root.startswith("bafy") and dialog.get_by_test_id("details-root").inner_text() == root
    dialog.get_by_test_id("details-close").click()
    shot(page, "sealed")

    open_button = row.get_by_test_id("open")
    open_button.focus()
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    saved = tmp_path / "downloaded.bin"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "report.pdf"
    assert saved.read_bytes() == source.read_bytes()


def test_contacts_sharing_inbox_and_a_clear_error(two_users, base_url):
    alice, bob = two_users
    app(alice)
    app(bob)
    for page, name in ((alice, "ui-alice"), (bob, "ui-bob")):
        page.get_by_test_id("identity-name").fill(name)
        page.get_by_test_id("identity-create").click()
        expect(page.get_by_test_id("identity-select")).to_have_value(name)
    goto(bob, "contacts")
    bob.get_by_test_id("copy-record").click()
    expect(bob.get_by_test_id("record-out")).to_have_value(re.compile("^" + re.escape(base_url + "/#contact=")))
    link = bob.get_by_test_id("record-out").input_value()
    assert len(link) < len(base_url) + 130  # short: an id, a fingerprint and the account id; the record is in the directory

    alice.goto(link)  # opening a contact link offers to add it
    expect(alice.get_by_test_id("contact-input")).to_have_value(link)
    alice.get_by_test_id("contact-add").click()
    expect(alice.get_by_test_id("contacts")).to_contain_text("ui-bob")

    goto(alice, "files")
    alice.get_by_test_id("file-input").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"meet at noon"}])
    expect(alice.get_by_test_id("seal-status")).to_have_text("Done", timeout=30_000)
    row = alice.get_by_test_id("envelope-row").first
    root = row.get_attribute("data-root")

    # bob cannot open it yet: a plain-language alert with the typed code
    bob.evaluate("([root]) => window.__tryOpen = meshkit.open(root, {as: 'ui-bob'}).catch(e => e.code)", [root])
    assert bob.evaluate("window.__tryOpen") == "not_recipient"

    dialog = details(alice, row)  # sharing is in the file's details
    dialog.get_by_test_id("share-to").select_option(label=None, index=1)
    dialog.get_by_test_id("share-expiry").select_option("1d")
    dialog.get_by_test_id("share").click()
    expect(alice.get_by_test_id("notice")).to_contain_text("Shared")
    shot(alice, "shared")

    goto(bob, "shared")
    bob.get_by_test_id("inbox-refresh").click()
    item = bob.get_by_test_id("inbox-item").first
    expect(item).to_have_attribute("data-root", root)
    expect(item.get_by_test_id("inbox-name")).to_have_text("notes.txt")  # what it is, from inside the envelope
    shot(bob, "inbox")
    with bob.expect_download() as download:
        item.get_by_test_id("inbox-open").click()
    assert open(download.value.path(), "rb").read() == b"meet at noon"
    assert download.value.suggested_filename == "notes.txt"  # saved under the sender's name

    # on a phone: the file's actions are inside the screen, not in a sideways-scrolling table
    alice.set_viewport_size({"width": 390, "height": 844})
    person = dialog.get_by_test_id("access-share").filter(has_text="ui-bob")
    for action in (dialog.get_by_test_id("share"), person.get_by_test_id("stop-sharing")):
        box = action.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (action, box)
    assert alice.evaluate("document.documentElement.scrollWidth") <= 390
    person.get_by_test_id("stop-sharing").click()
    expect(alice.get_by_test_id("notice")).to_contain_text("Stopped sharing “notes.txt” with ui-bob")
    bob.set_viewport_size({"width": 390, "height": 844})
    item.get_by_test_id("inbox-open").click()
    alert = bob.get_by_test_id("error")
    expect(alert).to_be_visible()
    # where the user is looking: at the item they pressed, inside the screen
    assert alert.evaluate("(e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")
    assert alert.evaluate("(e) => !!e.closest('[data-testid=inbox-item]')")
    expect(alert).to_contain_text("revoked by its owner")
    expect(alert).to_have_attribute("data-code", "revoked")
    shot(bob, "revoked")
    # alice sees who can open it: bob's share, now revoked
    expect(person).to_have_attribute("data-state", "revoked")
    expect(person).to_contain_text("sharing stopped")
    expect(person.get_by_test_id("stop-sharing")).to_have_count(0)
    for action in ("open", "menu"):  # and the row's own controls, at phone width
        box = row.get_by_test_id(action).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (action, box)
    # from then on the item says so, and does not look openable
    bob.get_by_test_id("inbox-refresh").click()
    item = bob.get_by_test_id("inbox-item").first
    expect(item.get_by_test_id("inbox-state")).to_contain_text("revoked by its owner")
    expect(item.get_by_test_id("inbox-open")).to_be_disabled()
    # one entry per person (bob, whichever of his keys the share reached), and nobody else for
    # good: sealed to her own account alone (its devices and recovery key), and the dialog
    # lists only other people under "cannot be taken back"
    people, others = dialog.get_by_test_id("access-share"), dialog.get_by_test_id("access-recipient")
    said = {"people": people.all_inner_texts(), "forever": others.all_inner_texts(),
            "me": alice.evaluate("meshkit.identity.list()"),
            "access": alice.evaluate("(root) => meshkit.access(root, {as: 'ui-alice'})", root)}
    assert (people.count(), others.count()) == (1, 0), f"who can open it, as the dialog lists it: {said}"
    # sealed in Chromium to her account (a Chromium device, a phrase-derived recovery key): every
    # entry is post-quantum, and the dialog says so
    assert {r["suite"] for r in said["access"]["recipients"]} == {"x-wing"}, said["access"]
    expect(dialog.get_by_test_id("access-suite")).to_have_attribute("data-classic", "0")
    expect(dialog.get_by_test_id("access-suite")).to_contain_text("Post-quantum encryption for everyone")
    dialog.get_by_test_id("details-close").click()


def test_a_new_share_appears_by_itself(two_users):
    """Bob's page is open and left alone; Alice shares: it shows up within seconds, badged."""
    alice, bob = two_users
    for page in (alice, bob):
        app(page)
    call(alice, "return await meshkit.identity.create('live-alice');")
    made = call(bob, "return await meshkit.identity.create('live-bob');")
    bob.reload()
    app(bob)
    goto(bob, "files")  # away from "Shared with me": the new share is badged
    time.sleep(4)  # the page has looked at the mailbox once: what is there now is not new
    sealed = call(alice, """const f = new File([new TextEncoder().encode('fresh')], 'fresh.txt', {type: 'text/plain'});
                            return await meshkit.seal(f, {from: 'live-alice', name: 'fresh.txt', mode: 'direct'});""")
    call(alice, "return await meshkit.share(arg.root, {from: 'live-alice', to: arg.to});",
         {"root": sealed["root"], "to": made["id"]})
    item = bob.locator(f"[data-testid=inbox-item][data-root='{sealed['root']}']")
    item.wait_for(state="attached", timeout=15_000)  # no click on Refresh
    expect(bob.get_by_test_id("inbox-new")).to_have_text("1 new")
    expect(bob.get_by_test_id("inbox-new")).to_be_visible()
    goto(bob, "shared")
    expect(item.get_by_test_id("inbox-name")).to_have_text("fresh.txt")


def test_overlapping_refreshes_show_each_file_once(page: Page, tmp_path):
    """The worker's news, a finished upload and a new controller all redraw the lists, and
    they overlap: only the latest draws, so no file shows twice (it did in CI: the same
    root in two rows)."""
    app(page)
    page.get_by_test_id("identity-name").fill("refresh-rae")
    page.get_by_test_id("identity-name").press("Enter")
    expect(page.get_by_test_id("notice")).to_contain_text("refresh-rae")
    source = tmp_path / "notes.txt"
    source.write_bytes(os.urandom(70_000))
    page.get_by_test_id("file-input").set_input_files(str(source))
    expect(page.get_by_test_id("seal-status")).to_have_text("Done", timeout=30_000)
    expect(page.get_by_test_id("envelope-row")).to_have_count(1)
    for _ in range(4):  # four redraws at once, as events from the worker and other tabs can come
        page.evaluate("navigator.serviceWorker.dispatchEvent(new Event('controllerchange'))")
    page.wait_for_timeout(2000)
    expect(page.get_by_test_id("envelope-row")).to_have_count(1)
    expect(page.get_by_test_id("envelope-row")).to_contain_text("notes.txt")
