"""Two people through the app's own controls (clicks and typing, no JS API for the steps),
at desktop and at phone size: account, contact link, fingerprint check, seal, share with an
expiry, the live inbox, open and Save under the sender's file name byte-exact, revoke and
the clear refusal. axe-core checks every view on the way (no serious or critical issue)."""

import json
import os
import pathlib
import re

import pytest
from playwright.sync_api import expect

from support.app_ui import details, goto, menu_item
from support.axe import SIZES, accessible
from support.constants import BOOT_TIMEOUT

def within_screen(locator, width: int) -> None:
    box = locator.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, box


def person(browser, base_url, size):
    context = browser.new_context(base_url=base_url, viewport=SIZES[size], accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    return context, page


def sign_up(page, name):
    page.get_by_label("Your name").fill(name)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_test_id("identity-select")).to_have_value(name)


@pytest.mark.parametrize("size", list(SIZES))
def test_two_people_share_a_file_through_the_app(browser, base_url, tmp_path, size):
    width = SIZES[size]["width"]
    alice_context, alice = person(browser, base_url, size)
    bob_context, bob = person(browser, base_url, size)
    accessible(alice, "first run")
    sign_up(alice, f"alice-{size}")
    sign_up(bob, f"bob-{size}")
    accessible(bob, "after sign-up")

    # bob sends his contact link; alice adds it and compares the fingerprint bob reads out
    goto(bob, "contacts")
    bob.get_by_role("button", name="Copy my contact link").click()
    expect(bob.get_by_test_id("record-out")).to_have_value(re.compile("#contact="))
    link = bob.get_by_test_id("record-out").input_value()
    assert bob.evaluate("navigator.clipboard.readText()") == link
    goto(bob, "settings")  # where his own fingerprint is shown
    bob_fingerprint = bob.get_by_test_id("fingerprint").inner_text()
    goto(bob, "files")  # away from "Shared with me": the new share is badged
    goto(alice, "contacts")
    alice.get_by_label("Add a contact").fill(link)
    alice.get_by_role("button", name="Add contact").click()
    expect(alice.get_by_test_id("notice")).to_contain_text(f"Fingerprint {bob_fingerprint}", timeout=20_000)
    expect(alice.get_by_test_id("contacts")).to_contain_text(bob_fingerprint)

    # alice encrypts a file and shares it with bob for a day
    source = tmp_path / "Q3 plan – final.pdf"
    source.write_bytes(os.urandom(5 * (1 << 20) + 99))
    goto(alice, "files")
    alice.get_by_test_id("file-input").set_input_files(str(source))
    try:
        expect(alice.get_by_test_id("seal-status")).to_have_text("Done", timeout=30_000)
    except AssertionError:
        raise AssertionError(json.dumps([alice.evaluate("meshkit.jobs.list()"), alice.evaluate("meshkit.capabilities()"), alice.evaluate("meshkit.diagnostics()")["log"]])[:3000])
    row = alice.get_by_test_id("envelope-row").first
    expect(row).to_contain_text("Q3 plan – final.pdf")
    for action in ("open", "menu"):
        within_screen(row.get_by_test_id(action), width)
    within_screen(menu_item(row, "save-streamed"), width)
    row.get_by_test_id("menu").click()  # closed again
    dialog = details(alice, row)
    for action in ("share-to", "share-expiry", "share"):
        within_screen(dialog.get_by_test_id(action), width)
    dialog.get_by_label("Share Q3 plan – final.pdf with").select_option(index=1)  # bob, the one contact
    dialog.get_by_label("Share expires").select_option(label="for 1 day")
    dialog.get_by_role("button", name="Share", exact=True).click()
    expect(alice.get_by_test_id("notice")).to_contain_text(f"Shared “Q3 plan – final.pdf” with bob-{size}")
    accessible(alice, "after sharing")

    # bob's open page shows it by itself, named from inside the envelope
    item = bob.get_by_test_id("inbox-item").first
    expect(item.get_by_test_id("inbox-name")).to_have_text("Q3 plan – final.pdf", timeout=20_000)
    expect(bob.get_by_test_id("inbox-new")).to_have_text("1 new")
    expect(bob.get_by_test_id("inbox-new")).to_be_visible()  # on the "Shared with me" tab
    goto(bob, "shared")
    expect(item).to_contain_text("until")  # the share's expiry
    within_screen(item.get_by_test_id("inbox-open"), width)
    accessible(bob, "inbox")
    with bob.expect_download() as download:
        item.get_by_test_id("inbox-open").click()
    assert download.value.suggested_filename == "Q3 plan – final.pdf"
    assert pathlib.Path(download.value.path()).read_bytes() == source.read_bytes()

    # alice saves her own copy through the worker, streamed
    dialog.get_by_test_id("details-close").click()
    with alice.expect_download() as saved:
        menu_item(row, "save-streamed").click()
    assert saved.value.suggested_filename == "Q3 plan – final.pdf"
    assert pathlib.Path(saved.value.path()).read_bytes() == source.read_bytes()

    # alice revokes; bob's next open is refused in plain words, where he clicked
    dialog = details(alice, row)
    bobs = dialog.get_by_test_id("access-share").filter(has_text=f"bob-{size}")
    expect(bobs).to_have_attribute("data-state", "live")
    within_screen(bobs.get_by_test_id("stop-sharing"), width)
    bobs.get_by_role("button", name=f"Stop sharing with bob-{size}").click()
    expect(alice.get_by_test_id("notice")).to_contain_text("Stopped sharing")
    item.get_by_test_id("inbox-open").click()
    alert = bob.get_by_test_id("error")
    expect(alert).to_contain_text("revoked by its owner")
    assert alert.evaluate("(e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")
    within_screen(alert, width)
    accessible(bob, "refusal")
    assert bob.evaluate("document.documentElement.scrollWidth") <= width
    alice_context.close()
    bob_context.close()
