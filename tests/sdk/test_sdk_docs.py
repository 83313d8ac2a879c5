"""The package's reference (docs/SDK.md), types (sdk/index.d.ts) and version (CHANGELOG.md)
checked against the code, so none of them can drift from it:

* the generated sections (the error-code table, the namespace names, the d.ts union of
  codes) are what scripts/sdk_docs.py makes from their sources now;
* every key of the objects createMeshKit and createMeshKitWorker return (read from the
  source by TypeScript's parser, scripts/sdk_surface.mjs, and again from the real objects in
  Chromium) is declared in index.d.ts, nothing more, and documented in SDK.md;
* ``tsc --noEmit --strict`` compiles tests/types (every member used with the right types;
  each ``@ts-expect-error`` a wrong use the types must refuse);
* the quickstart's code blocks stay under 25 lines, the version is one.
"""

import json
import re
import subprocess
import sys

import pytest

from support.constants import ROOT, TESTS

SDK_MD = ROOT / "docs" / "SDK.md"
INDEX_D_TS = ROOT / "sdk" / "index.d.ts"
TSC = TESTS / "js" / "node_modules" / "typescript" / "bin" / "tsc"
TYPES = TESTS / "types"

sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]  # build.py, scripts/sdk_docs.py
import sdk_docs  # noqa: E402


