"""examples/notes, an app built on the meshkit-web package only, as the SDK's integration
tests: the package as `python build.py --sdk` writes it, vendored at /vendor/meshkit/ by an
app on its own origin (its own page, CSP and service worker), a real gateway on another
origin (tests/support/notes_app.py).

Chromium (pytest-playwright's ``browser``): seal and reopen after a reload; share with
someone else, who opens it, then revoke, and their open fails typed; an upload finished by
the app's worker after every page closed; a streamed download of an attachment through the
worker; an offline start with the gateway stopped; a second app of the origin (another
namespace) that sees none of it; no takeover of the origin's other pages; a gateway that
refuses the app's origin. Then the main flow in Firefox ESR and WebKitGTK
(tests/support/engines.py), against the same servers.

Every wait is bounded; each test gets a fresh origin pair (so fresh browser storage)."""

import hashlib
import json
import os
import sqlite3
import time

import pytest
from playwright.sync_api import Page, expect

from meshkit_web.testing import MeshKitStartError, wait_for_meshkit
from support.notes_app import PLAIN_HEADERS, NotesServer, build_package, start_pair

BOOT_MS = 90_000      # the app's boot: Pyodide (13 MB) from a cold cache, then Core
STEP_MS = 60_000      # one UI step that talks to the gateway (create, seal, open, share)
MiB = 1 << 20
SHOTS = os.environ.get("MESHKIT_SCREENSHOTS")  # a directory: save screenshots there to look at


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def notes_package(tmp_path_factory):
    """The meshkit-web package, built once per session."""
    return build_package(tmp_path_factory.mktemp("notes-package") / "meshkit")


@pytest.fixture
def notes(notes_package, tmp_path):
    """(server, gateway): the notes origin and a gateway on another origin that accepts it."""
    server, gateway = start_pair(notes_package, tmp_path / "gateway")
    yield server, gateway
    server.stop()
    gateway.stop()


@pytest.fixture
def contexts(browser, notes):
    """contexts(n): n fresh browser contexts on the notes origin (n people), closed afterwards."""
    server, _ = notes
    made = []

    def make(count: int = 1):
        for _ in range(count):
            made.append(browser.new_context(base_url=server.url, accept_downloads=True))
        return made[-count:]
    yield make
    for context in made:
        context.close()


# --- driving the app ---------------------------------------------------------------------------

def js(page: Page, expression: str, arg=None, timeout_ms: int = STEP_MS):
    """The value of a JS expression (a promise is awaited; ``arg`` is in scope), bounded: a
    promise that does not settle in ``timeout_ms`` fails the test (evaluate alone waits for ever)."""
    return page.evaluate(f"""async (arg) => {{
      let timer;
      const late = new Promise((_, reject) => {{
        timer = setTimeout(() => reject(new Error('did not settle in {timeout_ms} ms: ' + {json.dumps(expression[:100])})),
                           {timeout_ms}); }});
      try {{ return await Promise.race([(async () => ({expression}))(), late]); }} finally {{ clearTimeout(timer); }}
    }}""", arg)


def boot(page: Page, path: str = "/") -> None:
    """The page loads and its MeshKit starts (meshkit_web.testing's wait, which evaluates
    nothing: the app's CSP has no 'unsafe-eval'), then the app draws itself."""
    page.goto(path)
    wait_for_meshkit(page, timeout=BOOT_MS / 1000)
    page.wait_for_selector("html[data-notes]:not([data-notes=booting])", state="attached", timeout=STEP_MS)
    assert page.get_attribute("html", "data-notes") == "ready", page.inner_text("main")


def create(page: Page, name: str) -> None:
    page.get_by_test_id("setup-name").fill(name)
    page.get_by_test_id("setup-create").click()
    page.get_by_test_id("compose").wait_for(timeout=STEP_MS)
    expect(page.get_by_test_id("who")).to_have_text(name)


