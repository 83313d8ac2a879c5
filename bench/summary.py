#!/usr/bin/env python3
"""The one table of ``make bench``: every target of issue 14, side by side with its named
peer, from the measurements the benchmark scripts recorded in this run (bench/rows.py).
A row whose measurement is missing (a script failed, a peer is not installed) says so and
counts as FAIL. ``python bench/summary.py ROWS.jsonl``"""

import sys

from rows import load


def ratio_row(name, mine, peer, peer_name, target, higher=True):
    if mine is None or peer is None:
        return name, "not measured", peer_name, "-", f"{'>=' if higher else '<='} {target}x", False
    r = mine / peer
    return name, mine, f"{peer_name} {peer:.1f}", f"{r:.2f}x", f"{'>=' if higher else '<='} {target}x", \
        (r >= target if higher else r <= target)


def get(rows, key, field):
    value = rows.get(key, {}).get(field)
    return value if isinstance(value, (int, float)) else None


def table(rows: dict) -> list[tuple]:
    out = []
    raw_seal, raw_open = get(rows, "browser.webcrypto", "seal_mib_s"), get(rows, "browser.webcrypto", "open_mib_s")
    raw = "raw WebCrypto AES-GCM"
    out.append(ratio_row("browser: meshkit.seal in the page (MiB/s)", get(rows, "browser.meshkit", "seal_mib_s"),
                         raw_seal, raw, 0.8))
    out.append(ratio_row("browser: meshkit.open in the page (MiB/s)", get(rows, "browser.meshkit", "open_mib_s"),
                         raw_open, raw, 0.8))
    out.append(ratio_row("browser: seal through the gateway (MiB/s)", get(rows, "browser.gateway", "seal_mib_s"),
                         raw_seal, raw, 0.5))
    out.append(ratio_row("browser: open through the gateway (MiB/s)", get(rows, "browser.gateway", "open_mib_s"),
                         raw_open, raw, 0.5))
    out.append(ratio_row("worker: streamed download to disk (MiB/s)", get(rows, "worker.download", "mib_s"),
                         raw_open, raw, 0.5))
    for op in ("seal", "open"):
        entry = rows.get("cli", {}).get("summary", {}).get("cli_" + op, {})
        peers = entry.get("peers", {})
        best = max(peers.items(), key=lambda kv: kv[1]) if peers else (None, None)
        row = ratio_row(f"CLI meshkit {op} process, durable (MiB/s)", entry.get("meshkit_mib_s"), best[1],
                        f"{best[0]} (fastest of {', '.join(peers) or 'age CLI, pyrage'})", 1.0)
        out.append(row)
    g = rows.get("gateway.blocks", {})
    for op in ("put", "get"):
        out.append(ratio_row(f"gateway HTTP {op} ({'CAR batches' if op == 'put' else 'one streamed CAR'}) (MiB/s)", g.get(f"batched_{op}_mib_s"),
                             g.get(f"embedded_{op}_mib_s"), "embedded store in-process", 0.5))
    # the cost of durability (issue 27): acknowledged puts are synced (one syncfs a 4 MiB group)
    out.append(ratio_row("gateway HTTP put (CAR batches), durable (MiB/s)", g.get("batched_put_mib_s"),
                         g.get("batched_unsynced_put_mib_s"), "same over the unsynced store (before)", 0.7))
    out.append(ratio_row("embedded store put, durable (MiB/s)", g.get("embedded_put_mib_s"),
                         g.get("unsynced_put_mib_s"), "unsynced store (before)", 0.3))
    cold = rows.get("browser.cold_start", {})
    out.append(ratio_row("cold start to ready (ms)", cold.get("ready_ms"), cold.get("bare_ms"), "bare Pyodide boot",
                         1.15, higher=False))
    # what a first visit transfers (issue 23): both sides served compressed by the same server code
    visit = rows.get("browser.first_visit", {})
    mb = lambda value: value / 1e6 if isinstance(value, (int, float)) else None  # noqa: E731
    out.append(ratio_row("first visit bytes, compressed (MB)", mb(visit.get("bytes")), mb(visit.get("bare_bytes")),
                         "bare Pyodide boot, compressed", 1.1, higher=False))
    # the package (issue 23): Core in its worker against Core on the page's thread, same run
    sdk = rows.get("sdk.responsive", {})
    longest, page_longest = sdk.get("longest_ms"), sdk.get("page_longest_ms")
    out.append(("longest page task during seal+open (ms)", longest if longest is not None else "not measured",
                f"Core on the page {page_longest:.0f}" if page_longest is not None else "Core on the page", "-",
                "<= 50 ms", longest is not None and longest <= 50))
    out.append(ratio_row("seal through the package (MiB/s)", sdk.get("seal_mib_s"), sdk.get("page_seal_mib_s"),
                         "Core on the page", 0.9))
    out.append(ratio_row("open through the package (MiB/s)", sdk.get("open_mib_s"), sdk.get("page_open_mib_s"),
                         "Core on the page", 0.9))
    out.append(ratio_row("warm start to ready (ms)", sdk.get("warm_ms"), sdk.get("bare_warm_ms"), "bare Pyodide boot",
                         1.15, higher=False))
    # the Python API (issue 24): MeshKit.local against the glue a program needed before it
    py = rows.get("python.local", {})
    out.append(ratio_row(f"MeshKit.local seal+open {py.get('mib', 256)} MiB (s)", py.get("kit_s"), py.get("glue_s"),
                         "GatewayClient glue, same gateway in-process", 1.10, higher=False))
    out.append(memory_row(f"MeshKit.local peak RSS at {py.get('mib', 256)} MiB (MiB)", py.get("rss_mib"),
                          py.get("glue_rss_mib"), "the glue's", 4))
    imported = py.get("import_ms")
    out.append(("from meshkit_web import MeshKit (ms)", imported if imported is not None else "not measured",
                f"import pyrage {py['pyrage_import_ms']:.0f}" if py.get("pyrage_import_ms") is not None else "pyrage",
                "-", "<= 150 ms", imported is not None and imported <= 150))
    # memory: flat with size
    small, large = rows.get("cli", {}), rows.get("cli.large", {})
    rss_small = max(filter(None, (small.get("peak_rss_mib") or {}).values()), default=None)
    rss_large = max(filter(None, (large.get("peak_rss_mib") or {}).values()), default=None)
    out.append(memory_row(f"CPython peak RSS at {large.get('mib', '4096'):.0f} MiB (MiB)" if large else
                          "CPython peak RSS at 4096 MiB (MiB)", rss_large, rss_small,
                          f"same at {small.get('mib', 256):.0f} MiB", 4))
    seal_memory = rows.get("browser.seal_memory", {}).get("rise_mib", {})
    sizes = sorted(seal_memory, key=int)
    out.append(memory_row(f"browser seal: renderer peak rise at {sizes[-1] if sizes else '?'} MiB (MiB)",
                          seal_memory[sizes[-1]] if len(sizes) > 1 else None,
                          seal_memory[sizes[0]] if len(sizes) > 1 else None,
                          f"same at {sizes[0] if sizes else '?'} MiB", 4))
    w, wl = rows.get("worker.download", {}), rows.get("worker.large", {})
    out.append(memory_row(f"worker streamed open at {wl.get('mib', '?')} MiB: peak over idle (MiB)",
                          wl.get("over_mib"), w.get("over_mib"), f"same at {w.get('mib', '?')} MiB", 4))
    # post-quantum recipients (issue 26): every recipient X-Wing against every recipient X25519, same run
    pq = rows.get("pq", {})
    for case in ("1MiB-1", "1MiB-20", "256MiB-1", "256MiB-20"):
        size, count = case.split("-")
        cell = pq.get("cases", {}).get(case, {})
        out.append(ratio_row(f"seal+open {size[:-3]} MiB to {count} X-Wing recipient(s) (ms)", cell.get("hybrid_ms"),
                             cell.get("classic_ms"), "same to X25519 recipients", 1.05, higher=False))
    entry, bound = pq.get("entry_bytes"), pq.get("bound")
    out.append((f"header bytes per X-Wing recipient (at most {pq.get('max_hybrid', '?')} per header)",
                f"{entry:.0f}" if entry is not None else "not measured",
                f"X25519 entry {pq['classic_entry_bytes']:.0f}" if entry is not None else "X25519 entry", "-",
                f"<= {bound if bound is not None else '?'} B (FORMAT.md bound)",
                entry is not None and bound is not None and entry <= bound))
    lib = rows.get("library.edit", {})
    out.append(ratio_row(f"CLI seal of 6 bytes, library of {lib.get('entries', 20000)} entries (s)", lib.get("full_s"),
                         lib.get("empty_s"), "same, empty library", 1.25, higher=False))
    return out