@pytest.fixture(scope="module")
def surface() -> dict:
    """The public surface as the source and the types say (scripts/sdk_surface.mjs)."""
    assert TSC.exists(), "typescript is missing from tests/js (scripts/setup.sh runs npm ci --prefix tests/js)"
    done = subprocess.run(["node", str(ROOT / "scripts" / "sdk_surface.mjs")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def sdk_md() -> str:
    return SDK_MD.read_text()


def section(text: str, heading: str) -> str:
    """A Markdown section (## or ###) by its heading, up to the next heading of its level or above."""
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    assert match, f"no section {heading!r}"
    level = len(match.group(1))
    end = re.search(rf"^#{{1,{level}}} ", text[match.end():], re.M)
    return text[match.end():match.end() + end.start() if end else len(text)]


# --- generated, not copied ---------------------------------------------------------------------

def test_the_generated_sections_are_what_the_sources_make_now(sdk_md):
    assert sdk_docs.render_sdk_md(sdk_md) == sdk_md, "docs/SDK.md is stale: run python scripts/sdk_docs.py"
    text = INDEX_D_TS.read_text()
    assert sdk_docs.render_index_d_ts(text) == text, "sdk/index.d.ts is stale: run python scripts/sdk_docs.py"


def test_the_error_table_lists_every_code_of_the_registry(sdk_md):
    from meshkit_web.core.errors import registry
    table = section(sdk_md, "Error codes")
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \| (yes|no) \|", table, re.M)
    assert [(code, int(status), retry == "yes") for code, status, retry in rows] == \
        [(code, entry["status"], entry["retryable"]) for code, entry in registry().items()]


def test_every_code_the_package_raises_is_in_the_registry():
    from meshkit_web.core.errors import registry
    codes = set()
    for path in [*(ROOT / "sdk").glob("*.js"), ROOT / "service_worker" / "sw.js", ROOT / "static" / "app.js"]:
        text = path.read_text()
        codes |= set(re.findall(r"MeshKitError\(\s*\"([a-z_]+)\"", text))
        codes |= set(re.findall(r"\brefuse\(\s*\"([a-z_]+)\"", text))
        codes |= set(re.findall(r"\bcode: \"([a-z_]+)\"", text))
    assert codes and codes <= set(registry()), codes - set(registry())


# --- the surface: code, types, docs ---------------------------------------------------------------

def test_the_types_declare_exactly_what_the_code_returns(surface):
    assert surface["types"]["MeshKit"] == surface["page"]["api"]
    assert surface["types"]["MeshKitWorker"] == surface["worker"]["api"]
    # one index.d.ts types both entry points (package.json: "." and "./worker")
    assert surface["types"]["exports"] == sorted(set(surface["page"]["exports"]) | set(surface["worker"]["exports"]))


def test_every_member_and_export_is_documented(surface, sdk_md):
    reference = section(sdk_md, "Reference")
    missing = [f"mk.{path}" for path in surface["page"]["api"] if not re.search(rf"`mk\.{re.escape(path)}\b", reference)]
    missing += [f"mkw.{path}" for path in surface["worker"]["api"]
                if not re.search(rf"`mkw\.{re.escape(path)}\b", reference)]
    missing += [name for name in surface["types"]["exports"] if not re.search(rf"`{name}\b", reference)]
    assert not missing, f"not in docs/SDK.md's reference: {missing}"


def test_the_typescript_usage_uses_every_member(surface):
    usage, worker = (TYPES / "usage.ts").read_text(), (TYPES / "worker.ts").read_text()
    missing = [f"mk.{p}" for p in surface["page"]["api"] if not re.search(rf"\bmk\.{re.escape(p)}\b", usage)]
    missing += [f"mkw.{p}" for p in surface["worker"]["api"] if not re.search(rf"\bmkw\.{re.escape(p)}\b", worker)]
    missing += [name for name in surface["page"]["exports"] if not re.search(rf"\b{name}\b", usage)]
    missing += [name for name in surface["worker"]["exports"] if not re.search(rf"\b{name}\b", worker)]
    assert not missing, f"tests/types does not use {missing}"
    assert usage.count("@ts-expect-error") >= 8 and worker.count("@ts-expect-error") >= 3


@pytest.mark.parametrize("config", ["tsconfig.json", "tsconfig.worker.json"])
def test_the_types_compile_strictly(config):
    done = subprocess.run(["node", str(TSC), "--noEmit", "--strict", "-p", str(TYPES / config)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_maps_both_entry_points_to_the_types():
    import build
    from meshkit_web import __version__
    package = build.package_json(__version__)
    assert package["types"] == "./index.d.ts"
    assert package["exports"]["."]["types"] == package["exports"]["./worker"]["types"] == "./index.d.ts"
    assert {"index.d.ts", "SDK.md", "CHANGELOG.md"} <= set(package["files"])


# --- the quickstart, the version -----------------------------------------------------------------

def test_the_quickstart_is_a_page_and_a_worker_in_under_25_lines_each(sdk_md):
    blocks = re.findall(r"```(?:js|javascript|html)\n(.*?)```", section(sdk_md, "Quickstart"), re.S)
    page = [b for b in blocks if "createMeshKit(" in b]
    worker = [b for b in blocks if "createMeshKitWorker(" in b]
    assert page and worker
    for block in page + worker:
        assert len(block.rstrip("\n").split("\n")) < 25, block


def test_the_version_is_one_and_the_changelog_says_it(sdk_md):
    import build
    from meshkit_web import __version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert build.package_json(__version__)["version"] == __version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, re.M)
    assert releases and releases[0] == __version__, releases
    assert re.search(r"^## Version policy", changelog, re.M)
    assert "## [Unreleased]" in changelog
    assert __version__ in sdk_md


def test_the_csp_it_asks_for_is_the_one_our_app_is_served_with(sdk_md):
    from meshkit_web.gateway.headers import app_csp
    ours = dict(d.strip().split(" ", 1) for d in app_csp().split(";"))
    documented = section(sdk_md, "Content-Security-Policy")
    for directive in ("script-src", "worker-src"):
        assert f"{directive} {ours[directive]}" in documented, directive


# --- the real objects, in Chromium -----------------------------------------------------------------

# Keys of an object, nested objects of functions only (identity, devices, ...) as "a.b"; a
# getter is a key (never called). The same rule as sdk_surface.mjs.
KEYS_JS = """
const keys = (object, prefix = "") => Object.entries(Object.getOwnPropertyDescriptors(object)).flatMap(([key, d]) => {
  const v = d.value;
  const methods = v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype
    && Object.values(v).length > 0 && Object.values(v).every((x) => typeof x === "function");
  return methods ? keys(v, prefix + key + ".") : [prefix + key];
}).sort();
"""


def test_the_objects_in_the_browser_have_exactly_the_declared_keys(surface, page, base_url):
    from support.browser import ready
    page.goto(base_url)
    ready(page)
    found = page.evaluate("""async () => {
      %s
      const pinned = JSON.parse(document.querySelector('script[type="importmap"]').textContent).integrity;
      const url = (name) => Object.keys(pinned).find((path) => path.endsWith("/" + name));
      const pageModule = await import(url("meshkit.js"));
      const workerModule = await import(url("meshkit-sw.js"));
      const mkw = workerModule.createMeshKitWorker({ namespace: "sdk-docs-check" });
      return { page: keys(globalThis.meshkit).filter((k) => k !== "refusedWorker"), worker: keys(mkw),
               pageExports: Object.keys(pageModule).sort(), workerExports: Object.keys(workerModule).sort() };
    }""" % KEYS_JS)
    assert found["page"] == surface["page"]["api"]
    assert found["worker"] == surface["worker"]["api"]
    assert found["pageExports"] == surface["page"]["exports"]
    assert found["workerExports"] == surface["worker"]["exports"]


# --- the quickstart, as written, in an app of its own ------------------------------------------------

@pytest.fixture(scope="module")
def quickstart_app(site, tmp_path_factory):
    """SDK.md's quickstart as a developer would make it: the package copied to /vendor/meshkit/
    of a plain static server, the page and worker code blocks as app.js and sw.js, and a
    gateway on another origin started with --cors-origin for the app (and one without, which
    must refuse it). The package is the one the site's release is built on (build.py puts
    build_package's folder at /b/<build>/, our app in its app/): one build for the session."""
    from starlette.applications import Starlette
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread, free_port
    import shutil
    (release,) = (site / "b").iterdir()
    app = tmp_path_factory.mktemp("quickstart")
    shutil.copytree(release, app / "vendor" / "meshkit", ignore=shutil.ignore_patterns("app"))
    assert json.loads((app / "vendor" / "meshkit" / "package.json").read_text())["name"] == "meshkit-web"
    port = free_port()
    app_url = f"http://127.0.0.1:{port}"

    def gateway(name: str, cors: list[str]):
        data = tmp_path_factory.mktemp(name)
        return ServerThread(create_app(GatewayConfig(data_dir=str(data), cors_origins=cors),
                                       EmbeddedProvider(str(data / "blockstore")))).start()
    allowed, refusing = gateway("quickstart-gateway", [app_url]), gateway("no-cors-gateway", [])
    blocks = re.findall(r"```js\n(.*?)```", section(SDK_MD.read_text(), "Quickstart"), re.S)
    page = next(b for b in blocks if "createMeshKit(" in b)
    worker = next(b for b in blocks if "createMeshKitWorker(" in b)
    (app / "app.js").write_text(page.replace("https://gateway.example", allowed.url))
    (app / "sw.js").write_text(worker.replace("https://gateway.example", allowed.url))
    (app / "index.html").write_text('<!doctype html><input type="file"><script type="module" src="/app.js"></script>\n')
    (app / "blank.html").write_text("<!doctype html><p>another page of the app</p>\n")
    (app / "elsewhere.html").write_text("<!doctype html><p>a page whose CSP names another gateway too</p>\n")
    (app / "no-workers.html").write_text("<!doctype html><p>a page whose CSP allows no blob: worker</p>\n")
    # any static server, sending SDK.md's CSP (the gateway in connect-src) on every response
    (policy,) = re.findall(r"```\n(.*?)```", section(SDK_MD.read_text(), "Content-Security-Policy"), re.S)
    csp = "; ".join(policy.strip().replace("https://gateway.example", allowed.url).split("\n"))
    files = Starlette(routes=[Mount("/", StaticFiles(directory=str(app), html=True))])

    # /elsewhere.html: the same policy, its connect-src naming the refusing gateway too
    elsewhere = csp.replace(f"connect-src 'self' {allowed.url}", f"connect-src 'self' {allowed.url} {refusing.url}")
    assert elsewhere != csp
    # /no-workers.html: the same policy without blob: in worker-src (Core's worker cannot start)
    no_workers = csp.replace("worker-src 'self' blob:", "worker-src 'self'")
    assert no_workers != csp

    async def static(scope, receive, send):
        async def with_csp(message):
            if message["type"] == "http.response.start":
                policy = {"/elsewhere.html": elsewhere, "/no-workers.html": no_workers}.get(scope["path"], csp)
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"content-security-policy", policy.encode())]}
            await send(message)
        await files(scope, receive, with_csp if scope["type"] == "http" else send)
    server = ServerThread(static, port=port, ready_path="/index.html").start()
    yield {"url": app_url, "gateway": allowed.url, "refusing": refusing.url, "csp": csp}
    for running in (server, allowed, refusing):
        running.stop()


