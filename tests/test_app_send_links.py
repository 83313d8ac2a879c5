"""Issue 13, "Send to someone without an account yet": a link with its secret in the URL
fragment (never sent to a server), an expiry and a limit on its opens, end to end with
our envelope; through the app's buttons."""

import os

from playwright.sync_api import expect

from test_app_outbox_ui import download_by_clicking, signed_in


def visit(browser, base_url, link):
    context = browser.new_context(base_url=base_url, accept_downloads=True)
    page = context.new_page()
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(link)
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=60_000)
    return context, page, urls


def test_a_send_link_opens_once_for_someone_without_an_account_then_never(browser, base_url, tmp_path):
    sender, alice = signed_in(browser, base_url, "alice-sends")
    source = tmp_path / "Contract (signed).pdf"
    source.write_bytes(os.urandom(3 * (1 << 20) + 11))
    alice.get_by_test_id("file-input").set_input_files(str(source))
    row = alice.get_by_test_id("envelope-row").first
    expect(row).to_have_attribute("data-status", "uploaded", timeout=60_000)
    row.get_by_test_id("share-expiry").select_option("1d")
    row.get_by_test_id("link-opens").select_option("1")
    row.get_by_test_id("link-make").click()
    expect(row.get_by_test_id("link-out")).to_be_visible(timeout=30_000)  # a new identity, its record, a capsule: seconds on a loaded CI
    link = row.get_by_test_id("link-out").input_value()
    assert "#send=" in link and link.startswith(base_url)
    secret = link.rsplit(".", 1)[1]
    expect(alice.get_by_test_id("notice")).to_contain_text("once")

    bob_context, bob, urls = visit(browser, base_url, link)
    expect(bob.get_by_test_id("sent")).to_be_visible()
    if os.environ.get("MESHKIT_SCREENSHOTS"):  # the visitor's first view, to look at
        for width, height in ((1280, 800), (390, 844)):
            bob.set_viewport_size({"width": width, "height": height})
            bob.screenshot(path=os.path.join(os.environ["MESHKIT_SCREENSHOTS"], f"ui-send-link-{width}.png"))
    assert "#" not in bob.url  # the secret left the address bar
    bob.wait_for_timeout(1000)  # visiting alone opens nothing: the "once" is still there
    assert bob.evaluate("meshkit.identity.list()") == []  # no account
    got = download_by_clicking(bob, bob.get_by_test_id("sent-download"), tmp_path)
    assert got == ("Contract (signed).pdf", source.read_bytes())
    expect(bob.get_by_test_id("sent-name")).to_have_text("Contract (signed).pdf")
    assert not [u for u in urls if secret in u]  # never sent anywhere
    bob_context.close()

    # opened once: a second visitor is told so
    carol_context, carol, _ = visit(browser, base_url, link)
    carol.get_by_test_id("sent-download").click()
    expect(carol.get_by_test_id("error")).to_contain_text("opened as many times as its sender allowed")
    carol_context.close()

    # a link the sender stopped does not open
    row.get_by_test_id("link-opens").select_option("")
    row.get_by_test_id("link-make").click()
    expect(row.get_by_test_id("link-out")).not_to_have_value(link)
    second = row.get_by_test_id("link-out").input_value()
    assert "#send=" in second
    row.get_by_test_id("link-stop").click()
    expect(alice.get_by_test_id("notice")).to_contain_text("no longer opens")
    dave_context, dave, _ = visit(browser, base_url, second)
    dave.get_by_test_id("sent-download").click()
    expect(dave.get_by_test_id("error")).to_have_attribute("data-code", "revoked")
    dave_context.close()
    sender.close()
