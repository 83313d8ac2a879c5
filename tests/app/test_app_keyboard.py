"""The main journey with the keyboard only (issue 25), at 1280x800 and 390x844: sign up,
hide the kit's words, upload through the file chooser, open a file's menu and its details,
close them (focus back where it was), move between the four places; and a list of files that
stays short to Tab through (few stops per file, where each row used to repeat ~9 controls)."""

import pytest
from playwright.sync_api import expect

from support.app_ui import app
from support.axe import SIZES

ACTIVE = "() => { const a = document.activeElement; return a && (a.dataset.testid || a.id || a.tagName); }"


def tab_to(page, testid: str, limit: int = 80, back: bool = False) -> int:
    """Tab (or Shift+Tab) until the focused element is ``testid``: how many presses it took."""
    for count in range(1, limit + 1):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate(ACTIVE) == testid:
            return count
    raise AssertionError(f"{testid} not reached in {limit} presses (at {page.evaluate(ACTIVE)})")


@pytest.mark.parametrize("size", list(SIZES))
def test_the_main_journey_by_keyboard(browser, base_url, size):
    context = browser.new_context(base_url=base_url, viewport=SIZES[size])
    page = context.new_page()
    # file choosers caught from the start: Playwright turns the interception on without
    # waiting, so one asked for just before the key press can miss it on a loaded machine
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))
    try:
        app(page)
        tab_to(page, "identity-name")
        page.keyboard.type(f"Kim {size}")
        tab_to(page, "device-name")
        page.keyboard.press("Enter")   # submits the sign-up form
        expect(page.get_by_test_id("kit-phrase").locator("li")).to_have_count(24, timeout=60_000)
        # the kit is announced: focus is on its heading
        assert page.evaluate("() => document.activeElement.id") == "kit-h"
        tab_to(page, "kit-wrote")
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("kit-phrase").locator("li")).to_have_count(0)

        # upload through the chooser the Upload button opens; focus stays on the button
        tab_to(page, "drop-zone")
        page.keyboard.press("Enter")
        for _ in range(300):
            if choosers:
                break
            page.wait_for_timeout(100)
        assert choosers, "Enter on Upload files opened no file chooser"
        choosers[0].set_files(files=[{"name": f"note-{i:02}.txt", "mimeType": "text/plain",
                                        "buffer": f"note {i}".encode()} for i in range(12)])
        rows = page.locator("[data-testid=envelope-row][data-status=uploaded]")
        expect(rows).to_have_count(12, timeout=120_000)
        assert page.evaluate(ACTIVE) == "drop-zone"

        # Tab through the whole list: a few stops per file (select, name, Open, menu)
        first = tab_to(page, "select-all")
        stops = tab_to(page, "menu", limit=20)  # the first row's menu
        assert stops <= 4, stops
        page.keyboard.press("Enter")           # the menu opens on its first item
        menu = page.locator("[data-testid=file-menu]:not([hidden])")
        expect(menu).to_have_count(1)
        page.keyboard.press("Escape")          # closes, focus back on its button
        expect(menu).to_have_count(0)
        assert page.evaluate(ACTIVE) == "menu"
        page.keyboard.press("Enter")
        for _ in range(8):                     # down to "Share and links…"
            if page.evaluate(ACTIVE) == "share-open":
                break
            page.keyboard.press("ArrowDown")
        assert page.evaluate(ACTIVE) == "share-open"
        page.keyboard.press("Enter")
        dialog = page.get_by_test_id("details")
        expect(dialog).to_be_visible()
        assert page.evaluate("() => document.querySelector('dialog.details').contains(document.activeElement)")
        # the list is redrawn under the open dialog (another upload lands): the row's menu
        # button the focus goes back to is a new element by then
        opened_root = page.evaluate("() => document.querySelector('tr[data-root]').dataset.root")  # the first row's
        page.get_by_test_id("file-input").set_input_files(files=[{"name": "late.txt", "mimeType": "text/plain",
                                                                  "buffer": b"late"}])
        expect(rows).to_have_count(13, timeout=120_000)
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert page.evaluate(ACTIVE) == "menu"  # where the person was
        assert page.evaluate("() => document.activeElement.closest('tr').dataset.root") == opened_root
        # every file is reachable in a bounded number of stops (12 files: at most ~5 each)
        total = tab_to(page, "nav-files", limit=200, back=True)
        assert first + total < 12 * 5 + 40, (first, total)

        # the places, by keyboard: the view's heading takes the focus
        for view, heading in (("contacts", "contacts-h"), ("settings", "who-h"), ("shared", "inbox-h")):
            tab_to(page, f"nav-{view}", back=True)
            page.keyboard.press("Enter")
            expect(page.get_by_test_id(f"nav-{view}")).to_have_attribute("aria-current", "page")
            assert page.evaluate("() => document.activeElement.id") == heading
    finally:
        context.close()