# Results of the API in the quickstart's state (alice, her file), each by the interface of
# index.d.ts that types it; and every path in them where a value is null (none may be: Core's
# None arrives as undefined, and the types say so).
SHAPES_JS = """async ([root, gateway]) => {
  const { createMeshKit } = await import("/vendor/meshkit/meshkit.js");
  const mk = await createMeshKit({ gateway, namespace: "notes" });
  const [me] = await mk.identity.list();
  const as = me.name;
  const caps = await mk.capabilities();
  const sealed = await mk.seal("sealed again", { from: as });
  const queued = await mk.seal("into the outbox", { from: as, mode: "outbox" });
  const results = {
    Identity: me, Capabilities: caps, BackgroundReport: caps.background, KeyReport: caps.keys,
    PostQuantumReport: caps.post_quantum,
    Described: await mk.describe(root, { as }), Opened: await mk.open(root, { as }),
    Sealed: sealed, "Sealed (queued)": queued, Job: await mk.jobs.get(queued.job),
    EnvelopeEntry: (await mk.envelopes(as))[0], PublicRecord: await mk.identity.record(as),
    SendLink: await mk.sendLinks.create(root, { from: as, opens: 1 }), Access: await mk.access(root, { as }),
    Device: (await mk.devices.list(as))[0],
  };
  results["Described (send link)"] = await mk.sendLinks.describe(results.SendLink.link);
  results.SentMessage = await mk.messages.send(me.id, "a note to self", { from: as, kind: "app-check" });
  results.AppMessage = (await mk.messages.list(as, { kind: "app-check" }))[0];
  results.ReadMessage = await mk.messages.read(as, results.AppMessage.id);
  results.WrittenRecord = await mk.records.put(as, "settings", "{}", { expectedVersion: 0 });
  results.AppRecord = await mk.records.get(as, "settings");
  const acked = await mk.messages.ack(as, results.AppMessage.id);
  const noRecord = await mk.records.get(as, "nothing-here");
  const nulls = [];
  const scan = (value, path) => {
    if (value === null) nulls.push(path);
    else if (value && typeof value === "object" && !(value instanceof Blob) && !ArrayBuffer.isView(value)) {
      for (const [key, inner] of Object.entries(value)) scan(inner, path + "." + key);
    }
  };
  scan(results, "");
  const keys = Object.fromEntries(Object.entries(results).map(([name, value]) => [name, Object.keys(value).sort()]));
  const opened = await mk.open(root, { as, type: "text/plain" });
  mk.close();
  return { keys, nulls, streaming: caps.background.streaming_urls, blobType: opened.blob.type,
           queuedStatus: queued.status, sealedJob: sealed.job === undefined && "job" in sealed,
           acked: Object.keys(acked).sort(), noRecord, recordText: results.AppRecord.text,
           messageData: results.ReadMessage.data instanceof Uint8Array && results.ReadMessage.text };
}"""


