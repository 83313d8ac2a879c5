"""Security headers on every response of the app's origin (item 11): site files, API JSON,
errors, 404s, /ipfs reads, /healthz, CORS preflights, an unhandled exception, the service
worker's own Responses; and the app boots under its CSP with zero violations (page and
worker) in real Chromium."""

import json

import httpx
import pytest

from meshkit_web.gateway.headers import (PDF_VIEW_SCRIPTS, PROBE_PATHS, COMMON, PLAINTEXT_CSP, STRICT_CSP, SecurityHeaders,
                                         pdf_view_csp)

from support.attacker_site import AttackerSite
from support.browser import BOOT_WORKER_JS
from support.constants import BOOT_TIMEOUT
from support.servers import ServerThread

RAW_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"  # sha256("hello world"), not stored


def assert_secured(response: httpx.Response, csp: str | None = None) -> None:
    expected = dict(COMMON)
    if response.request.url.path in PROBE_PATHS:  # public facts createMeshKit may read without CORS
        expected["Cross-Origin-Resource-Policy"] = "cross-origin"
    for name, value in expected.items():
        assert response.headers.get(name) == value, f"{response.request.url}: {name} = {response.headers.get(name)!r}"
    policy = response.headers.get("content-security-policy", "")
    assert "frame-ancestors 'none'" in policy, f"{response.request.url}: CSP {policy!r}"
    assert "default-src 'none'" in policy
    if csp is not None:
        assert policy == csp, f"{response.request.url}: CSP {policy!r}"


def app_policy(response: httpx.Response) -> dict:
    return {part.split()[0]: part.split()[1:] for part in response.headers["content-security-policy"].split("; ")}


def test_every_route_family_carries_the_headers(app_server, site):
    build = json.loads((site / "build.json").read_text())
    base = app_server.url
    with httpx.Client(base_url=base, timeout=10) as http:
        # the app's entry documents and worker: the app policy, exactly what Pyodide needs
        for path in ("/", "/sw.js"):
            response = http.get(path)
            assert response.status_code == 200
            assert_secured(response)
            policy = app_policy(response)
            assert policy["script-src"] == ["'self'", "'wasm-unsafe-eval'", *build["csp_script_hashes"]]
            assert "'unsafe-eval'" not in response.headers["content-security-policy"]
            assert "'unsafe-inline'" not in response.headers["content-security-policy"]
        # everything else: default-src 'none' + sandbox, whatever its type or status
        strict = [
            ("GET", "/manifest.webmanifest", 200), ("GET", "/build.json", 200),
            ("GET", f"{build['base']}/app/app.js", 200), ("GET", f"{build['base']}/meshkit.js", 200),
            ("GET", f"{build['base']}/pyodide/pyodide.asm.wasm", 200),
            ("GET", f"{build['base']}/app/nothing-here.js", 404),
            ("GET", "/healthz", 200), ("GET", "/v1/info", 200),
            ("GET", "/v1/directory/mknotanidentity", 404), ("GET", "/v1/mailbox", 401),
            ("GET", "/v1/passkeys/" + "A" * 22, 404), ("GET", "/v1/passkeys", 401),
            ("GET", f"/ipfs/{RAW_CID}?format=raw", 404), ("GET", f"/ipfs/{RAW_CID}", 406),
            ("GET", "/ipfs/not-a-cid?format=raw", None), ("HEAD", f"/ipfs/{RAW_CID}?format=raw", 404),
            ("GET", "/no/such/route", 404), ("POST", "/healthz", 405), ("GET", "/docs", None),
            ("GET", "/meshkit/open/anything", 404),  # without the worker, the gateway has no such route
        ]
        for method, path, status in strict:
            response = http.request(method, path)
            if status is not None:
                assert response.status_code == status, (path, response.status_code)
            assert_secured(response, STRICT_CSP)


def test_the_app_may_frame_only_the_pdf_viewer_named_by_its_host_and_a_forged_host_frames_nothing(site):
    """frame-src is the viewer's full URL (CSP has no path-only source), made from the Host
    header: one that could carry more of a policy (";", spaces, quotes) gets no frame at all."""
    build = json.loads((site / "build.json").read_text())
    view = build["pdf_view"]["path"]
    headers = SecurityHeaders(None, site_dir=str(site))

    def got(path, host=b"127.0.0.1:8765", scheme="http"):
        return {k.decode(): v.decode() for k, v in headers.headers_for(
            {"type": "http", "path": path, "scheme": scheme, "headers": [(b"host", host)]})}

    def frame_src(host, scheme="http"):
        policy = dict(part.split(" ", 1) for part in got("/", host, scheme)["content-security-policy"].split("; "))
        return policy["frame-src"]
    assert frame_src(b"127.0.0.1:8765") == f"http://127.0.0.1:8765{view}"
    assert frame_src(b"files.example", "https") == f"https://files.example{view}"
    assert frame_src(b"[::1]:8765") == f"http://[::1]:8765{view}"
    for forged in (b"evil; script-src *", b"a b", b"x'", b"", b"h/path", b"h:99999999"):
        assert frame_src(forged) == "'none'", forged
    # the viewer: its own policy, framed by its origin; its modules (only they) with CORS
    viewer = got(view)
    assert viewer["content-security-policy"] == pdf_view_csp(tuple(build["pdf_view"]["csp_script_hashes"]))
    assert viewer["x-frame-options"] == "SAMEORIGIN"
    for script in PDF_VIEW_SCRIPTS:
        assert got(f"{build['base']}/{script}")["access-control-allow-origin"] == "*", script
    for other in (f"{build['base']}/app/app.js", f"/b/{'0' * 16}/app/pdf-view.html/x", f"/x{view}", view + "/"):
        assert "access-control-allow-origin" not in got(other) and got(other)["content-security-policy"] == STRICT_CSP
    # without a site, nothing is framed
    bare = dict(SecurityHeaders(None).headers_for({"type": "http", "path": "/", "scheme": "http",
                                                   "headers": [(b"host", b"127.0.0.1")]}))
    assert "frame-src 'none'" in bare[b"content-security-policy"].decode()