def controlled(page: Page, namespace: str = "notes") -> dict:
    """Wait until the app's worker controls the page and MeshKit uses it; its report."""
    page.wait_for_function("() => navigator.serviceWorker.controller && globalThis.notesApp "
                           "&& notesApp.mk.background.mode === 'service-worker'", timeout=STEP_MS)
    hello = page.evaluate("""(namespace) => new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (event) => resolve(event.data);
      navigator.serviceWorker.controller.postMessage({meshkit: namespace, type: 'hello'}, [channel.port2]);
      setTimeout(() => resolve(null), 5000);
    })""", namespace)
    return {"script": page.evaluate("navigator.serviceWorker.controller.scriptURL"), "hello": hello,
            "background": page.evaluate("notesApp.mk.background")}


def write(page: Page, title: str, text: str, *, file: dict | None = None, share: str = "") -> dict:
    """Seal a note through the form; {state, root} from the form's status line."""
    page.get_by_test_id("note-title").fill(title)
    page.get_by_test_id("note-text").fill(text)
    if file:
        page.get_by_test_id("note-file").set_input_files(files=[file])
    page.get_by_test_id("note-share").fill(share)
    page.get_by_test_id("note-save").click()
    done = page.locator('[data-testid="compose-status"] [data-state], [data-testid="compose-error"]')
    done.wait_for(timeout=STEP_MS * 2)
    assert page.get_by_test_id("compose-error").count() == 0, page.get_by_test_id("compose-status").inner_text()
    status = page.locator('[data-testid="compose-status"] [data-state]')
    return {"state": status.get_attribute("data-state"), "root": status.get_attribute("data-root"),
            "said": status.inner_text()}


def open_note(page: Page, root: str, kind: str = "mine") -> str:
    """Open a note from its list; "open" or "failed" (the viewer's state)."""
    item = page.locator(f'[data-testid="note-item"][data-kind="{kind}"][data-root="{root}"]')
    item.wait_for(timeout=STEP_MS)
    item.locator("button").click()
    viewer = page.get_by_test_id("viewer")
    page.wait_for_function(f"""() => {{ const v = document.querySelector('[data-testid=viewer]');
      return v && v.dataset.root === {json.dumps(root)} && ['open', 'failed'].includes(v.dataset.state); }}""",
                           timeout=STEP_MS)
    return viewer.get_attribute("data-state")


def jobs(page: Page) -> list:
    return js(page, "notesApp.mk.jobs.list()")


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def shot(page: Page, name: str) -> None:
    """The page at 1280x800 and 390x844 (MESHKIT_SCREENSHOTS=DIR to keep them); at both
    widths nothing may stick out sideways."""
    size = page.viewport_size
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{name}: wider than {width}px"
        if SHOTS:
            page.screenshot(path=os.path.join(SHOTS, f"notes-{name}-{width}.png"))
    page.set_viewport_size(size)


# --- (a) seal, reload, open ----------------------------------------------------------------------

TEXT = "Agenda for Monday:\n  1. ship the release\n  2. cake (Zoë brings it) ✓\n\n— end"


def test_a_sealed_note_opens_the_same_after_a_reload(contexts, notes):
    server, gateway = notes
    (context,) = contexts(1)
    page = context.new_page()
    boot(page)
    shot(page, "setup")
    create(page, "ada")
    sealed = write(page, "Monday", TEXT)
    assert sealed["state"] == "uploaded" and sealed["root"].startswith("bafy"), sealed
    assert gateway.count("pins", sealed["root"]) == 1  # stored and pinned at the gateway

    page.reload()
    boot(page)
    expect(page.get_by_test_id("who")).to_have_text("ada")
    item = page.locator(f'[data-testid="note-item"][data-root="{sealed["root"]}"]')
    expect(item).to_have_attribute("data-status", "uploaded", timeout=STEP_MS)
    expect(item.locator(".title")).to_have_text("Monday")
    assert open_note(page, sealed["root"]) == "open"
    assert page.get_by_test_id("note-body").inner_text() == TEXT
    assert page.get_by_test_id("note-view-title").inner_text() == "Monday"
    # what the gateway holds is ciphertext: neither the title nor the text is in any block
    blocks = (gateway.data_dir / "blockstore")
    stored = b"".join(p.read_bytes() for p in blocks.rglob("*") if p.is_file())
    assert stored and b"Monday" not in stored and b"ship the release" not in stored
    shot(page, "note")


