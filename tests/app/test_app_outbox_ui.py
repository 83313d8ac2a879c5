"""Issue 13 #6: a file is staged in the outbox before it is uploaded, so closing the tab
mid-upload loses nothing (the worker or the next visit finishes it); closing it while the
file is still being read and encrypted asks first."""

import os
import re

from playwright.sync_api import Error as PlaywrightError, expect

from support.app_ui import app, create, download_by_clicking, signed_in
from support.browser import call
from support.constants import BOOT_TIMEOUT
from support.faulty_gateway import Gateway

MiB = 1 << 20


def test_closing_the_tab_mid_upload_loses_nothing(browser, base_url, tmp_path):
    context, page = signed_in(browser, base_url, "tab-closer")
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

    for _ in range(10):  # set_offline goes through every page: wait until the closed tab is gone
        try:
            context.set_offline(False)
            break
        except PlaywrightError:
            later.wait_for_timeout(300)
    page = later  # the next visit: by now the worker, or this visit, finished the upload
    app(page)
    row = page.locator(f'[data-testid="envelope-row"][data-root="{jobs[0]["root"]}"]')
    expect(row).to_have_attribute("data-status", "uploaded", timeout=90_000)
    assert download_by_clicking(page, row.get_by_test_id("open"), tmp_path) == ("holiday video.mp4", source.read_bytes())
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
    if os.environ.get("MESHKIT_SCREENSHOTS"):  # the shell, to look at
        for width, height in ((1280, 800), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=os.path.join(os.environ["MESHKIT_SCREENSHOTS"], f"ui-loading-{width}.png"))
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the engine was never fetched"
    held[0].continue_()
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    expect(page.get_by_test_id("boot")).to_have_count(0)
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    context.close()


def _gateway(site, folder, **config):
    return Gateway(site, folder, **config).start()


def test_a_file_bigger_than_the_quota_is_refused_before_anything_is_sent(browser, site, tmp_path):
    """Issue 13 #7: which limit, by how much; no upload, no job, no Retry that cannot help."""
    gateway = _gateway(site, tmp_path / "gw", storage_quota=2 << 20)
    try:
        context, page = signed_in(browser, gateway.url, "too-big")
        source = tmp_path / "big.iso"
        source.write_bytes(os.urandom(3 << 20))
        page.get_by_test_id("file-input").set_input_files(str(source))
        alert = page.get_by_test_id("error")
        expect(alert).to_have_attribute("data-code", "quota_exceeded", timeout=30_000)
        expect(alert).to_contain_text(re.compile(r"needs 3\.\d MB and [0-9.]+ [KM]B of your 2\.1 MB storage is free"))
        assert alert.evaluate("(e) => !!e.closest('.card')")  # at the seal card, where the user is
        expect(page.get_by_test_id("seal-status")).to_have_text("Failed")
        assert page.evaluate("meshkit.jobs.list()") == [] and not gateway.faults.puts
        expect(page.get_by_test_id("job-retry")).to_have_count(0)
        context.close()
    finally:
        gateway.stop()


def test_an_upload_over_the_rate_limit_is_paced_and_lands(browser, site, tmp_path):
    """Issue 13 #7: a rate limit is waited out (the gateway's Retry-After), never reported
    as 'cannot be reached', and the file lands."""
    gateway = _gateway(site, tmp_path / "gw", rate_limit="40/5 seconds")
    try:
        context, page = signed_in(browser, gateway.url, "pacer")
        source = tmp_path / "many-blocks.bin"
        source.write_bytes(os.urandom(80 * MiB // 2))  # 40 segments: more requests than the window allows
        statuses = []
        page.get_by_test_id("file-input").set_input_files(str(source))
        for _ in range(240):
            text = page.get_by_test_id("seal-status").inner_text()
            statuses.append(text)
            if text == "Done":
                break
            page.wait_for_timeout(250)
        assert statuses[-1] == "Done", statuses[-5:]
        assert not [s for s in statuses if "cannot be reached" in s]
        assert sum(gateway.faults.puts.values()) > 41  # some block was sent again after a pause
        context.close()
    finally:
        gateway.stop()


def test_a_staged_upload_reaches_the_account_library_so_a_recovery_finds_it(browser, base_url, tmp_path):
    """Losing the device loses nothing: a file the app staged and uploaded is in the
    account's library, so recovering from the phrase elsewhere lists and opens it."""
    context, page = signed_in(browser, base_url, "lib-owner")
    expect(page.get_by_test_id("kit-phrase").locator("li")).to_have_count(24)  # shown once, at creation
    phrase = " ".join(page.get_by_test_id("kit-phrase").locator("li").all_inner_texts())
    assert len(phrase.split()) == 24
    source = tmp_path / "family photos.zip"
    source.write_bytes(os.urandom(3 * MiB))
    page.get_by_test_id("file-input").set_input_files(str(source))
    expect(page.get_by_test_id("seal-status")).to_have_text("Done", timeout=60_000)
    root = page.get_by_test_id("envelope-row").first.get_attribute("data-root")
    context.close()  # the device is gone

    elsewhere = browser.new_context(base_url=base_url)
    fresh = elsewhere.new_page()
    app(fresh)
    call(fresh, "return await meshkit.identity.recover('lib-new', arg);", phrase)
    listed = call(fresh, "return await meshkit.envelopes('lib-new');")
    assert [(e["root"], e["name"]) for e in listed if e["root"] == root] == [(root, "family photos.zip")], listed
    opened = call(fresh, "const o = await meshkit.open(arg, {as: 'lib-new'}); return {size: o.size, name: o.name};", root)
    assert opened == {"size": 3 * MiB, "name": "family photos.zip"}
    elsewhere.close()
