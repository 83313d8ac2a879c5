#!/usr/bin/env python3
"""Service-worker benchmark: ``.venv/bin/python bench/worker.py [--size-mib 256] [--runs 3]``.

One Chromium (Debian's, headless, offline) against the real gateway serving the built site,
in the same run and on the same envelope (sealed to the browser's identity by the CLI):

  * streamed open through the service worker: a download of /meshkit/open/<root> written
    to disk by the browser (every block CID-checked, each segment authenticated before it
    is streamed), vs the peer, an open in the page (meshkit.open: the whole plaintext
    assembled as a Blob once every segment has authenticated); MiB/s and the peak memory
    of all browser processes over their level before the open; every output is compared
    (SHA-256) with the input;
  * the worker's cold boot (stopped worker -> Pyodide + our wheels from its cache -> Core
    ready), median of --runs, and its first install (precaching the release).
"""

import argparse
import hashlib
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402

from meshkit_web.gateway.app import create_app  # noqa: E402
from meshkit_web.gateway.config import GatewayConfig  # noqa: E402
from meshkit_web.providers.embedded import EmbeddedProvider  # noqa: E402
from support.browser_memory import PeakMemory  # noqa: E402
from support.servers import ServerThread  # noqa: E402
from rows import record  # noqa: E402

MiB = 1 << 20
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]


