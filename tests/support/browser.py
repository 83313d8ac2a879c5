"""Driving the app's page in Chromium (Playwright): its boot, its API called from the page,
Core on the page's own thread, the service worker's own boot."""

from playwright.sync_api import Page

from meshkit_web.testing import MeshKitStartError, wait_for_meshkit
from support.constants import BOOT_TIMEOUT, CALL_TIMEOUT_MS


def ready(page: Page) -> None:
    """Our app at "/", started: the public fixtures' wait (meshkit_web.testing), which
    evaluates nothing in the page."""
    page.goto("/")
    try:
        wait_for_meshkit(page, timeout=BOOT_TIMEOUT / 1000)
    except MeshKitStartError as error:
        raise AssertionError(f"{error}: {page.inner_text('#app')}") from None


IN_PAGE_CORE_JS = """async () => {
  if (!globalThis.meshkitPy) {
    const base = new URL("../", document.querySelector('script[data-meshkit="app"]').src);
    const { createMeshKit } = await import(new URL("meshkit.js", base).href);
    globalThis.meshkitPy = (await createMeshKit({thread: "page", namespace: "in-page"})).pyodide;
  }
}"""


def in_page_core(page: Page) -> None:
    """``globalThis.meshkitPy``: a Pyodide with Core on the page's own thread (the app's runs
    in a worker), for tests that run Python in the browser directly."""
    page.evaluate(IN_PAGE_CORE_JS)


def call(page: Page, script: str, arg=None, *, timeout_ms: int = CALL_TIMEOUT_MS):
    """Run an async JS body with `arg`; MeshKit errors come back as {error: code, message}.
    A call that does not settle in ``timeout_ms`` fails the test, with the page's last
    console lines (a hang is a failure to read, never a stalled run)."""
    result = page.evaluate(f"""async ([arg, timeoutMs]) => {{
        const body = (async () => {{
            try {{ return await (async () => {{ {script} }})(); }}
            catch (e) {{ return {{error: e.code || e.name, message: String(e.message)}}; }}
        }})();
        const late = new Promise((resolve) => setTimeout(() => resolve({{__callTimedOut: true}}), timeoutMs));
        return await Promise.race([body, late]);
    }}""", [arg, timeout_ms])
    if isinstance(result, dict) and result.get("__callTimedOut"):
        console = "\n".join(getattr(page, "console_lines", [])[-30:])
        raise AssertionError(f"the call did not settle in {timeout_ms / 1000:.0f} s: {script.strip()[:200]}\n"
                             f"last console lines:\n{console}")
    return result


RANDOM_BYTES_JS = """
  const data = new Uint8Array(arg.size);
  for (let i = 0; i < data.length; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(data.length, i + 65536)));
"""


# ask the controlling worker to boot its Core; resolves with {ok, timings}
BOOT_WORKER_JS = """() => new Promise((resolve) => {
  const channel = new MessageChannel();
  channel.port1.onmessage = (event) => resolve(event.data);
  navigator.serviceWorker.controller.postMessage({meshkit: 'default', type: 'boot'}, [channel.port2]);
})"""


# Core's JS API from a test: a text file sealed (to arg.to, or to me only), opened back as
# text, or opened and hashed (SHA-256, hex)
SEAL_TEXT_JS = """
  const file = new File([new TextEncoder().encode(arg.text)], arg.name);
  return await meshkit.seal(file, {from: arg.as, to: arg.to || [], mode: "direct"});"""
OPEN_TEXT_JS = """
  const {blob} = await meshkit.open(arg.root, {as: arg.as});
  return await blob.text();"""
OPEN_DIGEST_JS = """
  const {blob} = await meshkit.open(arg.root, {as: arg.as});
  const digest = await crypto.subtle.digest("SHA-256", await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest)).map((b) => b.toString(16).padStart(2, "0")).join("");"""
