#!/usr/bin/env python3
"""Where the page's time goes: Chromium's CPU profiler (CDP ``Profiler``) on the page's main
thread while Core seals and opens in Pyodide, with and without the gateway.

    .venv/bin/python bench/profile_browser.py [--size-mib 128]

Each phase's samples are put in a few buckets by the frame they were taken in:

  idle              the main thread waited: for the network, the gateway, WebCrypto's threads
  webcrypto calls   time inside crypto.subtle.encrypt/decrypt/digest on the calling thread
                    (Chromium copies the input there before the work goes to its own threads)
  browser (native)  the profiler's "(program)": the engine's and the browser's native work
  python (wasm)     Pyodide's interpreter and C code: Core's orchestration, copies into Python
  pyodide glue      Pyodide's JS side: the FFI (proxies, conversions, promise hand-offs)
  gc                V8's garbage collector (freed segment buffers)
  other JS          the app's JS, Blob and fetch plumbing

Not a benchmark (no target, no peer): the numbers explain the rows of ``make bench``.
"""

import argparse
import collections
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402
from support.browser import IN_PAGE_CORE_JS  # noqa: E402

from browser import CHROMIUM_ARGS  # noqa: E402  (bench/browser.py: the same Chromium flags)
from meshkit_web.gateway.app import create_app  # noqa: E402
from meshkit_web.gateway.config import GatewayConfig  # noqa: E402
from meshkit_web.providers.embedded import EmbeddedProvider  # noqa: E402
from support.servers import ServerThread  # noqa: E402

SEAL_PY = """
import js
from meshkit_web.core.envelope import seal
from meshkit_web.core.identity import create_identity
from meshkit_web.browser.webcrypto import WebCryptoBackend
from meshkit_web.browser.blob_source import BlobSource
backend = await WebCryptoBackend.create()
me = await create_identity(backend, "profile", 0)
blocks = {}
async for block in seal(backend, BlobSource(js.globalThis.profileBlob), sender=me, recipients=[], now=0):
    blocks[block.cid] = block.data
    root = block.cid
js.globalThis.profileState = (backend, me, blocks, root)
"""

OPEN_PY = """
import js
from meshkit_web.core.envelope import open_envelope
backend, me, blocks, root = js.globalThis.profileState
async def get_block(cid):
    return blocks[cid]
opened = await open_envelope(backend, root, get_block, me)
total = 0
async for chunk in opened.plaintext():
    total += len(chunk)
total
"""

PHASES = {
    "seal in the page (no HTTP)": "async (code) => { await meshkitPy.runPythonAsync(code); }",
    "open in the page (no HTTP)": "async (code) => { await meshkitPy.runPythonAsync(code); }",
    "seal through the gateway": """async () => { const me = (await meshkit.identity.list())[0].name;
        globalThis.profileEnv = await meshkit.seal(globalThis.profileBlob, {from: me, mode: 'direct', name: 'p.bin'}); }""",
    "open through the gateway": """async () => { const me = (await meshkit.identity.list())[0].name;
        const {blob} = await meshkit.open(globalThis.profileEnv.root, {as: me}); return blob.size; }""",
}


WEBCRYPTO = ("encrypt", "decrypt", "digest", "sign", "verify", "deriveBits", "importKey", "exportKey")


def bucket(frame: dict) -> str:
    name, url = frame.get("functionName", ""), frame.get("url", "")
    if name in ("(idle)", "(garbage collector)"):
        return {"(idle)": "idle", "(garbage collector)": "gc"}[name]
    if name in ("(program)", "(root)"):
        return "browser (native)"
    if name in WEBCRYPTO and not url:
        return "webcrypto calls"
    if url.startswith("wasm://") or url.endswith(".wasm"):
        return "python (wasm)"
    if "pyodide" in url:
        return "pyodide glue"
    return "other JS"


def breakdown(profile: dict, top: collections.Counter | None = None) -> dict[str, float]:
    """Milliseconds of samples per bucket (self time of the frame each sample was taken in)."""
    frames = {node["id"]: node["callFrame"] for node in profile["nodes"]}
    spent = collections.Counter()
    for node_id, delta in zip(profile["samples"], profile["timeDeltas"]):
        spent[bucket(frames[node_id])] += delta / 1000
        if top is not None:
            frame = frames[node_id]
            top[(frame.get("functionName"), frame.get("url", "")[-40:])] += delta / 1000
    return dict(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=128)
    parser.add_argument("-v", action="store_true", help="also the frames with the most samples")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="meshkit-profile-"))
    subprocess.run([sys.executable, str(ROOT / "build.py"), "--out", str(work / "site")], check=True,
                   capture_output=True)
    config = GatewayConfig(data_dir=str(work / "data"), site_dir=str(work / "site"), pin_quota=1 << 40,
                           storage_quota=1 << 40, rate_limit="100000/minute")
    server = ServerThread(create_app(config, EmbeddedProvider(str(work / "data" / "blockstore")))).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(base_url=server.url).new_page()
        page.goto("/")
        page.wait_for_function("() => document.documentElement.dataset.meshkitReady === 'true'", timeout=120_000)
        page.evaluate(IN_PAGE_CORE_JS)  # Core on the page's thread, for the rows that run Python there
        page.evaluate("""async (size) => {
            const data = new Uint8Array(size);
            for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
            globalThis.profileBlob = new Blob([data]);
            await meshkit.identity.create('profiler'); }""", args.size_mib << 20)
        cdp = page.context.new_cdp_session(page)
        cdp.send("Profiler.enable")
        cdp.send("Profiler.setSamplingInterval", {"interval": 200})  # microseconds
        print(f"main-thread CPU profile, {args.size_mib} MiB, Chromium {browser.version}; ms (share of the phase)")
        for warm_up in (True, False):
            for phase, script in PHASES.items():
                code = SEAL_PY if phase.startswith("seal in") else OPEN_PY if phase.startswith("open in") else None
                if not warm_up:
                    cdp.send("Profiler.start")
                start = time.perf_counter()
                page.evaluate(script, code)
                wall = (time.perf_counter() - start) * 1000
                if warm_up:
                    continue
                top = collections.Counter()
                spent = breakdown(cdp.send("Profiler.stop")["profile"], top)
                if "-v" in sys.argv:
                    print("   ", [(k, round(v)) for k, v in top.most_common(12)])
                total = sum(spent.values()) or 1
                parts = ", ".join(f"{name} {ms:.0f} ({ms / total:.0%})" for name, ms in
                                  sorted(spent.items(), key=lambda kv: -kv[1]))
                print(f"{phase:<28} {wall:6.0f} ms wall, {args.size_mib / wall * 1000:5.0f} MiB/s: {parts}")
        browser.close()
    server.stop()


if __name__ == "__main__":
    main()