def sha256_file(path: pathlib.Path) -> bytes:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(MiB), b""):
            digest.update(chunk)
    return digest.digest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--large-mib", type=int, default=0,
                        help="also stream an envelope this large once (memory must not grow with size)")
    args = parser.parse_args()

    work = pathlib.Path(tempfile.mkdtemp(prefix="meshkit-bench-worker-"))
    subprocess.run([sys.executable, str(ROOT / "build.py"), "--out", str(work / "site")], check=True,
                   capture_output=True)
    config = GatewayConfig(data_dir=str(work / "gateway"), site_dir=str(work / "site"), pin_quota=1 << 40,
                           storage_quota=1 << 40, rate_limit="100000/minute")
    server = ServerThread(create_app(config, EmbeddedProvider(str(work / "gateway" / "blockstore")))).start()

    def cli(*cli_args):
        return subprocess.run([sys.executable, "-m", "meshkit_web", "--home", str(work / "home"), *map(str, cli_args)],
                              check=True, capture_output=True, text=True).stdout

    size = args.size_mib * MiB
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
            context = browser.new_context(base_url=server.url, accept_downloads=True)
            page = context.new_page()
            started = time.perf_counter()
            page.goto("/")
            page.wait_for_function("() => document.documentElement.dataset.meshkitReady === 'true'", timeout=120_000)
            page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=120_000)
            install_s = time.perf_counter() - started
            me = page.evaluate("meshkit.identity.create('bench').then((r) => r.id)")

            cli("identity", "create", "sender")
            cli("identity", "publish", "sender", "--gateway", server.url)

            def sealed(mib: int) -> tuple[str, bytes]:
                source = work / "plain.bin"
                with open(source, "wb") as out:
                    for _ in range(mib):
                        out.write(hashlib.sha256(out.tell().to_bytes(8, "big")).digest() * (MiB // 32))
                digest = sha256_file(source)
                made = cli("seal", source, "--from", "sender", "--to", me, "--gateway", server.url).split()[-1]
                source.unlink()
                return made, digest

            def download(envelope: str, digest: bytes) -> tuple[float, float, bool]:
                """A streamed download to disk through the worker: (seconds, peak MiB over idle, verified)."""
                url = page.evaluate("async (r) => await meshkit.openUrl(r, {as: 'bench', name: 'out.bin', download: true})",
                                    envelope)
                page.evaluate("""(u) => { const a = document.createElement('a'); a.href = u; a.id = 'dl';
                                  a.textContent = 'dl'; document.body.append(a); }""", url)
                out = work / "out.bin"
                with PeakMemory() as memory:
                    start = time.perf_counter()
                    with page.expect_download(timeout=1_800_000) as info:
                        page.click("#dl")
                    info.value.save_as(out)
                    elapsed = time.perf_counter() - start
                page.evaluate("document.getElementById('dl').remove()")
                ok = sha256_file(out) == digest
                out.unlink()
                return elapsed, memory.over_mib, ok

            root, expected = sealed(args.size_mib)

            # warm up: boots the worker's Core, so the rows below measure opens, not boots
            warm = page.evaluate("(r) => meshkit.openStream(r, {as: 'bench'}).then((x) => x.body.cancel())", root)
            del warm

            for run in range(args.runs):
                elapsed, over, ok = download(root, expected)
                rows.append(("worker: streamed download", run, size / MiB / elapsed, over, ok))

                with PeakMemory() as memory:
                    start = time.perf_counter()
                    page.evaluate("(r) => meshkit.open(r, {as: 'bench'}).then((o) => { window.opened = o.blob; })", root)
                    elapsed = time.perf_counter() - start
                digest = bytes(page.evaluate("""async () => Array.from(new Uint8Array(await crypto.subtle.digest(
                    'SHA-256', await window.opened.arrayBuffer())))"""))
                page.evaluate("window.opened = null")
                rows.append(("page: meshkit.open (Blob)", run, size / MiB / elapsed, memory.over_mib, digest == expected))

            large = None
            if args.large_mib:
                print(f"sealing and streaming {args.large_mib} MiB ...", file=sys.stderr)
                big_root, big_digest = sealed(args.large_mib)
                elapsed, over, ok = download(big_root, big_digest)
                large = (args.large_mib / elapsed, over, ok)

            boots, inside = [], []
            cdp = context.new_cdp_session(page)
            cdp.send("ServiceWorker.enable")
            for _ in range(args.runs):
                cdp.send("ServiceWorker.stopAllWorkers")
                time.sleep(0.5)
                start = time.perf_counter()
                reply = page.evaluate("""() => new Promise((resolve) => {
                  const channel = new MessageChannel();
                  channel.port1.onmessage = (event) => resolve(event.data);
                  navigator.serviceWorker.controller.postMessage({meshkit: 'default', type: 'boot'}, [channel.port2]);
                })""")
                boots.append((time.perf_counter() - start) * 1000)
                assert reply["ok"], reply
                inside.append(reply["timings"]["bootMs"])
            browser.close()
    finally:
        server.stop()

    print(f"\nService worker, {args.size_mib} MiB envelope through the gateway on 127.0.0.1 (CID-checked, "
          f"decrypted), {args.runs} runs:")
    print(f"{'':30} {'MiB/s':>8} {'peak memory over idle':>22}  output")
    for name in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == name]
        speeds = [r[2] for r in mine]
        peaks = [r[3] for r in mine]
        print(f"{name:30} {statistics.median(speeds):8.1f} {statistics.median(peaks):17.0f} MiB    "
              f"{'verified' if all(r[4] for r in mine) else 'MISMATCH'}"
              f"   (runs: {', '.join(f'{s:.0f}' for s in speeds)} MiB/s; {', '.join(f'{p:.0f}' for p in peaks)} MiB)")
    print(f"worker cold boot (stopped -> Core ready): median {statistics.median(boots):.0f} ms wall, "
          f"{statistics.median(inside):.0f} ms inside the worker (runs: {', '.join(f'{b:.0f}' for b in boots)})")
    print(f"first visit to ready, worker installed and controlling (precache included): {install_s:.1f} s")
    streamed = [r for r in rows if r[0].startswith("worker")]
    record("worker.download", mib_s=statistics.median(r[2] for r in streamed),
           over_mib=statistics.median(r[3] for r in streamed), mib=args.size_mib, ok=all(r[4] for r in streamed))
    if large is not None:
        print(f"worker streamed download of {args.large_mib} MiB: {large[0]:.1f} MiB/s, peak memory over idle "
              f"{large[1]:.0f} MiB ({args.size_mib} MiB: {statistics.median(r[3] for r in streamed):.0f} MiB), "
              f"{'verified' if large[2] else 'MISMATCH'}")
        record("worker.large", mib=args.large_mib, mib_s=large[0], over_mib=large[1], ok=large[2])


if __name__ == "__main__":
    main()
