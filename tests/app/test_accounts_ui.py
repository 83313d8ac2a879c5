"""The account screens of the app, used as a person would (real Chromium, three profiles):
create (the kit), link a second browser by its link/QR and code, see the same account
fingerprint there, remove a device, and recover a third browser from the phrase."""

import os
import re

from playwright.sync_api import expect

from support.app_ui import goto
from support.browser import call
from support.constants import BOOT_TIMEOUT

SHOTS = os.environ.get("MESHKIT_SCREENSHOTS")  # a directory: save screenshots there to look at


def shoot(page, name, card=None):
    """The page at 1280x800 and 390x844 (and ``card`` alone, to read it at phone width)."""
    if SHOTS:
        for width, height in ((1280, 800), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=os.path.join(SHOTS, f"accounts-{name}-{width}.png"), full_page=True)
            if card:
                page.get_by_test_id(card).screenshot(path=os.path.join(SHOTS, f"accounts-{name}-{width}-{card}.png"))
        page.set_viewport_size({"width": 1280, "height": 800})


def test_link_remove_and_recover_through_the_screens(profiles):
    laptop, phone, fresh = profiles(3)
    for page in (laptop, phone, fresh):
        page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    laptop.fill("[data-testid=identity-name]", "ui-laptop")
    laptop.click("[data-testid=identity-create]")
    laptop.get_by_test_id("kit").wait_for(state="visible", timeout=30_000)
    words = laptop.get_by_test_id("kit-phrase").locator("li").all_inner_texts()
    goto(laptop, "settings")  # the account and its devices are under Settings
    account = laptop.get_by_test_id("account")
    account.wait_for(state="visible", timeout=30_000)
    fingerprint = laptop.get_by_test_id("account-fingerprint").inner_text()
    assert laptop.get_by_test_id("fingerprint").inner_text() == fingerprint  # the one people check
    assert laptop.get_by_test_id("join").is_hidden()
    laptop.get_by_test_id("device").first.wait_for(timeout=30_000)  # the list fills in after the card shows
    assert laptop.get_by_test_id("device").count() == 1

    # the phone: a name, "Link this browser": a link and its QR code
    phone.fill("[data-testid=join-name]", "ui-phone")
    phone.click("[data-testid=join-link]")
    phone.get_by_test_id("link-shown").wait_for(state="visible", timeout=30_000)
    url = phone.get_by_test_id("link-url").input_value()
    assert "#link=" in url
    dark = phone.evaluate("""() => { const c = document.querySelector('[data-testid=link-qr]');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
      for (let i = 0; i < d.length; i += 4) n += d[i] < 128; return n / (d.length / 4); }""")
    assert 0.2 < dark < 0.8  # a drawn code, not a blank canvas
    shoot(phone, "link-request", "join")

    def approve_on_laptop(by_code: bool = False) -> str:
        """The laptop adds the device: by opening its link (the form is filled in), or by the
        short code the phone shows, typed (loosely: lower case, no dash). The code it shows."""
        if by_code:
            short = phone.get_by_test_id("link-short-code").inner_text()
            assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", short), short
            laptop.fill("[data-testid=approve-link]", short.replace("-", "").lower())
            laptop.click("[data-testid=approve]")
            laptop.get_by_test_id("approve-code").wait_for(state="visible", timeout=60_000)
            return laptop.get_by_test_id("approve-code").inner_text()
        laptop.goto(url)
        laptop.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
        assert laptop.get_by_test_id("approve-link").input_value().startswith("meshkit-link:")
        # the link's nonce (which authenticates the linking) left the address bar and the tab's history
        assert "link=" not in laptop.evaluate("location.href") and "link=" not in laptop.evaluate(
            "JSON.stringify(history.state) + document.URL")
        laptop.click("[data-testid=approve]")
        laptop.get_by_test_id("approve-code").wait_for(state="visible", timeout=60_000)
        return laptop.get_by_test_id("approve-code").inner_text()

    # a wrong code typed on the phone: it joins nothing, and the laptop is told
    code = approve_on_laptop()
    assert len(code.replace(" ", "")) == 6
    phone.get_by_test_id("link-code-form").wait_for(state="visible", timeout=60_000)
    assert fingerprint in phone.get_by_test_id("link-asker").inner_text()  # which account asks, before the code
    shoot(phone, "link-code", "join")
    phone.fill("[data-testid=link-code-input]", "000 000" if code != "000 000" else "111 111")
    phone.click("[data-testid=link-code-submit]")
    phone.locator("[data-testid=error][data-code=link_code_mismatch]").wait_for(timeout=30_000)
    laptop.locator("[data-testid=error][data-code=link_code_mismatch]").wait_for(timeout=30_000)
    assert laptop.get_by_test_id("device").count() == 1
    # again, with the code the laptop shows
    phone.click("[data-testid=join-link]")
    phone.wait_for_function("(old) => document.querySelector('[data-testid=link-url]').value !== old", arg=url,
                            timeout=30_000)
    url = phone.get_by_test_id("link-url").input_value()
    # the phone is waiting for its link now (a person reads the code off it after this)
    expect(phone.get_by_test_id("notice")).to_contain_text("type the code shown here", timeout=30_000)
    code = approve_on_laptop(by_code=True)  # the short code: nothing long moved by hand
    shoot(laptop, "approve", "account")
    phone.get_by_test_id("link-code-form").wait_for(state="visible", timeout=60_000)
    phone.fill("[data-testid=link-code-input]", code)
    phone.click("[data-testid=link-code-submit]")
    laptop.locator("[data-testid=device]").nth(1).wait_for(timeout=60_000)
    # the phone is in: the same account fingerprint, its own device key
    phone.get_by_test_id("nav").wait_for(state="visible", timeout=60_000)  # joined: no longer the first run
    goto(phone, "settings")
    phone.get_by_test_id("account").wait_for(state="visible", timeout=60_000)
    assert phone.get_by_test_id("account-fingerprint").inner_text() == fingerprint
    assert phone.get_by_test_id("device-fingerprint").inner_text() != laptop.get_by_test_id("device-fingerprint").inner_text()
    shoot(laptop, "devices", "account")

    # the laptop removes the phone (after a confirmation)
    laptop.once("dialog", lambda dialog: dialog.accept())
    laptop.locator("[data-testid=device]", has_text="ui-phone").get_by_test_id("device-remove").click()
    laptop.wait_for_function("() => document.querySelectorAll('[data-testid=device]').length === 1", timeout=30_000)
    assert call(phone, "return await meshkit.inbox('ui-phone');")["error"] == "unauthorized"

    # a third browser recovers with the phrase: a typo first (nothing made), then the words
    fresh.fill("[data-testid=join-name]", "ui-new")
    fresh.click("details.recover summary")
    fresh.fill("[data-testid=recover-phrase]", " ".join(words[:-1] + [words[0]]))
    fresh.click("[data-testid=join-recover]")
    fresh.locator("[data-testid=error][data-code=bad_phrase]").wait_for(timeout=30_000)
    assert call(fresh, "return await meshkit.identity.list();") == []
    shoot(fresh, "recover", "join")
    fresh.fill("[data-testid=recover-phrase]", " ".join(words))
    fresh.click("[data-testid=join-recover]")
    fresh.get_by_test_id("nav").wait_for(state="visible", timeout=60_000)
    goto(fresh, "settings")
    fresh.get_by_test_id("account").wait_for(state="visible", timeout=60_000)
    assert fresh.get_by_test_id("account-fingerprint").inner_text() == fingerprint
    assert fresh.get_by_test_id("recover-phrase").input_value() == ""  # not left on screen
    # the app's sign-up asks no device name (yet): the laptop is named from its platform
    assert {fresh.get_by_test_id("device").nth(i).locator("strong").inner_text() for i in range(2)} == {
        "Chrome on Linux", "ui-new"}