# --- (b) share, open as someone else, revoke -------------------------------------------------------

def test_share_with_a_teammate_who_opens_it_then_revoke_and_their_open_fails_typed(contexts, notes):
    server, gateway = notes
    ada_context, bob_context = contexts(2)
    ada, bob = ada_context.new_page(), bob_context.new_page()
    boot(ada)
    create(ada, "ada")
    boot(bob)
    create(bob, "bob")
    bob_link = bob.get_by_test_id("my-link").input_value()
    assert bob_link.startswith(server.url + "/#contact="), bob_link
    bob_id = js(bob, "notesApp.mk.identity.list().then((l) => l[0].id)")

    sealed = write(ada, "For Bob", "the door code is 4711", share=bob_link)
    assert sealed["state"] == "uploaded" and sealed["said"].endswith("Shared."), sealed
    assert open_note(ada, sealed["root"]) == "open"
    row = ada.locator('[data-testid="access-row"]')
    expect(row).to_have_count(1, timeout=STEP_MS)  # one line for bob (his device and his account's recovery key)
    assert row.get_attribute("data-to") == bob_id and row.get_attribute("data-state") == "live"
    assert row.inner_text().startswith("bob")

    bob.get_by_test_id("refresh").click()
    assert open_note(bob, sealed["root"], kind="shared") == "open"
    assert bob.get_by_test_id("note-body").inner_text() == "the door code is 4711"
    assert bob.get_by_test_id("note-meta").inner_text().startswith("from ada (mk")
    shot(bob, "shared")

    row.get_by_test_id("revoke").click()
    expect(row).to_have_attribute("data-state", "revoked", timeout=STEP_MS)
    with sqlite3.connect(gateway.data_dir / "metadata.db") as db:
        states = db.execute("SELECT revoked FROM capsules WHERE root = ?", (sealed["root"],)).fetchall()
    assert len(states) == 2 and all(r[0] for r in states), states  # bob's device and his recovery key

    assert open_note(bob, sealed["root"], kind="shared") == "failed"
    error = bob.get_by_test_id("note-error")
    assert error.get_attribute("data-code") == "revoked", error.inner_text()
    assert error.inner_text() == "The author revoked your access to this note."
    assert bob.get_by_test_id("note-body").count() == 0
    # the API says the same, typed
    got = js(bob, "notesApp.mk.open(arg, {as: 'bob'}).then(() => 'opened', (e) => [e.name, e.code])", sealed["root"])
    assert got == ["MeshKitError", "revoked"]
    expect(bob.locator(f'[data-testid="note-item"][data-root="{sealed["root"]}"]')).to_have_attribute(
        "data-status", "revoked", timeout=STEP_MS)
    shot(bob, "revoked")


# --- (c) an upload that finishes after the page closed ----------------------------------------------

