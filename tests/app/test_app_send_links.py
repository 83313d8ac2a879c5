"""Issue 13, "Send to someone without an account yet": a link with its secret in the URL
fragment (never sent to a server), an expiry and a limit on its opens, end to end with
our envelope; through the app's buttons."""

import os

from playwright.sync_api import expect

from support.app_ui import details, download_by_clicking, signed_in
from support.constants import BOOT_TIMEOUT


def visit(browser, base_url, link):
    context = browser.new_context(base_url=base_url, accept_downloads=True)
    page = context.new_page()
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    page.goto(link)
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    return context, page, urls


def test_a_send_link_opens_once_for_someone_without_an_account_then_never(browser, base_url, tmp_path):
    sender, alice = signed_in(browser, base_url, "alice-sends")
    source = tmp_path / "Contract (signed).pdf"
    source.write_bytes(os.urandom(3 * (1 << 20) + 11))
    alice.get_by_test_id("file-input").set_input_files(str(source))
    row = alice.get_by_test_id("envelope-row").first
    expect(row).to_have_attribute("data-status", "uploaded", timeout=60_000)
    dialog = details(alice, row)  # links are made in the file's details
    dialog.get_by_test_id("link-expiry").select_option("1d")
    dialog.get_by_test_id("link-opens").select_option("1")
    dialog.get_by_test_id("link-make").click()
    expect(dialog.get_by_test_id("link-out")).to_be_visible(timeout=30_000)  # a new identity, its record, a capsule: seconds on a loaded CI
    link = dialog.get_by_test_id("link-out").input_value()
    assert "#send=" in link and link.startswith(base_url)
    secret = link.rsplit(".", 1)[1]
    expect(alice.get_by_test_id("notice")).to_contain_text("once")

    # a visitor is told what it is before opening anything: describing spends none of its opens
    for _ in range(2):
        peek_context, peek, _ = visit(browser, base_url, link)
        expect(peek.get_by_test_id("sent-name")).to_have_text("Contract (signed).pdf")
        expect(peek.get_by_test_id("sent-about")).to_contain_text("It opens once more.")
        peek_context.close()
    bob_context, bob, urls = visit(browser, base_url, link)
    expect(bob.get_by_test_id("sent")).to_be_visible()
    expect(bob.get_by_test_id("sent-about")).to_contain_text("3.0 MiB")
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

    # opened once: a second visitor is told so before pressing anything
    carol_context, carol, _ = visit(browser, base_url, link)
    expect(carol.get_by_test_id("sent-about")).to_contain_text("opened as many times as its sender allowed")
    expect(carol.get_by_test_id("sent-download")).to_be_disabled()
    carol_context.close()

    # a link the sender stopped does not open
    dialog.get_by_test_id("link-opens").select_option("")
    dialog.get_by_test_id("link-make").click()
    expect(dialog.get_by_test_id("link-out")).not_to_have_value(link)
    second = dialog.get_by_test_id("link-out").input_value()
    assert "#send=" in second
    dialog.get_by_test_id("link-stop").click()
    expect(alice.get_by_test_id("notice")).to_contain_text("no longer opens")
    dave_context, dave, _ = visit(browser, base_url, second)
    expect(dave.get_by_test_id("sent-about")).to_have_attribute("data-code", "revoked")
    expect(dave.get_by_test_id("sent-download")).to_be_disabled()
    dave_context.close()
    sender.close()


# Where the page is, each time the app's own code moves (its boot stages, ready): from an
# init script, which runs before any script of the page.
WATCH_JS = """
window.__where = [];
const note = (why) => window.__where.push([why, location.href]);
new MutationObserver(() => note("boot " + (document.documentElement.dataset.bootStage || "") + " "
  + (document.documentElement.dataset.meshkitReady || ""))).observe(document, {attributes: true, subtree: true,
  attributeFilter: ["data-boot-stage", "data-meshkit-ready", "data-meshkit-ui"]});
document.addEventListener("DOMContentLoaded", () => note("domcontentloaded"));
"""

DUMP_STORAGE_JS = """async () => {
  const out = [JSON.stringify({...localStorage}), JSON.stringify({...sessionStorage}), document.cookie,
               JSON.stringify(history.state), JSON.stringify(await caches.keys())];
  for (const {name} of await indexedDB.databases()) {
    const db = await new Promise((ok, fail) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error); });
    for (const store of db.objectStoreNames) {
      const all = await new Promise((ok) => { const r = db.transaction(store).objectStore(store).getAll();
        r.onsuccess = () => ok(r.result); r.onerror = () => ok([]); });
      out.push(JSON.stringify(all, (k, v) => v instanceof CryptoKey ? "key" : ArrayBuffer.isView(v)
        ? Array.from(v).join(",") : v));
    }
    db.close();
  }
  return out.join("\\n");
}"""


def test_a_send_links_secret_leaves_the_address_bar_before_the_app_runs(browser, base_url):
    """The page's first script takes the secret out of the address bar and the session
    history (replaceState), so it is gone before Pyodide boots and before any other code of
    the app runs; it is kept in memory only: in no storage, no history state, no
    diagnostics. A link pasted into an open app (a hash change, a new history entry) is
    taken out the same way, so Back and Forward never bring it back."""
    sender_context = browser.new_context(base_url=base_url)
    sender = sender_context.new_page()
    sender.goto("/")
    sender.wait_for_function("() => document.documentElement.dataset.meshkitReady === 'true'", timeout=BOOT_TIMEOUT)
    made = sender.evaluate("""async () => {
      await meshkit.identity.create('sam');
      const env = await meshkit.seal(new TextEncoder().encode('the minutes'), {from: 'sam', name: 'minutes.txt',
                                                                                 mode: 'direct'});
      const first = await meshkit.sendLinks.create(env.root, {from: 'sam', opens: 3});
      const second = await meshkit.sendLinks.create(env.root, {from: 'sam', opens: 3});
      return [first.link, second.link];
    }""")
    secrets = [link.split("#send=")[1].split(".")[1] for link in made]

    context = browser.new_context(base_url=base_url)
    context.add_init_script(WATCH_JS)
    page = context.new_page()
    page.goto(made[0])
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    expect(page.get_by_test_id("sent-name")).to_have_text("minutes.txt")
    where = page.evaluate("window.__where")
    assert any(why.startswith("boot download") for why, _ in where), where  # seen from the boot's start
    leaked = [(why, url) for why, url in where if secrets[0] in url]
    assert not leaked, f"the secret was still in the address bar when the app ran: {leaked}"
    assert "#" not in page.url

    # pasted into the open app: a new entry, rewritten at once; Back and Forward stay clean
    page.evaluate("(link) => { location.hash = link.split('#')[1]; }", made[1])
    expect(page.get_by_test_id("sent-about")).to_contain_text("minutes.txt")
    assert "#" not in page.url
    page.go_back()
    page.go_forward()
    assert secrets[1] not in page.url and "#" not in page.url

    # in memory only
    kept = page.evaluate(DUMP_STORAGE_JS) + page.evaluate("meshkit.diagnostics().then(JSON.stringify)")
    assert not any(secret in kept for secret in secrets)
    page.get_by_test_id("sent-download").click()
    expect(page.get_by_test_id("notice")).to_contain_text("Downloaded")
    kept = page.evaluate(DUMP_STORAGE_JS) + page.evaluate("meshkit.diagnostics().then(JSON.stringify)")
    assert not any(secret in kept for secret in secrets)
    context.close()
    sender_context.close()
