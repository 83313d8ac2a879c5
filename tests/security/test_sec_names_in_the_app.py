"""Names from other people reach every view of the app with their control, format and bidi
characters neutralised (core/text.py's one definition, as the CLI shows them): a sender's
file name "invoice\u202efdp.exe" must never read "invoiceexe.pdf". A hostile sender (a
client that seals names Core's sealer would have cleaned: the fault injected here) shares
files and makes a send link; the user also seals a local file with such a name. Then, in
Chromium: My envelopes rows, the inbox, notices, the access list, the send-link page and
every download name are checked, text nodes and attributes alike."""

import os
import time

from playwright.sync_api import expect

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.clients.send_links import create_send_link
from meshkit_web.core import envelope as envelope_module
from meshkit_web.core.identity import create_identity
from meshkit_web.core.metadata import FileMetadata
from meshkit_web.core.text import UNSAFE_RANGES
from meshkit_web.crypto.nacl_backend import NaclBackend

from support.aio import run
from support.app_ui import app, details, goto, menu_item, signed_in
from support.constants import BOOT_TIMEOUT

SHARED = ["invoice\u202efdp.exe", "pay\u2066lap\u2069 \u200breceipt\x1b[2J.txt"]
LINKED = "contract\u202ecod.scr"
LOCAL = "report\u202egnp.exe"

# every unsafe character but the tab and newline of the page's own markup
BAD_JS = "[" + "".join(f"\\u{{{a:x}}}-\\u{{{b:x}}}" for a, b in UNSAFE_RANGES).replace(
    "\\u{0}-\\u{1f}", "\\u{0}-\\u{8}\\u{b}-\\u{1f}") + "]"
SCAN_JS = """(source) => {
  const bad = new RegExp(source, "u");
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) if (bad.test(walker.currentNode.data)) found.push(walker.currentNode.data);
  for (const node of document.body.querySelectorAll("*")) {
    for (const attr of node.attributes) if (bad.test(attr.value)) found.push(`${attr.name}=${attr.value}`);
    if ("value" in node && typeof node.value === "string" && bad.test(node.value)) found.push(`value=${node.value}`);
  }
  if (bad.test(document.title)) found.push(document.title);
  return found;
}"""


def unsafe(text: str) -> bool:
    return any(a <= ord(c) <= b for c in text for a, b in UNSAFE_RANGES)


def hostile_sender(url, victim_id, monkeypatch):
    """A sender whose client seals names as they are (Core's sealer would have cleaned
    them): shares two files with the victim, makes a send link for a third."""
    monkeypatch.setattr(envelope_module, "make_metadata",
                        lambda name, type_, size, mtime=None: FileMetadata(str(name), "text/plain", size, None))

    async def go():
        backend = NaclBackend()
        mallory = await create_identity(backend, "mallory", int(time.time()))
        async with GatewayClient(url, backend, mallory) as client:
            await client.publish()
            victim = await client.resolve(victim_id)
            for name in SHARED:
                root = await client.seal_upload([os.urandom(3000)], recipients=[], metadata={"name": name})
                await client.share(root, victim)
            root = await client.seal_upload([b"signed"], recipients=[], metadata={"name": LINKED})
            fragment, _ = await create_send_link(client, root, opens=3)
        return f"{url}/#{fragment}"
    return run(go())


def downloaded_name(page, button) -> str:
    with page.expect_download() as download:
        button.click()
    return download.value.suggested_filename


def screenshots(page, name):
    folder = os.environ.get("MESHKIT_SCREENSHOTS")
    if folder:
        for width, height in ((1280, 800), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=os.path.join(folder, f"{name}-{width}.png"), full_page=width == 1280)


def test_no_control_format_or_bidi_character_of_a_name_reaches_any_view(browser, base_url, tmp_path, monkeypatch):
    context, page = signed_in(browser, base_url, "victim")
    victim_id = page.evaluate("meshkit.identity.list().then((l) => l[0].id)")
    link = hostile_sender(base_url, victim_id, monkeypatch)

    # the user's own file, named so on disk: a row, a notice, the outbox, a send link's label
    local = tmp_path / LOCAL
    local.write_bytes(os.urandom(5000))
    page.get_by_test_id("file-input").set_input_files(str(local))
    row = page.get_by_test_id("envelope-row").first
    expect(row).to_have_attribute("data-status", "uploaded", timeout=60_000)
    expect(row).to_contain_text("report\\u202egnp.exe")
    dialog = details(page, row)  # its details: the title, who can open it, its links
    expect(dialog.get_by_test_id("access-list")).to_be_visible()
    dialog.get_by_test_id("link-make").click()
    expect(dialog.get_by_test_id("link-out")).to_be_visible(timeout=30_000)
    dialog.get_by_test_id("details-close").click()
    downloads = [downloaded_name(page, row.get_by_test_id("open"))]

    # the inbox: what others sent, named from inside each envelope
    goto(page, "shared")
    page.get_by_test_id("inbox-refresh").click()
    expect(page.get_by_test_id("inbox-item")).to_have_count(len(SHARED), timeout=30_000)
    expect(page.get_by_test_id("inbox-name").filter(has_text="invoice\\u202efdp.exe")).to_have_count(1)
    for item in page.get_by_test_id("inbox-item").all():
        downloads.append(downloaded_name(page, item.get_by_test_id("inbox-open")))
    expect(page.get_by_test_id("notice")).to_contain_text("every block verified")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=60_000)
    page.reload()
    app(page)
    goto(page, "files")
    row = page.get_by_test_id("envelope-row").first
    downloads.append(downloaded_name(page, menu_item(row, "save-streamed")))  # the worker's download name
    dialog = details(page, row)
    expect(dialog.get_by_test_id("access-list")).to_be_visible()
    found = page.evaluate(SCAN_JS, BAD_JS)
    screenshots(page, "names-app")

    # the send-link page: what the link holds, then its download
    visitor = browser.new_context(base_url=base_url, accept_downloads=True)
    sent = visitor.new_page()
    sent.goto(link)
    sent.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    expect(sent.get_by_test_id("sent-name")).to_have_text("contract\\u202ecod.scr", timeout=30_000)
    downloads.append(downloaded_name(sent, sent.get_by_test_id("sent-download")))
    expect(sent.get_by_test_id("notice")).to_contain_text("Downloaded")
    found += sent.evaluate(SCAN_JS, BAD_JS)
    screenshots(sent, "names-send-link")

    assert not found, f"unsafe characters reached the page: {found!r}"
    assert len(downloads) == 5 and not any(unsafe(name) for name in downloads), downloads
    assert all(name.endswith((".exe", ".txt", ".scr")) for name in downloads), downloads  # kept whole, not cut
    visitor.close()
    context.close()
