"""The site on one origin, the gateway on another: the page learns the gateway from the
build (build.py --gateway), its CSP allows exactly that gateway, the gateway's CORS allows
exactly that site, and the app seals and opens through it (page and service worker)."""

import json
import subprocess
import sys

import httpx
import pytest

from support.constants import BOOT_TIMEOUT, ROOT
from support.servers import ServerThread, free_port


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.gateway.site import site_app
    from meshkit_web.providers.embedded import EmbeddedProvider
    site_port, gateway_port = free_port(), free_port()
    site_url, gateway_url = f"http://127.0.0.1:{site_port}", f"http://127.0.0.1:{gateway_port}"
    out = tmp_path_factory.mktemp("split-site")
    subprocess.run([sys.executable, f"{ROOT}/build.py", "--out", str(out), "--gateway", gateway_url], check=True,
                   capture_output=True)
    data = tmp_path_factory.mktemp("split-gateway")
    gateway = ServerThread(create_app(GatewayConfig(data_dir=str(data), cors_origins=[site_url]),
                                      EmbeddedProvider(str(data / "blocks"))), port=gateway_port).start()
    static = ServerThread(site_app(str(out)), port=site_port, ready_path="/build.json").start()
    yield {"site": static.url, "gateway": gateway.url, "out": out}
    static.stop()
    gateway.stop()


def test_the_build_names_its_gateway_and_the_csp_allows_only_it(split):
    build = json.loads((split["out"] / "build.json").read_text())
    assert build["gateway"] == split["gateway"]
    page = httpx.get(split["site"] + "/")
    assert f'<meta name="meshkit-gateway" content="{split["gateway"]}">' in page.text
    csp = dict(part.split(" ", 1) for part in page.headers["content-security-policy"].split("; "))
    assert csp["connect-src"] == f"'self' {split['gateway']}"
    assert page.headers["x-frame-options"] == "DENY"
    # the gateway's CORS: this site yes, any other origin no
    for origin, allowed in ((split["site"], True), ("http://127.0.0.1:9", False)):
        preflight = httpx.options(split["gateway"] + "/v1/mailbox", headers={
            "Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"})
        assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed


def test_the_app_on_one_origin_seals_and_opens_through_a_gateway_on_another(browser, split):
    context = browser.new_context(base_url=split["site"])
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.add_init_script("""window.cspViolations = [];
      addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));""")
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT)
    got = page.evaluate("""async () => {
      const me = await meshkit.identity.create('split');
      const env = await meshkit.seal('across origins', {from: 'split', to: [], name: 's.txt', mode: 'direct'});
      const opened = await meshkit.open(env.root, {as: 'split'});
      const streamed = await (await meshkit.openStream(env.root, {as: 'split'})).text();  // the worker, too
      return {published: me.published, root: env.root, status: env.status, text: await opened.blob.text(), streamed};
    }""")
    assert got["published"] is True and got["status"] == "uploaded", got
    assert got["text"] == "across origins" and got["streamed"] == "across origins"
    assert any(u.startswith(split["gateway"] + "/v1/") for u in requests), "the page never talked to the gateway"
    assert not any(u.startswith(split["site"] + "/v1/") or u.startswith(split["site"] + "/ipfs/") for u in requests)
    # the gateway really holds it (and the site origin has no API at all)
    assert httpx.get(f"{split['gateway']}/ipfs/{got['root']}?format=raw").status_code == 200
    assert httpx.get(f"{split['site']}/ipfs/{got['root']}?format=raw").status_code == 404
    assert page.evaluate("window.cspViolations") == []
    for size in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        page.screenshot(path=str(split["out"].parent / f"split-{size[0]}x{size[1]}.png"))
    context.close()
