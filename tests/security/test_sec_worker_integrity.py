"""The service worker's code is pinned as the page's is. A cache or CDN in front of the site
(served here through an ASGI wrapper that alters one file's bytes on the way) swaps a file
the worker loads: the worker refuses before any of it runs and before Core starts, so it
never reads or uses a key, and says so to the page. The files come from the build's own
manifest (build.json "worker"), never from a list written here.

- every release file the worker fetches at install (its precache);
- every file its Core boot fetches, altered after a clean install (the cached copy gone);
- sw.js itself, which the page checks before registering it;
- a worker registered under another release's URL."""

import gzip
import json

import brotli
import pytest

from support.browser import call, ready
from support.constants import BOOT_TIMEOUT
from support.servers import ServerThread

BEACON = "/__tampered__"


def tamper(body: bytes, path: str) -> bytes:
    """Altered bytes. A script, if it ever runs, calls home (the beacon), so running it is seen."""
    if path.endswith((".js", ".mjs")):
        return body + f'\n;fetch("{BEACON}?f={path}").catch(() => {{}});\n'.encode()
    if path.endswith(".json"):
        return body.replace(b'"packages"', b'"packages" ', 1)
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 1]) + body[middle + 1:]


# Content codings the gateway may send a site file in (gateway/site.py): (decode, encode)
CODECS = {"": (bytes, bytes), "br": (brotli.decompress, lambda data: brotli.compress(data, quality=1)),
          "gzip": (gzip.decompress, lambda data: gzip.compress(data, mtime=0))}


class Swap:
    """ASGI wrapper: serves ``path`` altered; records the beacon of an altered script that
    ran, and every sign-in challenge (the first thing Core does with a key)."""

    def __init__(self, app):
        self.app, self.path = app, None
        self.beacons: list[str] = []
        self.sign_ins = 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["path"] == BEACON:
            self.beacons.append(scope["query_string"].decode())
            await send({"type": "http.response.start", "status": 204, "headers": []})
            return await send({"type": "http.response.body", "body": b""})
        if scope["path"].startswith("/v1/auth/"):
            self.sign_ins += 1
        if scope["path"] == self.path:
            return await self.app(scope, receive, self._altered(send, scope["path"]))
        return await self.app(scope, receive, send)

    @staticmethod
    def _altered(send, path):
        held = []

        async def hold(message):
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                start = held[0]
                body = b"".join(m.get("body", b"") for m in held[1:])
                if start["status"] == 200:  # the file as the browser decodes it is what is altered
                    coding = dict(start["headers"]).get(b"content-encoding", b"").decode()
                    body = CODECS[coding][1](tamper(CODECS[coding][0](body), path))
                headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
                await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
        return hold


