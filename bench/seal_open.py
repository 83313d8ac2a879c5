#!/usr/bin/env python3
"""Seal/open throughput and peak RSS: meshkit's CLI path side by side with its peers.

    python bench/seal_open.py                       # 256 MiB, every peer
    python bench/seal_open.py --size-mib 1024       # the memory target: meshkit < 64 MiB RSS
    python bench/seal_open.py --peers pyrage,cat --repeat 3 --json

Rows (each (tool, operation) runs in its OWN interpreter, so the peak RSS is that
process's own, reported by the child itself at exit: /proc/self/status VmHWM, because on
Linux a child's ru_maxrss includes the high-water mark of the parent it was forked from):

  meshkit  ``meshkit_web.cli.main(["--home", H, "seal", FILE, "--from", "alice", "--to", "bob",
           "--car", OUT])`` and ``... "open", OUT, "--as", "bob", "--out", FILE2``, i.e. exactly
           ``python -m meshkit_web ...`` minus the interpreter start-up;
  pyrage   age, one X25519 recipient, ``pyrage.encrypt_file`` / ``decrypt_file`` (file to file,
           streaming) when present, else ``encrypt_io`` / ``decrypt_io``;
  tink     Tink streaming AEAD, AES256_GCM_HKDF_1MB, ``new_encrypting_stream`` /
           ``new_decrypting_stream`` file to file in 1 MiB writes/reads;
  meshkit-cli  the same commands as a whole process (``meshkit seal ...``: interpreter start-up,
           imports and all), the row to compare with the age CLI;
  age      the age CLI (Go; Debian's package), ``age -r RECIPIENT -o OUT IN`` / ``age -d -i KEY
           -o OUT IN``, a whole process; absent if the binary is not installed;
  cat      the ceiling: a read+write copy in 1 MiB chunks ("seal" copies the input, "open"
           copies the copy).

Timing is wall clock around the operation only (not interpreter start-up or imports; key
loading and argument parsing are inside, as they are part of the work). Every output is then
fsync'ed so no row leaves dirty pages for the next row to pay for. Should a tool fsync by
itself (meshkit's CarWriter.commit has done so), the time it spends in os.fsync is measured
and counted as sync time, not operation time, so

  * ``MiB/s``     = size / (operation time, fsync excluded): the CPU/IO-path throughput;
  * ``+sync``     = size / (operation time + fsync of the output): "durable on disk".

Every opened output is compared (sha256) with the input, and every sealed output is checked
not to contain the plaintext verbatim, so a broken tool cannot look fast: a failed check
marks the row FAIL and the command exits 2.

Only the standard library plus meshkit-web, pyrage and tink (the ``bench`` extra). The input
is os.urandom data in a temporary directory (default under /tmp), removed afterwards.
"""

# Only what a child needs at module level: a child's baseline RSS should be the interpreter's
# plus its tool's. The parent's modules are imported where used.
import json
import os
import resource
import sys
import time

MIB = 1 << 20
CHUNK = 1 << 20
TOOLS = ("meshkit", "meshkit-cli", "age", "pyrage", "tink", "cat")
PEERS = ("meshkit-cli", "age", "pyrage", "tink", "cat")
WHOLE_PROCESS = ("meshkit-cli", "age")  # timed as whole processes, start-up included
_subprocess_hwm_kib: int | None = None  # a whole-process row's own peak RSS (sampled from /proc)
CEILING = "cat"  # a reference, not a peer to beat
RSS_TARGET_MIB = 64
RSS_TARGET_SIZE_MIB = 1024
DISTRIBUTIONS = {"meshkit": "meshkit-web", "pyrage": "pyrage", "tink": "tink", "pynacl": "pynacl"}


# ----------------------------------------------------------------------------------------
# Child side: one (tool, operation) per process. Imports only what that row needs.
# ----------------------------------------------------------------------------------------