def test_the_quickstart_works_as_written(browser, quickstart_app, surface):
    context = browser.new_context()
    page = context.new_page()
    lines, dialogs = [], []
    page.on("console", lambda message: lines.append(message.text))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    try:
        page.goto(quickstart_app["url"] + "/")
        # the page made its identity and showed its recovery phrase
        try:
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=120_000)
        except Exception as error:  # the page's own words say why (a rejected createMeshKit, a CSP refusal)
            raise AssertionError(f"the quickstart's worker never took control: {lines[-20:]}") from error
        deadline = 120
        while not dialogs and deadline:
            page.wait_for_timeout(1000)
            deadline -= 1
        assert dialogs and len(dialogs[0].split(":\n", 1)[1].split()) == 24, (dialogs, lines[-20:])
        # a file sealed and opened back, as the code block says
        page.set_input_files("input[type=file]", files=[{"name": "note.txt", "mimeType": "text/plain",
                                                         "buffer": b"hello from the quickstart"}])
        page.wait_for_function("() => true")
        deadline = 120
        while not any("hello from the quickstart" in line for line in lines) and deadline:
            page.wait_for_timeout(1000)
            deadline -= 1
        assert any(line.startswith("stored as bafy") and line.endswith("uploaded") for line in lines), lines[-20:]
        assert any(line == "note.txt 25 hello from the quickstart" for line in lines), lines[-20:]
        root = next(line.split()[2] for line in lines if line.startswith("stored as bafy"))
        # the worker of the quickstart runs MeshKit for the page: background work and streamed opens
        checked = page.evaluate("""async (root) => {
          const { createMeshKit } = await import("/vendor/meshkit/meshkit.js");
          const mk = await createMeshKit({ gateway: %s, namespace: "notes" });
          const caps = await mk.capabilities();
          const [me] = await mk.identity.list();
          const response = await mk.openStream(root, { as: me.name });
          return { background: caps.background, gateway: caps.gateway.state, streamed: await response.text() };
        }""" % json.dumps(quickstart_app["gateway"]), root)
        assert checked["background"]["mode"] == "service-worker", checked
        assert checked["gateway"] == "ok" and checked["streamed"] == "hello from the quickstart", checked

        # the results have the shapes index.d.ts declares, and nothing in them is null
        found = page.evaluate(SHAPES_JS, [root, quickstart_app["gateway"]])
        declared = surface["types"]["interfaces"]
        for name, keys in found["keys"].items():
            shape = declared[name.split(" (")[0]]
            assert set(shape["required"]) <= set(keys), (name, set(shape["required"]) - set(keys))
            assert shape["open"] or set(keys) <= set(shape["required"]) | set(shape["optional"]), \
                (name, set(keys) - set(shape["required"]) - set(shape["optional"]))
        assert found["nulls"] == [], found["nulls"]
        assert found["queuedStatus"] == "queued" and found["sealedJob"] is True, found
        assert found["blobType"] == "text/plain" and found["streaming"] is True, found
        assert found["acked"] == ["acked", "cid", "id"] and found["noRecord"] is None, found
        assert found["recordText"] == "{}" and found["messageData"] == "a note to self", found
        # all of it under the CSP SDK.md asks for, and nothing more
        assert quickstart_app["csp"].startswith("script-src 'self' 'wasm-unsafe-eval'; connect-src")
        assert not [line for line in lines if "Content Security Policy" in line], lines
    finally:
        context.close()


@pytest.mark.parametrize("page_path, gateway, expected", [("/elsewhere.html", "refusing", "gateway_origin_refused"),
                                                         ("/blank.html", "refusing", "csp_blocked"),
                                                         ("/no-workers.html", "gateway", "csp_blocked")])
def test_a_gateway_that_refuses_the_origin_is_named(browser, quickstart_app, page_path, gateway, expected):
    """A gateway started without --cors-origin for the app: gateway_origin_refused; one the
    page's own CSP does not allow: csp_blocked; a CSP without worker-src blob: (Core's worker
    cannot start): csp_blocked too, never "unsupported". Either way nothing is created."""
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(quickstart_app["url"] + page_path)
        got = page.evaluate("""async (gateway) => {
          const { createMeshKit } = await import("/vendor/meshkit/meshkit.js");
          let code = "started";
          try { await createMeshKit({ gateway, namespace: "elsewhere" }); } catch (error) { code = error.code; }
          return {code, databases: (await indexedDB.databases()).map((d) => d.name)};
        }""", quickstart_app[gateway])
        assert got["code"] == expected, got
        assert "meshkit:elsewhere" not in got["databases"], got  # Core never opened its storage
    finally:
        context.close()
