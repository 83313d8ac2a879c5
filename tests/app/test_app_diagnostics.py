"""The app's "Copy diagnostics" (issue 13, CLI section: "the app gets the same"): a bundle
made after real failures says what went wrong (error codes, job states, recent log) and
holds no token, recovery phrase, file name or key."""

import json
import os

from playwright.sync_api import expect

from support.app_ui import app, goto
from support.constants import BOOT_TIMEOUT

MiB = 1 << 20


def test_copy_diagnostics_after_real_failures_is_redacted(browser, base_url, tmp_path):
    context = browser.new_context(base_url=base_url)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    tokens = []

    def keep_token(response):
        if response.url.endswith("/v1/auth/token") and response.ok:
            tokens.append(response.json()["token"])
    page.on("response", keep_token)
    app(page)
    made = page.evaluate("meshkit.identity.create('diag-dora')")
    phrase = made["recoveryPhrase"]
    page.reload()
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)

    # things go wrong: an open of something that is not there; an upload while offline
    missing = page.evaluate("meshkit.open('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', "
                            "{as: 'diag-dora'}).catch((e) => e.code)")
    assert missing in ("not_found", "missing_block"), missing
    source = tmp_path / "tax return 2026.pdf"
    source.write_bytes(os.urandom(MiB))
    context.set_offline(True)
    goto(page, "files")
    page.get_by_test_id("file-input").set_input_files(str(source))
    expect(page.get_by_test_id("seal-status")).to_contain_text("Waiting", timeout=60_000)

    goto(page, "settings")
    page.locator("summary", has_text="What this browser provides").click()
    page.get_by_test_id("copy-diagnostics").click()
    expect(page.get_by_test_id("diagnostics")).to_be_visible()
    text = page.get_by_test_id("diagnostics").input_value()
    assert page.evaluate("navigator.clipboard.readText()") == text
    bundle = json.loads(text)
    # useful: what broke, and where
    assert bundle["identities"][0]["name"] == "diag-dora" and bundle["capabilities"]["key_storage"]
    # (queued for the worker, or retrying in this page where Background Sync is not permitted)
    assert [(job["state"], job["error"]) for job in bundle["outbox"]] in ([("queued", None)], [("retrying", "unavailable")])
    assert bundle["online"] is False
    assert any("open failed: " + missing in line for line in bundle["log"]), bundle["log"]
    # the gateway's clock against this device's (learned from replies before going offline)
    assert bundle["clock"]["known"] and "in step" in bundle["clock"]["summary"], bundle["clock"]
    # and nothing secret
    assert tokens, "no token was ever issued: the test proves nothing"
    for secret in tokens + [phrase, " ".join(phrase.split()[:3]), "tax return 2026"]:
        assert secret not in text, secret
    context.close()