def test_a_note_sealed_offline_is_uploaded_by_the_worker_after_the_page_closed(contexts, notes):
    server, gateway = notes
    (context,) = contexts(1)
    page = context.new_page()
    boot(page)
    create(page, "ada")
    report = controlled(page)
    assert report["background"]["background_sync"] is True, report

    context.set_offline(True)
    sealed = write(page, "On the train", "no signal here")
    assert sealed["state"] == "queued", sealed
    expect(page.get_by_test_id("outbox")).to_have_text("1 upload waiting")
    queued = [job for job in jobs(page) if job["root"] == sealed["root"]]
    assert len(queued) == 1 and queued[0]["state"] == "queued" and queued[0]["sent"] == 0, queued
    page.close()
    assert context.pages == []  # no page of the app is open from here
    time.sleep(1)
    assert gateway.count("pins", sealed["root"]) == 0

    context.set_offline(False)  # the held Background Sync fires: the worker uploads
    wait_for(lambda: gateway.count("pins", sealed["root"]) == 1 and gateway.count("proofs", sealed["root"]) == 1,
             120, "the worker finished the upload")
    assert context.pages == []  # nobody but the worker did it

    page = context.new_page()
    boot(page)
    done = [job for job in jobs(page) if job["root"] == sealed["root"]]
    assert len(done) == 1 and done[0]["state"] == "done" and done[0]["sent"] == done[0]["blocks"] == 2, done
    expect(page.locator(f'[data-testid="note-item"][data-root="{sealed["root"]}"]')).to_have_attribute(
        "data-status", "uploaded", timeout=STEP_MS)
    assert open_note(page, sealed["root"]) == "open"
    assert page.get_by_test_id("note-body").inner_text() == "no signal here"


# --- (d) a streamed download through the worker -------------------------------------------------------

def test_an_attachment_downloads_streamed_through_the_worker_byte_exact(contexts, notes, tmp_path):
    server, gateway = notes
    (context,) = contexts(1)
    page = context.new_page()
    boot(page)
    create(page, "ada")
    report = controlled(page)
    assert report["hello"]["prefix"] == "/meshkit/" and report["background"]["streaming_urls"] is True, report

    data = os.urandom(3 * MiB + 17)  # four segments, the last one short
    sealed = write(page, "Site survey", "photos attached", file={"name": "survey 2024.bin",
                                                                "mimeType": "application/octet-stream", "buffer": data})
    assert sealed["state"] == "uploaded", sealed
    assert open_note(page, sealed["root"]) == "open"
    expect(page.get_by_test_id("attachment")).to_contain_text("survey 2024.bin")
    before = dict(server.hits)
    with page.expect_download(timeout=STEP_MS * 2) as info:
        page.get_by_test_id("attachment-download").click()
    download = info.value
    assert download.failure() is None
    assert download.url.startswith(server.url + "/meshkit/open/"), download.url
    assert download.suggested_filename == "survey 2024.bin"
    saved = tmp_path / "downloaded"
    download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert saved.stat().st_size == len(data)
    # the worker answered it: the notes server never saw the URL (the gateway sent only ciphertext)
    assert not any(path.startswith("/meshkit/") for path in server.hits)
    assert {path: n for path, n in server.hits.items() if before.get(path) != n} == {}
    # a download link is one use: the same URL again is refused, typed
    again = js(page, "fetch(arg).then(async (r) => [r.status, (await r.json()).error])", download.url)
    assert again == [403, "forbidden"]


# --- (e) an offline start ---------------------------------------------------------------------------

def test_the_app_starts_offline_with_the_gateway_stopped_and_seals_into_the_outbox(contexts, notes):
    server, gateway = notes
    (context,) = contexts(1)
    page = context.new_page()
    boot(page)
    create(page, "ada")
    controlled(page)

    gateway.stop()
    context.set_offline(True)
    response = page.reload()
    assert response.from_service_worker and response.status == 200
    assert response.headers["content-security-policy"] == server.csp  # the app's own CSP, kept with the cached page
    boot_state = page.wait_for_function(
        "() => ['ready', 'error'].includes(document.documentElement.dataset.notes) && document.documentElement.dataset.notes",
        timeout=BOOT_MS).json_value()
    assert boot_state == "ready", page.inner_text("main")
    page.get_by_test_id("compose").wait_for(timeout=STEP_MS)
    expect(page.get_by_test_id("who")).to_have_text("ada")
    caps = js(page, "notesApp.mk.capabilities()")
    assert caps["gateway"]["state"] == "offline" and caps["namespace"] == "notes", caps["gateway"]
    expect(page.get_by_test_id("net")).to_contain_text("offline")

    sealed = write(page, "Written offline", "kept in the outbox")
    assert sealed["state"] == "queued", sealed
    assert [job["state"] for job in jobs(page) if job["root"] == sealed["root"]] == ["queued"]
    shot(page, "offline")

    gateway.start()  # same origin, same data
    context.set_offline(False)
    wait_for(lambda: gateway.count("pins", sealed["root"]) == 1, 120, "the queued note was uploaded once back online")
    expect(page.locator(f'[data-testid="note-item"][data-root="{sealed["root"]}"]')).to_have_attribute(
        "data-status", "uploaded", timeout=STEP_MS)


