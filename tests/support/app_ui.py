"""The app used as a person would (its own controls, in Chromium): its shell ready, an account
made through it, a download saved by a click."""

from playwright.sync_api import expect

from support.constants import BOOT_TIMEOUT


def app(page):
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)


def create(page, name):
    page.get_by_test_id("identity-name").fill(name)
    page.get_by_test_id("identity-name").press("Enter")
    expect(page.get_by_test_id("notice")).to_contain_text(name)
    # the app has redrawn for it (a first identity: the Files view is shown by then)
    expect(page.get_by_test_id("identity-select")).to_have_value(name, timeout=30_000)


def signed_in(browser, url, name):
    """A new browser context on ``url`` with an identity ``name`` made through the app."""
    context = browser.new_context(base_url=url)
    page = context.new_page()
    app(page)
    create(page, name)
    return context, page


def download_by_clicking(page, button, folder) -> tuple[str, bytes]:
    """(the name the browser would save under, the bytes) of the download a click starts."""
    with page.expect_download() as download:
        button.click()
    saved = folder / "downloaded.bin"
    download.value.save_as(saved)
    return download.value.suggested_filename, saved.read_bytes()


def goto(page, view):
    """One of the app's places, by its navigation: "files", "shared", "contacts", "settings"."""
    page.get_by_test_id(f"nav-{view}").click()
    expect(page.get_by_test_id(f"nav-{view}")).to_have_attribute("aria-current", "page")


def details(page, row):
    """A file's details dialog, opened from its row in Files (by its name's button)."""
    row.get_by_test_id("details-button").click()
    dialog = page.get_by_test_id("details")
    expect(dialog).to_be_visible()
    return dialog


def menu_item(row, testid):
    """An item of a file row's menu ("⋯"), the menu opened."""
    row.get_by_test_id("menu").click()
    return row.get_by_test_id(testid)
