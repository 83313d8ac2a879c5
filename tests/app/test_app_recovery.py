"""Recovery through the app's own controls (issue 25), at 1280x800 and 390x844, in Chromium
with CDP's virtual authenticator: the kit's words hidden by "I wrote them down", typed back
(confirmed for the account); a new recovery phrase from Settings (the kit shown again, not
confirmed); a passkey added with it; then, with everything the origin stored gone (a new
browser), "Recover with a passkey": no words, the same account, the file back."""

import re

import pytest
from playwright.sync_api import expect

from support.app_ui import goto
from support.axe import SIZES, accessible
from support.passkeys import device, forget_everything, localhost_app  # noqa: F401 (fixtures)


def words(page) -> str:
    return " ".join(page.get_by_test_id("kit-phrase").locator("li").all_inner_texts())


@pytest.mark.parametrize("size", list(SIZES))
def test_kit_new_phrase_and_recovery_by_passkey(device, localhost_app, size):
    page = device()
    page.set_viewport_size(SIZES[size])
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'")
    page.get_by_test_id("identity-name").fill("Alice Martin")
    page.get_by_test_id("device-name").fill("Laptop")
    page.get_by_test_id("identity-create").click()
    expect(page.get_by_test_id("kit-phrase").locator("li")).to_have_count(24, timeout=60_000)
    first = words(page)

    # "I wrote them down": the words leave the screen; typed back, the kit is confirmed
    page.get_by_test_id("kit-wrote").click()
    expect(page.get_by_test_id("kit-phrase").locator("li")).to_have_count(0)
    page.get_by_test_id("kit-retype").fill(first)
    page.get_by_test_id("kit-confirm").click()
    expect(page.get_by_test_id("kit")).to_be_hidden(timeout=30_000)
    page.get_by_test_id("file-input").set_input_files(files=[
        {"name": "letter.txt", "mimeType": "text/plain", "buffer": b"dear bob " * 100}])
    expect(page.locator("[data-testid=envelope-row][data-status=uploaded]")).to_have_count(1, timeout=90_000)
    goto(page, "settings")
    expect(page.get_by_test_id("recovery-state")).to_contain_text("is confirmed")
    expect(page.get_by_test_id("devices")).to_contain_text("Laptop")  # the device's name, not the person's
    accessible(page, f"settings at {size}")

    # a new phrase: shown once, different, and the kit is "not confirmed" again
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("new-phrase").click()
    expect(page.get_by_test_id("kit-phrase").locator("li")).to_have_count(24, timeout=60_000)
    second = words(page)
    assert second != first
    expect(page.get_by_test_id("recovery-state")).to_contain_text("not confirmed", timeout=30_000)

    # a passkey, added with the new phrase (the words unlock nothing else here)
    page.get_by_test_id("passkey-phrase").fill(second)
    page.get_by_test_id("passkey-add").click()
    expect(page.get_by_test_id("passkey")).to_have_count(1, timeout=60_000)

    # a new browser (nothing of the origin left): recovered by the passkey, no words typed
    fresh = forget_everything(page, localhost_app.origin)
    fresh.set_viewport_size(SIZES[size])
    fresh.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'")
    expect(fresh.get_by_test_id("join")).to_be_visible()
    fresh.get_by_test_id("join-name").fill("Alice Martin")
    fresh.get_by_test_id("join-passkey").click()
    expect(fresh.get_by_test_id("notice")).to_contain_text(re.compile("recovered with your passkey"), timeout=90_000)
    expect(fresh.get_by_test_id("nav-files")).to_have_attribute("aria-current", "page")
    expect(fresh.get_by_test_id("envelope-row")).to_contain_text("letter.txt", timeout=60_000)
    accessible(fresh, f"files after recovery at {size}")