# --- (f) a second app of the origin, another namespace ------------------------------------------------

EVENTS_JS = """() => { window.heard = []; notesApp.mk.onChange((event) => window.heard.push(
  {type: event.type, job: event.job ? event.job.id : null, identity: event.identity || null})); }"""


def test_a_second_app_on_the_same_origin_sees_none_of_it_and_does_not_disturb_it(contexts, notes):
    server, gateway = notes
    (context,) = contexts(1)
    notes_page = context.new_page()
    boot(notes_page)
    create(notes_page, "ada")
    assert controlled(notes_page)["hello"]["namespace"] == "notes"
    note = write(notes_page, "Ada's", "only for the notes app")
    notes_page.evaluate(EVENTS_JS)
    # an upload by the notes worker, heard by the notes page (the same channel the other app must not hear)
    queued = js(notes_page, "notesApp.mk.seal('bytes', {from: 'ada', name: 'x.bin', mode: 'outbox'})")
    wait_for(lambda: gateway.count("pins", queued["root"]) == 1, 60, "the notes worker's upload")
    notes_page.wait_for_function("(id) => window.heard.some((e) => e.job === id)", arg=queued["job"], timeout=STEP_MS)
    notes_jobs = {job["id"] for job in jobs(notes_page)}
    assert queued["job"] in notes_jobs

    other = context.new_page()
    boot(other, "/other/")
    assert other.evaluate("notesApp.config.namespace") == "other"
    other.get_by_test_id("setup").wait_for(timeout=STEP_MS)  # no identity here: a first visit
    assert js(other, "notesApp.mk.identity.list()") == []
    assert js(other, "notesApp.mk.jobs.list()") == []
    other.evaluate(EVENTS_JS)

    create(other, "olga")
    report = controlled(other, "other")  # its own worker (scope /other/) took over from the notes one
    assert report["script"].startswith(server.url + "/other/sw.js?") and "namespace=other" in report["script"]
    assert report["hello"]["namespace"] == "other" and report["hello"]["prefix"] == "/other/meshkit/"
    mine = write(other, "Olga's", "only for the other app", file={"name": "o.txt", "mimeType": "text/plain",
                                                                   "buffer": b"other attachment"})
    assert mine["state"] == "uploaded"
    queued_other = js(other, "notesApp.mk.seal('more', {from: 'olga', name: 'y.bin', mode: 'outbox'})")
    wait_for(lambda: gateway.count("pins", queued_other["root"]) == 1, 60, "the other worker's upload")
    other.wait_for_function("(id) => window.heard.some((e) => e.job === id)", arg=queued_other["job"], timeout=STEP_MS)

    # identities, jobs, notes: each app only its own
    assert [i["name"] for i in js(other, "notesApp.mk.identity.list()")] == ["olga"]
    assert [i["name"] for i in js(notes_page, "notesApp.mk.identity.list()")] == ["ada"]
    other_jobs = {job["id"] for job in jobs(other)}
    assert queued_other["job"] in other_jobs and not other_jobs & notes_jobs
    assert {job["id"] for job in jobs(notes_page)} == notes_jobs
    other_roots = {row["root"] for row in js(other, "notesApp.mk.envelopes('olga')")}
    assert mine["root"] in other_roots and note["root"] not in other_roots and queued["root"] not in other_roots
    assert js(other, "notesApp.mk.open(arg, {as: 'ada'}).then(() => 'opened', (e) => e.code)",
              note["root"]) == "unknown_identity"
    # events: each page heard its own app's work only (job news by job id, inbox news by identity)
    notes_heard, other_heard = notes_page.evaluate("window.heard"), other.evaluate("window.heard")
    assert not [e for e in notes_heard if e["job"] in other_jobs or e["identity"] == "olga"], notes_heard
    assert not [e for e in other_heard if e["job"] in notes_jobs or e["identity"] == "ada"], other_heard
    # storage: one database and one MeshKit cache per namespace, each app's shell cache per scope;
    # the other worker's activate() left the notes app's caches alone
    build = json.loads((server.package_dir / "integrity.json").read_text())["build"]
    assert sorted(js(notes_page, "caches.keys()")) == sorted([
        "notes-shell-v1 /", "notes-shell-v1 /other/", f"meshkit:notes:{build}", f"meshkit:other:{build}"])
    assert sorted(d["name"] for d in js(other, "indexedDB.databases()")) == ["meshkit:notes", "meshkit:other"]

    # and the notes app goes on as before: its worker, its note, a streamed open
    assert controlled(notes_page)["script"].startswith(server.url + "/sw.js?")
    assert open_note(notes_page, note["root"]) == "open"
    assert notes_page.get_by_test_id("note-body").inner_text() == "only for the notes app"
    streamed = js(notes_page, "notesApp.mk.openStream(arg, {as: 'ada'}).then((r) => r.text())", queued["root"])
    assert streamed == "bytes"