def memory_row(name, large, small, peer_name, segments):
    """Memory must not grow with size: the large run's peak within ``segments`` 1 MiB segments of the small run's."""
    if large is None or small is None:
        return name, "not measured", peer_name, "-", f"<= +{segments} segments", False
    return name, large, f"{peer_name} {small:.1f}", f"{large - small:+.1f} MiB", f"<= +{segments} segments", \
        large - small <= segments


def main(path: str) -> int:
    rows = load(path)
    lines = table(rows)
    broken = [key for key, values in rows.items() if values.get("ok") is False]
    widths = [max(len(str(_fmt(line[i]))) for line in lines) for i in range(5)]
    heads = ("row", "meshkit", "peer (same run)", "ratio", "target")
    widths = [max(w, len(h)) for w, h in zip(widths, heads)]
    print("\nmake bench: every target side by side with its peer (one run, this machine)")
    print("  ".join(h.ljust(w) for h, w in zip(heads, widths)) + "  verdict")
    print("-" * (sum(widths) + 2 * len(widths) + 7))
    for line in lines:
        print("  ".join(str(_fmt(v)).ljust(w) for v, w in zip(line[:5], widths)) + "  " + ("PASS" if line[5] else "FAIL"))
    passed = sum(1 for line in lines if line[5])
    print(f"{passed}/{len(lines)} rows PASS" + (f"; OUTPUT CHECK FAILED in: {', '.join(broken)}" if broken else
                                               "; every output was checked against its input"))
    return 2 if broken else 0


def _fmt(value):
    return f"{value:.1f}" if isinstance(value, float) else value


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