@pytest.fixture(scope="module")
def swapped(site, tmp_path_factory):
    """The gateway serving the PWA, behind the swapping wrapper; the build's manifest."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    data = tmp_path_factory.mktemp("swap-gateway")
    swap = Swap(create_app(GatewayConfig(data_dir=str(data), site_dir=str(site)),
                           EmbeddedProvider(str(data / "blockstore"))))
    server = ServerThread(swap).start()
    swap.url = server.url
    swap.build = json.loads((site / "build.json").read_text())
    swap.site = site
    yield swap
    server.stop()


# Registers the worker as the app does, and waits until it is active or refused.
REGISTER_JS = """async (script) => {
  const told = [];
  navigator.serviceWorker.addEventListener("message", (event) => told.push(event.data));
  let registration;
  try {
    registration = await navigator.serviceWorker.register(script, {type: "module", scope: "/", updateViaCache: "none"});
  } catch (error) {
    return {state: "not registered", told, error: String(error)};
  }
  const worker = registration.installing || registration.waiting || registration.active;
  await new Promise((resolve) => {
    const settled = () => ["activated", "redundant"].includes(worker.state);
    if (settled()) return resolve();
    worker.addEventListener("statechange", () => settled() && resolve());
  });
  await new Promise((resolve) => setTimeout(resolve, 300));  // the worker's message may trail its state
  return {state: worker.state, told, databases: (await indexedDB.databases()).map((d) => d.name)};
}"""


def test_each_file_the_worker_fetches_altered_on_the_way_is_refused_before_it_runs(browser, swapped):
    build = swapped.build
    worker = build["worker"]
    assert "meshkit-sw.js" in worker["bundled"], "sw.js inlines the modules it runs"
    assert all((swapped.site / "b" / build["build"] / name).is_file() for name in worker["bundled"])
    failures = []
    for name in worker["precache"]:
        swapped.path, swapped.beacons, swapped.sign_ins = f"{build['base']}/{name}", [], 0
        context = browser.new_context(base_url=swapped.url)
        page = context.new_page()
        page.route(f"**{build['base']}/app/app.js", lambda route: route.abort())  # the app stays out of it
        page.goto("/")
        got = page.evaluate(REGISTER_JS, worker["script"])
        refusals = [m for m in got["told"] if m and m.get("state") == "refused"]
        if got["state"] != "redundant":
            failures.append(f"{name}: the worker was {got['state']}")
        elif not refusals or refusals[0]["code"] != "integrity" or refusals[0]["file"] != name:
            failures.append(f"{name}: the page was not told why: {got['told']}")
        if swapped.beacons:
            failures.append(f"{name}: the altered file ran in the worker ({swapped.beacons})")
        if swapped.sign_ins or got.get("databases"):
            failures.append(f"{name}: the worker started Core ({swapped.sign_ins} sign-ins, {got.get('databases')})")
        if page.evaluate("caches.keys()"):
            failures.append(f"{name}: the refused release stayed cached")
        context.close()
    swapped.path = None
    assert not failures, "\n".join(failures)


def quiet_page(context, build):
    """A page of the app's origin, controlled by its worker, that does not boot the app (so
    every sign-in the gateway sees is the worker's); it keeps what the worker tells pages."""
    page = context.new_page()
    page.route(f"**{build['base']}/app/app.js", lambda route: route.abort())
    page.goto("/")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT)
    page.evaluate("""() => { window.told = [];
      navigator.serviceWorker.addEventListener('message', (event) => window.told.push(event.data)); }""")
    return page


BOOT_JS = """() => new Promise((resolve) => {
  const channel = new MessageChannel();
  channel.port1.onmessage = (event) => resolve(event.data);
  navigator.serviceWorker.controller.postMessage({meshkit: 'default', type: 'boot'}, [channel.port2]);
})"""


def test_a_file_altered_after_install_stops_the_worker_before_it_uses_a_key(browser, swapped):
    """A clean install; an identity (keys in IndexedDB); then, for each file Core's boot
    fetches, the cached copies go (the worker's cache and the browser's: evicted, cleared)
    and the network's is altered. The worker, restarted and asked for work that signs in (a
    mailbox check), refuses: no sign-in reaches the gateway, and the page is told."""
    build = swapped.build
    swapped.path = None
    context = browser.new_context(base_url=swapped.url)
    app = context.new_page()
    ready(app)
    app.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT)
    call(app, "return await meshkit.identity.create('alice');")
    app.close()
    page = quiet_page(context, build)
    # the worker's own work after the identity was made (a mailbox check the app asked for,
    # its library): it boots Core cold, so let it finish before any file is altered
    assert page.evaluate(BOOT_JS)["ok"] is True
    for _ in range(20):
        seen = swapped.sign_ins
        page.wait_for_timeout(1500)
        if swapped.sign_ins == seen:
            break
    cdp = context.new_cdp_session(page)
    cdp.send("ServiceWorker.enable")
    failures = []
    for name in build["worker"]["boot"]:
        url = f"{build['base']}/{name}"
        page.evaluate("""async (url) => { for (const key of await caches.keys()) {
          await (await caches.open(key)).delete(url); } }""", url)
        cdp.send("Network.clearBrowserCache")
        swapped.path = url
        cdp.send("ServiceWorker.stopAllWorkers")
        page.wait_for_timeout(300)  # what the stopped worker still had in flight lands first
        swapped.sign_ins = 0
        page.evaluate("() => { window.told = []; }")
        booted = page.evaluate(BOOT_JS)
        page.evaluate("() => navigator.serviceWorker.ready.then((r) => r.sync.register('meshkit-mailbox'))")
        page.wait_for_timeout(1500)  # the sync event runs (and would sign in) if the worker booted
        told = page.evaluate("window.told")
        if booted.get("ok") or booted.get("code") != "integrity" or booted.get("file") != name:
            failures.append(f"{name}: the worker booted or said something else: {booted}")
        if swapped.sign_ins:
            failures.append(f"{name}: {swapped.sign_ins} sign-ins with a key after the file was altered")
        if not any(m.get("state") == "refused" and m.get("file") == name for m in told):
            failures.append(f"{name}: the page was not told: {told}")
    swapped.path = None
    assert not failures, "\n".join(failures)
    # the original bytes again (the altered copy is in the browser's cache): the worker boots,
    # so the refusals above came from the hashes
    cdp.send("Network.clearBrowserCache")
    cdp.send("ServiceWorker.stopAllWorkers")
    again = page.evaluate(BOOT_JS)
    assert again["ok"] is True, again
    context.close()