# --- (g) no takeover of the origin's other pages ------------------------------------------------------

def test_the_notes_worker_leaves_other_pages_of_the_origin_to_the_network(contexts, notes):
    server, gateway = notes
    (context,) = contexts(1)
    page = context.new_page()
    boot(page)
    controlled(page)  # installed and active, scope "/"
    plain = context.new_page()
    hits = server.hits.get("/plain/", 0)
    response = plain.goto("/plain/")
    assert response.status == 200 and not response.from_service_worker
    headers = response.headers
    assert headers["x-served-by"] == PLAIN_HEADERS["X-Served-By"]
    assert headers["content-security-policy"] == PLAIN_HEADERS["Content-Security-Policy"]  # not a worker's sandbox
    assert server.hits["/plain/"] == hits + 1
    assert plain.locator("#plain").inner_text() == "a plain page of this origin, not the app"
    # the worker is in scope (it controls this page) and still lets its requests through
    assert plain.evaluate("navigator.serviceWorker.controller.scriptURL").startswith(server.url + "/sw.js?")
    missing = js(page, "fetch('/not-the-app.txt').then((r) => r.status)")  # (the plain page's CSP forbids fetch)
    assert missing == 404 and server.hits["/not-the-app.txt"] == 1


# --- (h) a gateway that does not accept the app's origin ------------------------------------------------

def test_a_gateway_without_cors_for_the_app_refuses_typed_and_nothing_is_created(browser, notes_package,
                                                                                 meshkit_gateway_factory):
    gateway = meshkit_gateway_factory()  # a real `meshkit serve` without --cors-origin: the misconfiguration
    server = NotesServer(notes_package, gateway.url).start()
    context = browser.new_context(base_url=server.url)
    try:
        page = context.new_page()
        page.goto("/")
        with pytest.raises(MeshKitStartError) as refused:
            wait_for_meshkit(page, timeout=BOOT_MS / 1000)
        assert refused.value.code == "gateway_origin_refused"
        fatal = page.get_by_test_id("fatal")
        assert fatal.get_attribute("data-code") == "gateway_origin_refused", page.inner_text("main")
        assert f"--cors-origin {server.url}" in fatal.inner_text()
        assert page.evaluate("document.documentElement.dataset.notesError") == "gateway_origin_refused"
        # nothing was created: no database of any namespace, no worker registered
        assert js(page, "indexedDB.databases()") == []
        assert js(page, "navigator.serviceWorker.getRegistrations().then((r) => r.length)") == 0
        shot(page, "refused")
    finally:
        context.close()
        server.stop()