class _FsyncMeter:
    """Wraps os.fsync to measure the time a tool spends in it (the call itself is unchanged)."""

    def __init__(self):
        self.seconds = 0.0
        self._real = os.fsync

    def __call__(self, fd):
        start = time.perf_counter()
        try:
            return self._real(fd)
        finally:
            self.seconds += time.perf_counter() - start


def _fsync_path(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy(src, dst) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    while n := src.readinto(buf):
        dst.write(view[:n])


def _write_all(stream, data) -> None:
    view = memoryview(data)
    while view:
        written = stream.write(view)
        if written is None:
            written = 0
        view = view[written:]


def _child_keygen(tool: str, keydir: str) -> dict:
    if tool == "meshkit":
        from meshkit_web.cli import main
        home = os.path.join(keydir, "meshkit-home")
        for name in ("alice", "bob"):
            if main(["--home", home, "identity", "create", name]) != 0:
                raise RuntimeError(f"meshkit identity create {name} failed")
        return {"home": home}
    if tool == "age":
        import subprocess
        secret = os.path.join(keydir, "age.key")
        subprocess.run(["age-keygen", "-o", secret], check=True, capture_output=True)
        recipient = subprocess.run(["age-keygen", "-y", secret], check=True, capture_output=True, text=True)
        return {"identity": secret, "recipient": recipient.stdout.strip()}
    if tool == "pyrage":
        import pyrage
        identity = pyrage.x25519.Identity.generate()
        secret = os.path.join(keydir, "pyrage.key")
        fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(str(identity))
        return {"identity": secret, "recipient": str(identity.to_public()),
                "file_api": hasattr(pyrage, "encrypt_file") and hasattr(pyrage, "decrypt_file")}
    if tool == "tink":
        import tink
        from tink import secret_key_access, streaming_aead
        streaming_aead.register()
        handle = tink.new_keyset_handle(streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB)
        keyset = os.path.join(keydir, "tink.keyset")
        fd = os.open(keyset, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(tink.proto_keyset_format.serialize(handle, secret_key_access.TOKEN))
        return {"keyset": keyset}
    return {}


def _whole_process(argv: list[str]) -> None:
    """Run a command to completion; its own peak RSS (VmHWM, sampled every 10 ms) is kept."""
    import subprocess
    global _subprocess_hwm_kib
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.01)
    _subprocess_hwm_kib = peak
    if proc.returncode != 0:
        raise RuntimeError(f"{os.path.basename(argv[0])} exited {proc.returncode}: "
                           f"{proc.stderr.read().decode(errors='replace').strip()[-200:]}")


def _child_prepare(tool: str, op: str, keys: dict):
    """Imports and key parsing that are not part of the timed operation; returns the operation."""
    if tool == "meshkit-cli":
        home = keys["home"]
        cli = [os.path.join(os.path.dirname(sys.executable), "meshkit"), "--home", home]
        if op == "seal":
            return (lambda src, dst: _whole_process(cli + ["seal", src, "--from", "alice", "--to", "bob",
                                                           "--car", dst])), "meshkit seal --car (process)"
        return (lambda src, dst: _whole_process(cli + ["open", src, "--as", "bob", "--out", dst])), \
            "meshkit open (process)"
    if tool == "age":
        if op == "seal":
            return (lambda src, dst: _whole_process(["age", "-r", keys["recipient"], "-o", dst, src])), \
                "age -r (process)"
        return (lambda src, dst: _whole_process(["age", "-d", "-i", keys["identity"], "-o", dst, src])), \
            "age -d (process)"
    if tool == "meshkit":
        from meshkit_web.cli import main
        home = keys["home"]

        def run(src, dst):
            if op == "seal":
                argv = ["--home", home, "seal", src, "--from", "alice", "--to", "bob", "--car", dst]
            else:
                argv = ["--home", home, "open", src, "--as", "bob", "--out", dst]
            if main(argv) != 0:
                raise RuntimeError(f"meshkit {op} exited non-zero")
        return run, None

    if tool == "pyrage":
        import pyrage
        if op == "seal":
            recipient = pyrage.x25519.Recipient.from_str(keys["recipient"])
            if hasattr(pyrage, "encrypt_file"):
                return (lambda src, dst: pyrage.encrypt_file(src, dst, [recipient])), "encrypt_file"

            def run(src, dst):
                with open(src, "rb") as i, open(dst, "wb") as o:
                    pyrage.encrypt_io(i, o, [recipient])
            return run, "encrypt_io"
        with open(keys["identity"]) as f:
            identity = pyrage.x25519.Identity.from_str(f.read().strip())
        if hasattr(pyrage, "decrypt_file"):
            return (lambda src, dst: pyrage.decrypt_file(src, dst, [identity])), "decrypt_file"

        def run(src, dst):
            with open(src, "rb") as i, open(dst, "wb") as o:
                pyrage.decrypt_io(i, o, [identity])
        return run, "decrypt_io"

    if tool == "tink":
        import tink
        from tink import secret_key_access, streaming_aead
        streaming_aead.register()
        with open(keys["keyset"], "rb") as f:
            handle = tink.proto_keyset_format.parse(f.read(), secret_key_access.TOKEN)
        primitive = handle.primitive(streaming_aead.StreamingAead)
        if op == "seal":
            def run(src, dst):
                with open(src, "rb") as i, open(dst, "wb") as raw:
                    enc = primitive.new_encrypting_stream(raw, b"")
                    buf = bytearray(CHUNK)
                    view = memoryview(buf)
                    while n := i.readinto(buf):
                        _write_all(enc, view[:n])
                    enc.close()  # writes the last segment; closes raw too
            return run, "new_encrypting_stream"

        def run(src, dst):
            with open(src, "rb") as raw, open(dst, "wb") as o:
                dec = primitive.new_decrypting_stream(raw, b"")
                while chunk := dec.read(CHUNK):
                    o.write(chunk)
                dec.close()
        return run, "new_decrypting_stream"

    if tool == "cat":
        def run(src, dst):
            with open(src, "rb", buffering=0) as i, open(dst, "wb", buffering=0) as o:
                _copy(i, o)
        return run, "readinto+write"
    raise ValueError(f"unknown tool {tool!r}")


def _hwm_kib() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _peak_rss_kib() -> int:
    """This process's peak RSS in KiB: VmHWM, else ru_maxrss.

    ru_maxrss alone is NOT this process's own on Linux: exec keeps the larger of the old and
    new address spaces' high-water marks (signal->maxrss), and subprocess forks (or vforks) the
    parent, so a child would report the parent's RSS whenever that was larger. VmHWM belongs
    to the address space the exec created, i.e. to this interpreter only.
    """
    hwm = _hwm_kib()
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_main(argv: list[str]) -> int:
    tool, op, src, dst, keyfile, result = argv
    with open(keyfile) as f:
        keys = json.load(f).get("meshkit" if tool == "meshkit-cli" else tool, {})
    report: dict = {"tool": tool, "op": op}
    try:
        if op == "keygen":
            report["keys"] = _child_keygen(tool, dst)
        else:
            run, api = _child_prepare(tool, op, keys)
            report["api"] = api
            report["rss_before_kib"] = 0 if tool in WHOLE_PROCESS else _peak_rss_kib()
            meter = _FsyncMeter()
            os.fsync = meter
            try:
                start = time.perf_counter()
                run(src, dst)
                elapsed = time.perf_counter() - start
            finally:
                os.fsync = meter._real
            start = time.perf_counter()
            _fsync_path(dst)
            report["op_s"] = elapsed - meter.seconds
            report["tool_fsync_s"] = meter.seconds
            report["sync_s"] = meter.seconds + time.perf_counter() - start
    except BaseException as exc:  # reported to the parent, which marks the row
        report["error"] = f"{type(exc).__name__}: {exc}"
    report["ru_maxrss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    report["vmhwm_kib"] = _hwm_kib()
    report["maxrss_kib"] = _subprocess_hwm_kib if _subprocess_hwm_kib is not None else _peak_rss_kib()
    with open(result, "w") as f:
        json.dump(report, f)
    return 1 if "error" in report else 0


# ----------------------------------------------------------------------------------------
# Parent side.
# ----------------------------------------------------------------------------------------

def _run_child(tool, op, src, dst, keyfile, workdir, timeout) -> dict:
    import subprocess
    result = os.path.join(workdir, f"result-{tool}-{op}.json")
    if os.path.exists(result):
        os.unlink(result)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", tool, op, src, dst, keyfile, result]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"tool": tool, "op": op, "error": f"timed out after {timeout} s"}
    try:
        with open(result) as f:
            report = json.load(f)
    except (OSError, ValueError):
        tail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return {"tool": tool, "op": op, "error": f"child died: {tail}"}
    if "error" in report and proc.stderr.strip():
        report["stderr"] = proc.stderr.strip().splitlines()[-1]
    return report


def _sha256(path: str) -> str:
    import hashlib
    h = hashlib.sha256()
    buf = bytearray(4 * MIB)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def _make_input(path: str, size: int) -> tuple[str, bytes]:
    import hashlib
    h = hashlib.sha256()
    probe = b""
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(CHUNK, left))
            if not probe:
                probe = chunk[:64]
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
        f.flush()
        os.fsync(f.fileno())
    return h.hexdigest(), probe


def _contains(path: str, needle: bytes, limit: int) -> bool:
    """Whether the first ``limit`` bytes of the file contain ``needle`` (the plaintext leaked)."""
    if not needle:
        return False
    tail = b""
    with open(path, "rb") as f:
        while limit > 0 and (chunk := f.read(min(4 * MIB, limit))):
            if needle in tail + chunk:
                return True
            tail = chunk[-(len(needle) - 1):]
            limit -= len(chunk)
    return False


def _versions() -> dict:
    from importlib import metadata
    found = {}
    for label, dist in DISTRIBUTIONS.items():
        try:
            found[label] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[label] = None
    return found


def _best(runs: list[dict]) -> dict:
    """Fastest run's timings; the highest peak RSS over all runs (the memory bound that held)."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    best = dict(min(ok, key=lambda r: r["op_s"]))
    best["maxrss_kib"] = max(r["maxrss_kib"] for r in ok)
    best["runs"] = len(ok)
    return best


def run_bench(args) -> dict:
    import platform
    import shutil
    import tempfile
    size = int(args.size_mib * MIB)
    tools = ["meshkit"] + [p for p in args.peers if p != "meshkit"]
    base = tempfile.mkdtemp(prefix="meshkit-bench-", dir=args.tmpdir)
    results: dict = {
        "size_bytes": size, "size_mib": size / MIB, "repeat": args.repeat, "tools": tools,
        "python": sys.version.split()[0], "machine": platform.machine(), "cpus": os.cpu_count(),
        "versions": _versions(), "tmpdir": base, "rows": {}, "failures": [],
    }
    try:
        keydir = os.path.join(base, "keys")
        os.mkdir(keydir, 0o700)
        keyfile = os.path.join(base, "keys.json")
        keys: dict = {}
        if "age" in tools and not shutil.which("age"):
            results["rows"]["age"] = {"error": "the age CLI is not installed (apt install age)"}
            tools.remove("age")
        for tool in tools:  # key material, made by the tool itself, untimed
            if tool == "meshkit-cli":
                continue  # meshkit's own keys
            with open(keyfile, "w") as f:
                json.dump(keys, f)
            report = _run_child(tool, "keygen", "-", keydir, keyfile, base, args.timeout)
            if "error" in report:
                results["rows"][tool] = {"error": f"keygen: {report['error']}"}
                results["failures"].append(f"{tool}: keygen: {report['error']}")
            else:
                keys[tool] = report["keys"]
        with open(keyfile, "w") as f:
            json.dump(keys, f)
        tools = [t for t in tools if t in keys or t == "cat" or (t == "meshkit-cli" and "meshkit" in keys)]

        plain = os.path.join(base, "input.bin")
        if not args.quiet:
            print(f"creating {size / MIB:g} MiB of os.urandom input in {base} ...", file=sys.stderr, flush=True)
        digest, probe = _make_input(plain, size)

        runs: dict = {(t, op): [] for t in tools for op in ("seal", "open")}
        extra: dict = {}
        for rep in range(args.repeat):
            order = tools[rep % len(tools):] + tools[:rep % len(tools)]  # rotate who goes first
            for tool in order:
                sealed = os.path.join(base, f"sealed.{tool}")
                opened = os.path.join(base, f"opened.{tool}")
                if not args.quiet:
                    print(f"  [{rep + 1}/{args.repeat}] {tool} seal ...", file=sys.stderr, flush=True)
                r = _run_child(tool, "seal", plain, sealed, keyfile, base, args.timeout)
                if "error" not in r:
                    r["out_bytes"] = os.path.getsize(sealed)
                    if tool != CEILING and _contains(sealed, probe, size + 4 * MIB):
                        r["error"] = "sealed output contains the plaintext verbatim"
                runs[(tool, "seal")].append(r)
                if "error" in r:
                    runs[(tool, "open")].append({"tool": tool, "op": "open", "error": "no sealed input"})
                    results["failures"].append(f"{tool} seal: {r['error']}")
                    for p in (sealed, opened):
                        if os.path.exists(p):
                            os.unlink(p)
                    continue
                if not args.quiet:
                    print(f"  [{rep + 1}/{args.repeat}] {tool} open ...", file=sys.stderr, flush=True)
                r = _run_child(tool, "open", sealed, opened, keyfile, base, args.timeout)
                if "error" not in r:
                    got = _sha256(opened)
                    r["sha256_ok"] = got == digest
                    if got != digest:
                        r["error"] = f"output sha256 {got[:16]}... != input {digest[:16]}..."
                runs[(tool, "open")].append(r)
                if "error" in r:
                    results["failures"].append(f"{tool} open: {r['error']}")
                extra[tool] = runs[(tool, "seal")][-1].get("out_bytes")
                for p in (sealed, opened):
                    if os.path.exists(p):
                        os.unlink(p)

        for tool in tools:
            row: dict = {}
            for op in ("seal", "open"):
                b = _best(runs[(tool, op)])
                cell: dict = {"api": b.get("api")}
                if "error" in b:
                    cell["error"] = b["error"]
                else:
                    cell.update({
                        "seconds": b["op_s"], "sync_seconds": b["sync_s"],
                        "tool_fsync_seconds": b["tool_fsync_s"],
                        "mib_s": size / MIB / b["op_s"] if b["op_s"] > 0 else None,
                        "mib_s_durable": size / MIB / (b["op_s"] + b["sync_s"]),
                        "peak_rss_mib": b["maxrss_kib"] / 1024,
                        "rss_before_op_mib": b["rss_before_kib"] / 1024,
                        "runs": b["runs"],
                    })
                row[op] = cell
            if extra.get(tool) is not None:
                row["sealed_bytes"] = extra[tool]
                row["overhead_bytes"] = extra[tool] - size
            results["rows"][tool] = row
        results["input_sha256"] = digest
    finally:
        if args.keep:
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    _summarize(results)
    return results


def _speed(cell: dict, key: str) -> float | None:
    return None if "error" in cell else cell.get(key)


def _summarize(results: dict) -> None:
    rows = results["rows"]
    mk = rows.get("meshkit", {})
    summary: dict = {}
    # in-process meshkit vs in-process peers; the CLI process vs the age CLI and pyrage
    # A whole process cannot have its fsync metered, and `meshkit seal --car` syncs its CAR
    # before renaming it into place (the age CLI does not): the process rows are compared
    # durable, each process's time plus an fsync of its output (a no-op for a synced file).
    for key, mine_tool, peer_tools, metric in (("", "meshkit", ("pyrage", "tink"), "mib_s"),
                                               ("cli_", "meshkit-cli", ("age", "pyrage"), "mib_s_durable")):
        for op in ("seal", "open"):
            peers = [(t, rows[t][op][metric]) for t in peer_tools
                     if op in rows.get(t, {}) and _speed(rows[t][op], metric)]
            mine = _speed(rows.get(mine_tool, {}).get(op, {"error": "-"}), metric)
            entry: dict = {"meshkit_mib_s": mine, "tool": mine_tool, "metric": metric}
            if peers and mine:
                name, best = max(peers, key=lambda p: p[1])
                entry.update({"fastest_peer": name, "fastest_peer_mib_s": best, "ratio": mine / best,
                              "peers": dict(peers)})
                durable = _speed(rows[name][op], "mib_s_durable")
                mine_d = _speed(rows[mine_tool][op], "mib_s_durable")
                if durable and mine_d:
                    entry["ratio_durable"] = mine_d / durable
            ceiling = rows.get(CEILING, {}).get(op, {})
            if mine and _speed(ceiling, "mib_s"):
                entry["vs_ceiling"] = mine / ceiling["mib_s"]
            if "peak_rss_mib" in rows.get(mine_tool, {}).get(op, {}):
                entry["meshkit_peak_rss_mib"] = rows[mine_tool][op]["peak_rss_mib"]
            summary[key + op] = entry
    rss = [mk[op]["peak_rss_mib"] for op in ("seal", "open") if "peak_rss_mib" in mk.get(op, {})]
    summary["rss_target"] = {"limit_mib": RSS_TARGET_MIB, "meshkit_peak_rss_mib": max(rss) if rss else None,
                             "ok": bool(rss) and max(rss) < RSS_TARGET_MIB and len(rss) == 2,
                             "applies": results["size_mib"] >= RSS_TARGET_SIZE_MIB}
    results["summary"] = summary


def _fmt(cell: dict, key: str, width: int, digits: int = 1) -> str:
    if "error" in cell:
        return "FAIL".rjust(width)
    value = cell.get(key)
    return ("-" if value is None else f"{value:.{digits}f}").rjust(width)


def print_table(results: dict) -> None:
    size_mib = results["size_mib"]
    v = results["versions"]
    print(f"seal/open of {size_mib:g} MiB ({results['size_bytes']} bytes) os.urandom input; "
          f"best of {results['repeat']}; python {results['python']}, {results['cpus']} CPUs")
    print("versions: " + ", ".join(f"{k} {v[k]}" for k in v if v[k]))
    header = (f"{'tool':<11} {'seal MiB/s':>10} {'+sync':>7} {'RSS MiB':>8}   "
              f"{'open MiB/s':>10} {'+sync':>7} {'RSS MiB':>8}   {'overhead':>10}  api")
    print(header)
    print("-" * len(header))
    for tool, row in results["rows"].items():
        if "error" in row:
            print(f"{tool:<11} FAIL: {row['error']}")
            continue
        s, o = row["seal"], row["open"]
        over = row.get("overhead_bytes")
        api = f"{s.get('api') or '-'} / {o.get('api') or '-'}" if tool != "meshkit" else "cli.main seal / open"
        if tool in WHOLE_PROCESS:
            api = "whole process: " + api.replace(" (process)", "")
        label = tool + (" *" if tool == CEILING else "")
        print(f"{label:<11} {_fmt(s, 'mib_s', 10)} {_fmt(s, 'mib_s_durable', 7)} {_fmt(s, 'peak_rss_mib', 8)}   "
              f"{_fmt(o, 'mib_s', 10)} {_fmt(o, 'mib_s_durable', 7)} {_fmt(o, 'peak_rss_mib', 8)}   "
              f"{'-' if over is None else str(over) + ' B':>10}  {api}")
    mk = results["rows"].get("meshkit", {})
    if "error" not in mk and "seal" in mk and "error" not in mk["seal"]:
        s, o = mk["seal"], mk.get("open", {})
        own = s["tool_fsync_seconds"] + o.get("tool_fsync_seconds", 0.0)
        print("(MiB/s excludes fsync of the output, +sync includes it; "
              + (f"meshkit's own fsync calls took {own:.2f} s. " if own else "meshkit itself called no fsync. ")
              + f"RSS = VmHWM of the child; before the operation (interpreter + imports) meshkit seal "
              f"{s['rss_before_op_mib']:.1f} / open {o.get('rss_before_op_mib', float('nan')):.1f} MiB. "
              "* = ceiling reference, not a peer)")
    for failure in results["failures"]:
        print(f"FAILED: {failure}")
    summary = results["summary"]
    for key, label in (("", "meshkit (in-process) vs fastest peer"),
                       ("cli_", "meshkit CLI process vs age CLI / pyrage (durable: output fsync'ed)")):
        parts = []
        for op in ("seal", "open"):
            e = summary[key + op]
            if "ratio" in e:
                text = (f"{op} {e['meshkit_mib_s']:.0f} MiB/s = {e['ratio']:.2f}x {e['fastest_peer']} "
                        f"({e['fastest_peer_mib_s']:.0f} MiB/s)")
                if "ratio_durable" in e:
                    text += f", {e['ratio_durable']:.2f}x with sync"
                if "vs_ceiling" in e:
                    text += f", {e['vs_ceiling']:.2f}x of cat"
                parts.append(text)
            elif e.get("meshkit_mib_s"):
                parts.append(f"{op} {e['meshkit_mib_s']:.0f} MiB/s (no peer to compare)")
            else:
                parts.append(f"{op} FAILED")
        print(f"{label}: " + "; ".join(parts))
    t = summary["rss_target"]
    if t["meshkit_peak_rss_mib"] is not None:
        verdict = "PASS" if t["ok"] else "FAIL"
        scope = "" if t["applies"] else f" (target is for a {RSS_TARGET_SIZE_MIB} MiB input; this run is {size_mib:g} MiB)"
        print(f"meshkit peak RSS {t['meshkit_peak_rss_mib']:.1f} MiB vs target < {RSS_TARGET_MIB} MiB: {verdict}{scope}")


def _peers(text: str) -> list[str]:
    import argparse
    if text.strip().lower() in ("", "none"):
        return []
    names = [p.strip().lower() for p in text.split(",") if p.strip()]
    if "all" in names:
        return list(PEERS)
    bad = [n for n in names if n not in PEERS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown peer(s) {', '.join(bad)}; choose from {', '.join(PEERS)}")
    return list(dict.fromkeys(names))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=float, default=256, help="input size in MiB (default 256)")
    parser.add_argument("--peers", type=_peers, default=list(PEERS),
                        help=f"comma-separated peers to run besides meshkit: {','.join(PEERS)}, all or none "
                             "(default all)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell; the fastest is reported (default 1)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    parser.add_argument("--tmpdir", default="/tmp", help="where the temporary files go (default /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (debugging)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per child (default 1800)")
    parser.add_argument("--strict-rss", action="store_true",
                        help=f"exit 3 if meshkit's peak RSS reaches {RSS_TARGET_MIB} MiB")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--record-as", default="cli", help="key of this run's row for bench/summary.py (default cli)")
    args = parser.parse_args(argv)
    if args.size_mib <= 0 or args.repeat < 1:
        parser.error("--size-mib and --repeat must be positive")
    results = run_bench(args)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from rows import record
    record(args.record_as, mib=results["size_mib"], summary=results["summary"],
           ok=not results["failures"],
           peak_rss_mib={op: results["rows"].get("meshkit", {}).get(op, {}).get("peak_rss_mib") for op in ("seal", "open")})
    if args.json:
        print(json.dumps(results, indent=2, sort_keys=True))
    else:
        print_table(results)
    if results["failures"]:
        return 2
    if args.strict_rss and not results["summary"]["rss_target"]["ok"]:
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