def test_cors_preflights_and_unhandled_errors_carry_them_too(site, tmp_path):
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    config = GatewayConfig(data_dir=str(tmp_path), site_dir=str(site), cors_origins=["http://127.0.0.1:9"])
    with ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "blocks")))) as server:
        preflight = httpx.options(server.url + "/v1/mailbox", headers={
            "Origin": "http://127.0.0.1:9", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:9"
        assert_secured(preflight, STRICT_CSP)

    async def broken(scope, receive, send):
        if scope["type"] == "lifespan":
            return
        if scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            return await send({"type": "http.response.body", "body": b"ok"})
        raise RuntimeError("a bug")
    with ServerThread(SecurityHeaders(broken)) as server:
        response = httpx.get(server.url + "/v1/info")
        assert response.status_code == 500 and response.json()["error"] == "internal"
        assert_secured(response, STRICT_CSP)


def test_the_app_boots_under_its_csp_with_zero_violations_in_page_and_worker(browser, base_url):
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    # before any script of the page runs (an init script runs through CDP, not under the CSP)
    page.add_init_script("""
      window.cspViolations = [];
      addEventListener('securitypolicyviolation', (e) =>
        window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));""")
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitReady", timeout=BOOT_TIMEOUT)
    assert page.evaluate("document.documentElement.dataset.meshkitReady") == "true", page.inner_text("#app")
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT)
    # the worker boots its own Pyodide lazily: watch for violations there, then make it boot
    worker = context.service_workers[0] if context.service_workers else context.wait_for_event("serviceworker")
    worker.evaluate("""() => { self.cspViolations = [];
      self.addEventListener('securitypolicyviolation', (e) => self.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`)); }""")
    booted = page.evaluate(BOOT_WORKER_JS)
    assert booted["ok"] is True, booted
    # the app works under it: an identity, a seal and an open
    page.evaluate("""async () => { await meshkit.identity.create('csp');
      const env = await meshkit.seal('under the policy', {from: 'csp', to: [], name: 'p.txt'});
      const opened = await meshkit.open(env.root, {as: 'csp'});
      if (await opened.blob.text() !== 'under the policy') throw new Error('open differs'); }""")
    page.reload()
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    assert page.evaluate("window.cspViolations") == []
    assert worker.evaluate("self.cspViolations") == []
    offending = [line for line in console if "Content Security Policy" in line or "Permissions-Policy" in line
                 or "Refused to" in line]
    assert offending == [], offending
    # the page really is under the policy: an injected inline script does not run
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.inlineRan = 1';
                             document.body.append(s); }""")
    assert page.evaluate("window.inlineRan") is None
    assert any("script-src-elem" in v for v in page.evaluate("window.cspViolations"))
    context.close()


def test_the_workers_own_responses_carry_the_headers(browser, base_url):
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitReady === 'true'", timeout=BOOT_TIMEOUT)
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT)
    got = page.evaluate("""async () => {
      await meshkit.identity.create('hdr');
      const env = await meshkit.seal('x', {from: 'hdr', to: [], name: 'x.txt'});
      const headers = (r) => Object.fromEntries(r.headers.entries());
      const stream = await meshkit.openStream(env.root, {as: 'hdr', type: 'text/plain'});
      const refused = await fetch('/meshkit/open/not-a-token');
      return {stream: headers(stream), refused: headers(refused), status: refused.status};
    }""")
    for name, value in COMMON.items():
        assert got["stream"][name.lower()] == value and got["refused"][name.lower()] == value, name
    assert got["stream"]["content-security-policy"] == PLAINTEXT_CSP
    assert got["stream"]["content-disposition"].startswith("attachment")
    assert got["refused"]["content-security-policy"] == STRICT_CSP and got["status"] == 403
    # the cached shell, served by the worker while the gateway cannot be reached
    context.set_offline(True)
    response = page.reload()
    assert response.from_service_worker
    shell = response.all_headers()
    page.wait_for_function("() => document.documentElement.dataset.meshkitReady === 'true'", timeout=BOOT_TIMEOUT)
    for name, value in COMMON.items():
        assert shell[name.lower()] == value, name
    assert "frame-ancestors 'none'" in shell["content-security-policy"]
    assert "'wasm-unsafe-eval'" in shell["content-security-policy"]
    context.close()


@pytest.mark.parametrize("path", ["/", "/no-such-page", "/healthz"])
def test_no_page_of_the_app_origin_can_be_framed_by_another_origin(browser, base_url, path):
    """frame-ancestors 'none' and X-Frame-Options DENY: a clickjacking page gets an error frame."""
    site = AttackerSite({"/": f'<!doctype html><iframe src="{base_url}{path}" width=800 height=600></iframe>'})
    with ServerThread(site) as attacker:
        context = browser.new_context()
        page = context.new_page()
        blocked = []
        page.on("console", lambda m: blocked.append(m.text) if "frame-ancestors" in m.text or "X-Frame" in m.text else None)
        page.goto(attacker.url + "/")
        page.wait_for_timeout(1000)
        (frame,) = [f for f in page.frames if f.parent_frame is not None]
        assert frame.url.startswith("chrome-error://"), frame.url  # refused, not rendered
        assert blocked, "Chromium did not report the refusal"
        context.close()