# --- the main flow in Firefox ESR and WebKitGTK ---------------------------------------------------------

# The same UI steps as above, in the page (the engines' drivers have no locators): fill the
# form, submit it, wait for what the app shows. Each resolves with what the page says.
UI_JS = """
  const $ = (selector) => document.querySelector(selector);
  const until = async (test, ms, what) => {
    const end = Date.now() + ms;
    for (;;) { const value = test(); if (value) return value; if (Date.now() > end) throw new Error('timed out: ' + what);
               await new Promise((resolve) => setTimeout(resolve, 100)); }
  };
  const fill = (testid, value) => { const input = $(`[data-testid="${testid}"]`); input.value = value;
                                    input.dispatchEvent(new Event('input', {bubbles: true})); };
  await until(() => ['ready', 'error'].includes(document.documentElement.dataset.notes), 110000, 'boot');
  if (document.documentElement.dataset.notes !== 'ready') return {state: 'error', text: $('main').innerText};
  const step = arg.step;
  if (step === 'create') {
    fill('setup-name', arg.name);
    $('[data-testid="setup"]').requestSubmit();
    await until(() => $('[data-testid="compose"]') || $('[data-testid="setup-error"]'), 60000, 'create');
    return {who: $('[data-testid="who"]').textContent, error: $('[data-testid="setup-error"]')?.innerText || null};
  }
  if (step === 'write') {
    fill('note-title', arg.title);
    fill('note-text', arg.text);
    $('[data-testid="compose"]').requestSubmit();
    const status = await until(() => $('[data-testid="compose-status"] [data-state], [data-testid="compose-error"]'), 90000, 'seal');
    return {state: status.dataset.state || null, root: status.dataset.root || null, said: status.innerText,
            code: status.dataset.code || null};
  }
  if (step === 'open') {
    const item = await until(() => $(`[data-testid="note-item"][data-root="${arg.root}"]`), 60000, 'the note in the list');
    item.querySelector('button').click();
    const viewer = await until(() => { const v = $('[data-testid="viewer"]');
      return v && v.dataset.root === arg.root && ['open', 'failed'].includes(v.dataset.state) && v; }, 90000, 'open');
    return {state: viewer.dataset.state, status: item.dataset.status, who: $('[data-testid="who"]').textContent,
            body: $('[data-testid="note-body"]')?.innerText ?? null, title: $('[data-testid="note-view-title"]')?.innerText ?? null,
            error: $('[data-testid="note-error"]')?.dataset.code ?? null};
  }
  throw new Error('unknown step ' + step);
"""


@pytest.mark.parametrize("engine", ["firefox", "webkit"])
def test_main_flow_in_engine(engine, notes):
    from support.engines import engine_page
    server, gateway = notes
    with engine_page(engine, server.url, boot=False) as page:
        made = page.call(UI_JS, {"step": "create", "name": f"{engine}-ada"}, timeout=180)
        assert made == {"who": f"{engine}-ada", "error": None}, made
        sealed = page.call(UI_JS, {"step": "write", "title": "Engine note", "text": TEXT}, timeout=150)
        assert sealed["state"] == "uploaded" and sealed["root"].startswith("bafy"), sealed
        assert gateway.count("pins", sealed["root"]) == 1
        page.reload()
        opened = page.call(UI_JS, {"step": "open", "root": sealed["root"]}, timeout=180)
        assert opened == {"state": "open", "status": "uploaded", "who": f"{engine}-ada", "body": TEXT,
                          "title": "Engine note", "error": None}, opened