def test_the_app_says_so_when_its_worker_refuses(browser, swapped, tmp_path):
    """A file only the worker fetches (the page never asks for it) altered on the way: the
    app boots, its worker refuses to install, and the app tells the user and uploads itself."""
    build = swapped.build
    swapped.path = None
    clean = browser.new_context(base_url=swapped.url, service_workers="block")
    page = clean.new_page()
    asked = set()
    page.on("request", lambda request: asked.add(request.url.split("?")[0]))
    ready(page)
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    clean.close()
    only_worker = [name for name in build["worker"]["precache"] if f"{swapped.url}{build['base']}/{name}" not in asked]
    assert only_worker, "every file the worker fetches is also the page's"
    swapped.path = f"{build['base']}/{only_worker[0]}"
    context = browser.new_context(base_url=swapped.url)
    page = context.new_page()
    ready(page)
    alert = page.get_by_test_id("error")
    alert.wait_for(timeout=30_000)
    swapped.path = None
    assert only_worker[0] in alert.inner_text() and "altered" in alert.inner_text(), alert.inner_text()
    assert alert.get_attribute("data-code") == "integrity"
    background = call(page, "return (await meshkit.capabilities()).background;")
    assert background["mode"] == "caller-managed" and background["refused"]["file"] == only_worker[0], background
    screenshots(page, "worker-refused")
    context.close()


def screenshots(page, name):
    import os
    folder = os.environ.get("MESHKIT_SCREENSHOTS")
    if folder:
        for width, height in ((1280, 800), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            page.screenshot(path=os.path.join(folder, f"{name}-{width}.png"))


def test_an_altered_sw_js_is_never_registered(browser, swapped):
    """sw.js is an entry point: the page checks its bytes against the hash index.html
    carries, and does not register a worker that does not match (the app runs on, its
    uploads done by the page)."""
    swapped.path, swapped.beacons = "/sw.js", []
    context = browser.new_context(base_url=swapped.url)
    page = context.new_page()
    ready(page)
    page.wait_for_timeout(1000)
    registrations = page.evaluate("navigator.serviceWorker.getRegistrations().then((r) => r.length)")
    background = call(page, "return (await meshkit.capabilities()).background;")
    swapped.path = None
    assert registrations == 0 and not swapped.beacons, (registrations, swapped.beacons)
    # MeshKit reports no worker of its own; the app (which decided not to register) says why
    assert background["mode"] == "caller-managed" and not background["service_worker"], background
    alert = page.get_by_test_id("error")
    alert.wait_for(timeout=30_000)
    assert "sw.js" in alert.inner_text() and alert.get_attribute("data-code") == "integrity", alert.inner_text()
    assert call(page, "return (await meshkit.identity.create('still-works')).name;") == "still-works"
    context.close()


@pytest.mark.parametrize("query", ["?release=0123456789abcdef", ""])
def test_a_worker_registered_as_another_release_refuses(browser, swapped, query):
    """The worker's URL names the release whose hashes the page checked; a worker of
    another release (a stale copy a cache kept) refuses to install."""
    swapped.path = None
    context = browser.new_context(base_url=swapped.url)
    page = context.new_page()
    page.route(f"**{swapped.build['base']}/app/app.js", lambda route: route.abort())
    page.goto("/")
    got = page.evaluate(REGISTER_JS, "/sw.js" + query)
    assert got["state"] in ("redundant", "not registered"), got
    assert not page.evaluate("caches.keys()")
    context.close()
