"""The browser runtime in real Chromium: Pyodide + our wheel, WebCrypto, IndexedDB."""

from playwright.sync_api import Page

from support.constants import BOOT_TIMEOUT


def ready(page: Page) -> None:
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitReady", timeout=BOOT_TIMEOUT)
    state = page.evaluate("document.documentElement.dataset.meshkitReady")
    assert state == "true", page.inner_text("#app")


def test_boots_offline_and_reports_capabilities(page: Page):
    ready(page)
    caps = page.evaluate("meshkit.capabilities()")
    assert caps["crypto"]["backend"] == "webcrypto"
    assert caps["key_storage"]["mode"] == "non-extractable"
    assert caps["persistence"]["mode"] == "indexeddb"
    assert caps["runtime"].startswith("pyodide (Python 3.14")
