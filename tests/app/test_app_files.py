"""The app as a file manager (issue 25), through its own controls at 1280x800 and 390x844:
several files and a folder uploaded, the folder entered, an image previewed (by its bytes),
search across folders, sort, a new folder and a move, multi-select to the trash and back,
folders kept in the account (not in this browser: read again with the local copy gone),
navigation between the four places, axe-core clean on each, screenshots to look at."""

import base64
import os

import pytest
from playwright.sync_api import expect

from support.app_ui import app, create, details, goto, menu_item
from support.axe import SIZES, accessible

SHOTS = os.environ.get("MESHKIT_SCREENSHOTS")  # a directory: save screenshots there to look at
# a 1x1 PNG: a preview shows it only because its bytes are a PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def shot(page, name: str) -> None:
    if SHOTS:  # a phone as its screen shows it (the navigation is fixed at the bottom)
        if name.startswith("phone"):
            page.evaluate("() => scrollTo(0, 0)")
        page.screenshot(path=os.path.join(SHOTS, f"files-{name}.png"), full_page=not name.startswith("phone"))


def names(page) -> list[str]:
    return [n.strip() for n in page.get_by_test_id("envelope-row").get_by_test_id("details-button").all_inner_texts()]


@pytest.mark.parametrize("size", list(SIZES))
def test_files_folders_search_trash_and_navigation(browser, base_url, tmp_path, size):
    context = browser.new_context(base_url=base_url, viewport=SIZES[size], accept_downloads=True)
    page = context.new_page()
    try:
        app(page)
        create(page, f"files-{size}")
        page.get_by_test_id("kit-wrote").click()   # the words leave the screen at once
        expect(page.get_by_test_id("kit-phrase").locator("li")).to_have_count(0)
        expect(page.get_by_test_id("nav-files")).to_have_attribute("aria-current", "page")

        trip = tmp_path / "Trip"
        trip.mkdir()
        (trip / "beach.png").write_bytes(PNG)
        (trip / "notes.txt").write_text("sunscreen")
        page.get_by_test_id("file-input").set_input_files(files=[
            {"name": "budget.txt", "mimeType": "text/plain", "buffer": b"1" * 3000},
            {"name": "agenda.txt", "mimeType": "text/plain", "buffer": b"2"}])
        page.get_by_test_id("folder-input").set_input_files(str(trip))
        rows = page.get_by_test_id("envelope-row")
        expect(rows).to_have_count(2, timeout=90_000)      # the folder's files are in the folder
        folder = page.locator("[data-testid=folder-row][data-folder='Trip']")
        expect(folder).to_contain_text("2 files", timeout=90_000)
        expect(page.locator("[data-testid=envelope-row][data-status=queued]")).to_have_count(0, timeout=90_000)
        shot(page, f"{size}-root")

        # sort: by name, by size (biggest first)
        page.get_by_test_id("sort").select_option("name")
        assert names(page) == ["agenda.txt", "budget.txt"]
        page.get_by_test_id("sort").select_option("size")
        assert names(page) == ["budget.txt", "agenda.txt"]

        # into the folder: its two files; the image previews, under the type its bytes prove
        folder.get_by_test_id("folder-open").click()
        expect(page.get_by_test_id("crumbs")).to_contain_text("Trip")
        expect(rows).to_have_count(2)
        beach = page.locator("[data-testid=envelope-row]", has_text="beach.png")
        menu_item(beach, "preview-file").click()
        preview = page.get_by_test_id("details").get_by_test_id("preview")
        expect(preview).to_be_visible(timeout=30_000)
        page.wait_for_function("(img) => img.complete && img.naturalWidth === 1", arg=preview.element_handle())
        assert preview.get_attribute("src").startswith("blob:")
        shot(page, f"{size}-folder-preview")
        page.get_by_test_id("details-close").click()

        # search: across folders, saying where each one is
        page.get_by_test_id("crumb").first.click()
        page.get_by_test_id("search").fill("NOTES")
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("in Trip")
        page.get_by_test_id("search").fill("")

        # a new folder, and a file moved into it from its menu
        page.get_by_test_id("new-folder").click()
        page.get_by_test_id("folder-name").fill("Work")
        page.get_by_test_id("folder-name").press("Enter")
        expect(page.locator("[data-testid=folder-row][data-folder='Work']")).to_be_visible()
        budget = page.locator("[data-testid=envelope-row]", has_text="budget.txt")
        menu_item(budget, "move").click()
        page.get_by_test_id("move-to").select_option("Work")
        page.get_by_test_id("bulk-move").click()
        expect(rows).to_have_count(1)
        expect(page.locator("[data-testid=folder-row][data-folder='Work']")).to_contain_text("1 file")

        # two selected, to the trash; one restored from it
        page.locator("[data-testid=folder-row][data-folder='Trip']").get_by_test_id("folder-open").click()
        page.get_by_test_id("select-all").check()
        expect(page.get_by_test_id("bulk-count")).to_have_text("2 selected")
        page.get_by_test_id("bulk-delete").click()
        expect(page.get_by_test_id("files-empty")).to_be_visible()
        page.get_by_test_id("trash-view").click()
        expect(page.get_by_test_id("trash-view")).to_have_text("Trash (2)")
        expect(rows).to_have_count(2)
        shot(page, f"{size}-trash")
        page.locator("[data-testid=envelope-row]", has_text="notes.txt").get_by_test_id("restore").click()
        expect(rows).to_have_count(1)

        # the folders and the trash live in the account, not in this browser's local copy
        page.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith('meshkit.places')).forEach((k) => localStorage.removeItem(k))")
        page.reload()
        page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'")
        expect(page.locator("[data-testid=folder-row][data-folder='Work']")).to_contain_text("1 file")
        expect(page.get_by_test_id("trash-view")).to_have_text("Trash (1)")

        # the four places, each reachable, each clean for axe-core
        for view in ("files", "shared", "contacts", "settings"):
            goto(page, view)
            accessible(page, f"{view} at {size}")
            shot(page, f"{size}-{view}")
        if size == "phone":  # the navigation stays on screen, at the bottom
            box = page.get_by_test_id("nav").bounding_box()
            assert box["y"] + box["height"] <= SIZES[size]["height"] + 1 and box["y"] > SIZES[size]["height"] / 2, box
    finally:
        context.close()
