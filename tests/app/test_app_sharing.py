"""Two people and a visitor through the app's own controls, at 1280x800 and 390x844 (issue
25): a contact added and marked verified; a file shared with a person from its details and
stopped per person (the recipient's item keeps its name); a send link listed with its opens
(used up after one visit, after a reload); a file deleted for good from the trash, the usage
meter going down; offline, the files shown as last synced under a banner."""

import os
import re

import pytest
from playwright.sync_api import expect

from support.app_ui import app, create, details, goto
from support.axe import SIZES, accessible
from support.constants import BOOT_TIMEOUT

SHOTS = os.environ.get("MESHKIT_SCREENSHOTS")


def shot(page, name: str, full_page: bool = True) -> None:
    if SHOTS:  # a dialog, and a phone (its navigation is fixed at the bottom), as the screen shows it
        full_page = full_page and not name.startswith("phone")
        page.screenshot(path=os.path.join(SHOTS, f"sharing-{name}.png"), full_page=full_page)


def person(browser, base_url, size, name):
    context = browser.new_context(base_url=base_url, viewport=SIZES[size], accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    app(page)
    create(page, name)
    page.get_by_test_id("kit-wrote").click()  # the words off the screen (and out of the screenshots)
    return context, page


def upload(page, files):
    page.get_by_test_id("file-input").set_input_files(files=[
        {"name": name, "mimeType": "text/plain", "buffer": data} for name, data in files])
    rows = page.get_by_test_id("envelope-row")
    expect(rows).to_have_count(len(files), timeout=90_000)
    expect(page.locator("[data-testid=envelope-row][data-status=queued]")).to_have_count(0, timeout=90_000)


@pytest.mark.parametrize("size", list(SIZES))
def test_share_stop_per_person_links_with_opens_trash_and_offline(browser, base_url, size):
    alice_context, alice = person(browser, base_url, size, f"Alice {size}")
    bob_context, bob = person(browser, base_url, size, f"Bob {size}")
    try:
        # bob's contact link, added by alice, who marks bob verified after comparing
        goto(bob, "contacts")
        bob.get_by_test_id("copy-record").click()
        expect(bob.get_by_test_id("record-out")).to_have_value(re.compile("#contact="), timeout=30_000)
        link = bob.get_by_test_id("record-out").input_value()
        goto(alice, "contacts")
        alice.get_by_test_id("contact-input").fill(link)
        alice.get_by_test_id("contact-add").click()
        contact = alice.get_by_test_id("contact")
        expect(contact).to_contain_text(f"Bob {size}", timeout=30_000)
        contact.get_by_test_id("contact-verify").press("Enter")
        expect(contact.get_by_test_id("contact-verified")).to_be_visible()
        # the list is redrawn with the mark: the focus stays on the same person's button
        expect(contact.get_by_test_id("contact-unverify")).to_be_focused()
        accessible(alice, "contacts")

        goto(alice, "files")
        upload(alice, [("plan.txt", b"the plan " * 1000), ("old.txt", b"old " * 5000)])
        row = alice.locator("[data-testid=envelope-row]", has_text="plan.txt")
        root = row.get_attribute("data-root")

        # shared with bob from the details, listed per person with its own Stop
        panel = details(alice, row)
        expect(panel.get_by_test_id("share-to")).to_be_enabled(timeout=30_000)  # never drawn empty: loaded first
        panel.get_by_test_id("share-to").select_option(index=1)
        panel.get_by_test_id("share").click()
        shared = panel.get_by_test_id("access-share")
        expect(shared).to_contain_text(f"Bob {size}", timeout=30_000)
        expect(shared).to_have_attribute("data-state", "live")

        # a link for anyone, once: listed with its opens, still there after a reload
        panel.get_by_test_id("link-opens").select_option("1")
        panel.get_by_test_id("link-make").click()
        expect(panel.get_by_test_id("link-out")).to_be_visible(timeout=30_000)
        send_link = panel.get_by_test_id("link-out").input_value()
        expect(panel.get_by_test_id("link-row")).to_contain_text("opened 0 of 1 time")
        accessible(alice, "details")
        shot(alice, f"{size}-details", full_page=False)
        panel.get_by_test_id("details-close").click()

        # bob sees it in "Shared with me", by its name
        goto(bob, "shared")
        item = bob.locator(f"[data-testid=inbox-item][data-root='{root}']")
        expect(item.get_by_test_id("inbox-name")).to_have_text("plan.txt", timeout=30_000)
        accessible(bob, "shared with me")
        shot(bob, f"{size}-inbox")

        # a visitor spends the link's one open; alice's list says so after a reload
        visitor_context = browser.new_context(base_url=base_url, viewport=SIZES[size], accept_downloads=True)
        visitor = visitor_context.new_page()
        visitor.goto(send_link)
        visitor.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
        expect(visitor.get_by_test_id("sent-name")).to_have_text("plan.txt", timeout=30_000)
        with visitor.expect_download():
            visitor.get_by_test_id("sent-download").click()
        visitor_context.close()
        alice.reload()
        alice.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
        panel = details(alice, row)
        expect(panel.get_by_test_id("link-row")).to_have_attribute("data-state", "used_up", timeout=30_000)
        expect(panel.get_by_test_id("link-row")).to_contain_text("opened 1 of 1 time")

        # alice stops sharing with bob, from his line; bob's item says so and keeps its name
        panel.get_by_test_id("stop-sharing").click()
        expect(panel.get_by_test_id("access-share")).to_have_attribute("data-state", "revoked", timeout=30_000)
        panel.get_by_test_id("details-close").click()
        item.get_by_test_id("inbox-open").click()
        expect(bob.get_by_test_id("error")).to_contain_text("revoked", timeout=30_000)
        expect(item.get_by_test_id("inbox-name")).to_have_text("plan.txt")

        # old.txt to the trash, then deleted for good: the storage used goes down
        usage = alice.get_by_test_id("usage-text")
        expect(usage).to_contain_text("used", timeout=30_000)
        before = usage.inner_text()
        old = alice.locator("[data-testid=envelope-row]", has_text="old.txt")
        old.get_by_test_id("menu").click()
        old.get_by_test_id("delete").click()
        alice.get_by_test_id("trash-view").click()
        alice.once("dialog", lambda dialog: dialog.accept())
        alice.get_by_test_id("empty-trash").click()
        expect(alice.get_by_test_id("notice")).to_contain_text("Deleted 1 file for good", timeout=30_000)
        expect(usage).not_to_have_text(before, timeout=30_000)
        alice.get_by_test_id("crumb").first.click()
        expect(alice.get_by_test_id("envelope-row")).to_have_count(1)

        # offline: the app starts from this browser and shows the files as last synced
        alice_context.set_offline(True)
        alice.reload()
        alice.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
        expect(alice.get_by_test_id("offline")).to_be_visible()
        expect(alice.get_by_test_id("envelope-row")).to_have_count(1)
        expect(alice.get_by_test_id("envelope-row")).to_contain_text("plan.txt")
        shot(alice, f"{size}-offline")
        alice_context.set_offline(False)
    finally:
        alice_context.close()
        bob_context.close()
