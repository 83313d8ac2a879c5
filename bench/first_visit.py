#!/usr/bin/env python3
"""First-visit bytes: ``.venv/bin/python bench/first_visit.py``.

What a first visit to the app transfers (a new Chromium context: empty HTTP cache, no
service worker), counted by the server as it sends each response (tests/support/transfer.py:
body bytes as sent, so a compressed file counts compressed; headers reported apart):

  * to ready: from the page's request to data-meshkit-ready = "true";
  * whole visit: on until the service worker controls the page and its install (the
    release's precache, revalidated: 304s for what the page already has) is over;

each for the gateway as it serves the built site (NAME.br / NAME.gz by Accept-Encoding), and
for the same site served as it is (Accept-Encoding removed from every request: the
"before" of precompression). The peer, in the same run and under the same server code
(gateway/site.py's ImmutableFiles, files precompressed by build.py's precompress): a bare
Pyodide boot, a page that only calls loadPyodide() on the stock runtime files (pyodide.mjs,
pyodide.asm.mjs, pyodide.asm.wasm, python_stdlib.zip, pyodide-lock.json from the npm
package build.py pins).

Target (issue 23): the whole first visit <= 1.1x the bare Pyodide boot, both compressed.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import HTMLResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402

import build  # noqa: E402  (build.py: fetch_pyodide, precompress, PYODIDE_FILES)
from meshkit_web.gateway.app import create_app  # noqa: E402
from meshkit_web.gateway.config import GatewayConfig  # noqa: E402
from meshkit_web.gateway.site import ImmutableFiles  # noqa: E402
from meshkit_web.providers.embedded import EmbeddedProvider  # noqa: E402
from rows import record  # noqa: E402
from support.servers import ServerThread  # noqa: E402
from support.transfer import TransferLog  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
TARGET = 1.1

BARE_HTML = """<!doctype html><meta charset="utf-8"><script type="module">
const {loadPyodide} = await import('/b/bare/pyodide/pyodide.mjs');
await loadPyodide({indexURL: new URL('/b/bare/pyodide/', location.href).href});
document.documentElement.dataset.bare = 'ready';
</script>"""


class Identity:
    """ASGI wrapper: every request as if it accepted no content coding (the site as served
    before precompression)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]}
        await self.app(scope, receive, send)


def quiet(log: TransferLog, seconds: float = 2.0, limit: float = 120.0) -> None:
    """Wait until the server has sent nothing new for ``seconds``."""
    deadline, seen, since = time.time() + limit, -1, time.time()
    while time.time() < deadline:
        count = len(log.snapshot())
        if count != seen:
            seen, since = count, time.time()
        elif time.time() - since >= seconds:
            return
        time.sleep(0.1)


def visit(browser, url: str, log: TransferLog, path: str, ready_js: str, worker: bool) -> dict:
    """One cold visit: bytes to ready, and (``worker``) for the whole visit."""
    context = browser.new_context(base_url=url)
    page = context.new_page()
    log.clear()
    page.goto(path)
    page.wait_for_function(ready_js, timeout=120_000)
    to_ready = log.snapshot()
    if worker:
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=120_000)
    quiet(log)
    whole = log.snapshot()
    context.close()
    body = lambda sent: sum(s.body_bytes for s in sent)  # noqa: E731
    return {"to_ready": body(to_ready), "whole": body(whole), "headers": sum(s.header_bytes for s in whole),
            "requests": len(whole), "sent": whole}


def biggest(sent, count=6) -> str:
    totals: dict[str, list] = {}
    for s in sent:
        name = s.path.rsplit("/", 1)[-1] or "/"
        entry = totals.setdefault(name, [0, set()])
        entry[0] += s.body_bytes
        if s.body_bytes:  # (a 304 sends none)
            entry[1].add(s.encoding or "identity")
    top = sorted(totals.items(), key=lambda kv: -kv[1][0])[:count]
    return ", ".join(f"{name} {size / 1e6:.2f} MB ({'/'.join(sorted(enc))})" for name, (size, enc) in top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", help="a site already built by build.py (default: build one now)")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="meshkit-bench-first-visit-"))
    site = pathlib.Path(args.site) if args.site else work / "site"
    if not args.site:
        print("building the site ...", file=sys.stderr)
        subprocess.run([sys.executable, str(ROOT / "build.py"), "--out", str(site)], check=True, capture_output=True)
    meta = json.loads((site / "build.json").read_text())

    # the peer: stock Pyodide files, precompressed and served by the same ImmutableFiles
    bare = work / "bare"
    (bare / "bare" / "pyodide").mkdir(parents=True)
    stock = build.fetch_pyodide()
    for name in build.PYODIDE_FILES:
        shutil.copy2(stock / name, bare / "bare" / "pyodide" / name)
    build.precompress(bare)

    config = GatewayConfig(data_dir=str(work / "data"), site_dir=str(site), rate_limit="100000/minute")
    gateway = TransferLog(create_app(config, EmbeddedProvider(str(work / "data" / "blockstore"))))
    plain_config = GatewayConfig(data_dir=str(work / "plain"), site_dir=str(site), rate_limit="100000/minute")
    plain = TransferLog(Identity(create_app(plain_config, EmbeddedProvider(str(work / "plain" / "blockstore")))))
    peer = TransferLog(Starlette(routes=[Route("/", lambda request: HTMLResponse(BARE_HTML)),
                                         Mount("/b", ImmutableFiles(directory=str(bare)))]))
    servers = [ServerThread(gateway).start(), ServerThread(plain).start(), ServerThread(peer, ready_path="/").start()]
    ready = "() => document.documentElement.dataset.meshkitReady === 'true'"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=os.environ.get("MESHKIT_CHROMIUM", "/usr/bin/chromium"),
                                                 headless=True, args=CHROMIUM_ARGS)
            version = browser.version
            after = visit(browser, servers[0].url, gateway, "/", ready, worker=True)
            before = visit(browser, servers[1].url, plain, "/", ready, worker=True)
            peer_visit = visit(browser, servers[2].url, peer, "/", "() => document.documentElement.dataset.bare",
                               worker=False)
            browser.close()
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    mb = lambda n: f"{n / 1e6:.2f} MB"  # noqa: E731
    ratio = after["whole"] / peer_visit["whole"]
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"\nfirst visit, cold (new context, empty cache); Chromium {version}, Pyodide {meta['pyodide']}, "
          f"release {meta['build']}; bytes = response bodies as sent")
    print(f"  {'':34} {'to ready':>10} {'whole visit':>12} {'requests':>9} {'headers':>9}")
    for label, v in (("before: the site as it is", before), ("after: precompressed (br/gzip)", after),
                     ("peer: bare Pyodide boot, compressed", peer_visit)):
        print(f"  {label:34} {mb(v['to_ready']):>10} {mb(v['whole']):>12} {v['requests']:>9} {mb(v['headers']):>9}")
    print(f"  after is {after['whole'] / before['whole']:.0%} of before")
    print(f"  largest after:  {biggest(after['sent'])}")
    print(f"  largest peer:   {biggest(peer_visit['sent'])}")
    print(f"target first visit bytes <= {TARGET}x bare Pyodide boot (both compressed): "
          f"{mb(after['whole'])} vs {mb(peer_visit['whole'])} = {ratio:.2f}x: {verdict}")
    record("browser.first_visit", bytes=after["whole"], bytes_to_ready=after["to_ready"],
           uncompressed_bytes=before["whole"], uncompressed_to_ready=before["to_ready"],
           bare_bytes=peer_visit["whole"], requests=after["requests"], header_bytes=after["headers"])


if __name__ == "__main__":
    main()
