"""Every file the page loads is checked against hashes fixed at build time: a copy altered on
the way (served here through Playwright's route interception) makes the app refuse to boot
with a clear error instead of running it."""

import json

import pytest

from support.constants import BOOT_TIMEOUT

# the release's files, relative to /b/<BUILD>/, and how each is checked
TAMPERED = [
    "app/app.js",               # <script integrity> (guard.js reports)
    "meshkit.js",               # import map integrity (dynamic import from app.js): the package's page
                                # module, with integrity.js and Pyodide's two modules bundled in
    "app/ui.js",                # import map integrity (dynamic import after boot)
    "app/worker.js",            # import map integrity (dynamic import after boot: registers sw.js)
    "pyodide/pyodide.asm.wasm",  # the package's integrity.js, checked before Pyodide gets it
    "pyodide/python_stdlib.zip",
    "pyodide/pyodide-lock.json",
    "wheels/meshkit_web-0.1.0-py3-none-any.whl",
]


def tamper(body: bytes, path: str) -> bytes:
    if path.endswith((".js", ".mjs")):
        return body + b"\n;globalThis.tampered = true;\n"
    if path.endswith(".json"):
        return body.replace(b"\"packages\"", b"\"packages\" ", 1)
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 1]) + body[middle + 1:]


@pytest.mark.parametrize("path", TAMPERED)
def test_a_tampered_release_file_stops_the_boot_with_a_clear_error(browser, base_url, site, path):
    build = json.loads((site / "build.json").read_text())
    url = f"{base_url}{build['base']}/{path}"
    # a fresh profile with no worker: every file comes from the network, through the route
    context = browser.new_context(base_url=base_url, service_workers="block")
    served = []

    def swap(route):
        response = route.fetch()
        served.append(route.request.url)
        route.fulfill(response=response, body=tamper(response.body(), path))
    context.route(url, swap)
    page = context.new_page()
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitReady === 'error'"
                           " || document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    assert served, f"{path} was never requested"
    state = page.evaluate("""() => ({ready: document.documentElement.dataset.meshkitReady,
      code: document.documentElement.dataset.meshkitError, tampered: globalThis.tampered === true,
      api: typeof globalThis.meshkit, alert: document.querySelector('[role=alert]')?.textContent || ''})""")
    assert state["ready"] == "error" and state["code"] == "integrity", (path, state)
    assert state["tampered"] is False, f"the altered {path} ran"
    assert "hash" in state["alert"] and "MeshKit cannot start here" in state["alert"], state["alert"]
    if path not in ("app/ui.js", "app/worker.js"):  # imported once the runtime is up; the rest stop it before
        assert state["api"] == "undefined", f"the runtime booted with an altered {path}"
    if path not in ("app/app.js",):
        assert path.split("/")[-1] in state["alert"], state["alert"]  # it names the file
    context.unroute_all(behavior="ignoreErrors")
    context.close()


def test_an_intact_release_boots(browser, base_url):
    """The same route in place but passing bytes through unchanged: the app boots (so the
    refusals above come from the hashes, not from the interception)."""
    context = browser.new_context(base_url=base_url, service_workers="block")
    context.route("**/b/**", lambda route: route.fulfill(response=route.fetch()))
    page = context.new_page()
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
    assert page.evaluate("document.documentElement.dataset.meshkitReady") == "true"
    # requests still in flight (the page keeps fetching) must not fail a later test
    context.unroute_all(behavior="ignoreErrors")
    context.close()
