"""Issue 13 #6: a file is staged in the outbox before it is uploaded, so closing the tab
mid-upload loses nothing (the worker or the next visit finishes it); closing it while the
file is still being read and encrypted asks first."""

import os
import re

from playwright.sync_api import expect

MiB = 1 << 20


def app(page):
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=60_000)


def create(page, name):
    page.get_by_test_id("identity-name").fill(name)
    page.get_by_test_id("identity-name").press("Enter")
    expect(page.get_by_test_id("notice")).to_contain_text(name)


def test_closing_the_tab_mid_upload_loses_nothing(browser, base_url, tmp_path):
    context = browser.new_context(base_url=base_url, accept_downloads=True)
    page = context.new_page()
    app(page)
    create(page, "tab-closer")
    source = tmp_path / "holiday video.mp4"
    source.write_bytes(os.urandom(24 * MiB + 7))

    page.get_by_test_id("file-input").set_input_files(str(source))
    expect(page.get_by_test_id("seal-status")).to_contain_text("Encrypting", timeout=30_000)
    # the network goes while the file is being encrypted: the upload cannot finish
    context.set_offline(True)
    expect(page.get_by_test_id("seal-status")).to_have_text(re.compile("Uploading|Waiting"), timeout=60_000)
    jobs = page.evaluate("meshkit.jobs.list()")
    assert len(jobs) == 1 and jobs[0]["state"] in ("queued", "uploading", "retrying"), jobs
    assert jobs[0]["sent"] < jobs[0]["blocks"] == 25 + 1, jobs  # 25 segments and the header
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    later = context.new_page()  # a blank tab, for the next visit
    page.close(run_before_unload=True)  # staged: leaving is safe, so nothing asks
    assert dialogs == []

    context.set_offline(False)
    page = later  # the next visit: by now the worker, or this visit, finished the upload
    app(page)
    row = page.locator(f'[data-testid="envelope-row"][data-root="{jobs[0]["root"]}"]')
    expect(row).to_have_attribute("data-status", "uploaded", timeout=90_000)
    with page.expect_download() as download:
        row.get_by_test_id("open").click()
    saved = tmp_path / "back.bin"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "holiday video.mp4"
    assert saved.read_bytes() == source.read_bytes()
    context.close()


def test_leaving_while_the_file_is_being_encrypted_asks_first(browser, base_url, tmp_path):
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    app(page)
    create(page, "hasty")
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(160 * MiB))
    page.get_by_test_id("file-input").set_input_files(str(source))
    expect(page.get_by_test_id("seal-status")).to_contain_text("Encrypting", timeout=30_000)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))  # "stay on the page"
    page.close(run_before_unload=True)
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert not page.is_closed()
    context.close()


def test_the_shell_shows_at_once_and_core_loads_behind_it_with_progress(browser, base_url):
    """Issue 13 #9: the first visit shows the app's shell before Core is downloaded, with the
    download's progress in bytes; the app replaces it once Core is ready."""
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    held = []

    def slow_engine(route):  # the big file of a first visit, held until the shell was seen
        held.append(route)
    page.route("**/pyodide/python_stdlib.zip", slow_engine)
    page.goto("/")
    expect(page.get_by_role("heading", name="Getting MeshKit ready")).to_be_visible()
    expect(page.get_by_test_id("boot-stage")).to_contain_text(re.compile(r"[0-9.]+ of [0-9]+\.[0-9] MB"), timeout=30_000)
    page.wait_for_function("() => document.querySelector('[data-testid=boot-progress]').value > 0")
    assert page.evaluate("document.documentElement.dataset.meshkitReady") is None  # still loading
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the engine was never fetched"
    held[0].continue_()
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=60_000)
    expect(page.get_by_test_id("boot")).to_have_count(0)
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    context.close()
