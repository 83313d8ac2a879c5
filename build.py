#!/usr/bin/env python3
"""Build the deployable site: ``python build.py [--out site]``.

Everything the browser loads comes from our own origin, so the site works with no network
at run time:

  site/index.html, manifest.webmanifest, sw.js   entry points: always revalidated (sw.js, the
                                                  service worker, lists the release to precache;
                                                  it is one bundle: it imports nothing)
  site/b/<BUILD>/                                 immutable, content-addressed release:
      app/        static/ (the PWA and the globalThis.meshkit API); app/integrity.js: the
                  SHA-384 of every other release file, checked before anything runs;
                  app/pdfjs/: pdf.js (npm, integrity-checked), run only by app/pdf-view.html,
                  a sandboxed viewer with its own import map and CSP (gateway/headers.py)
      pyodide/    the Pyodide 314 runtime, from the npm package (integrity-checked)
      wheels/     our browser wheel (core, clients, browser: BROWSER_PARTS) + its pure-Python deps (hash-pinned)
      pyodide-lock.json   generated: only our wheels, with their real sha256
  site/build.json                                 {"build": BUILD, "gateway": URL, "csp_script_hashes": [...], ...}

index.html is the root of trust: its import map pins every module by hash (SRI) and
app/integrity.js (itself pinned there) pins what Pyodide fetches (wasm, stdlib, lock file,
wheels). The service worker has no import map, so it imports nothing: sw.js is bundled with
the modules it uses (esbuild), carries the hashes of every release file it fetches, and is
itself pinned by index.html (the page checks its bytes before registering it). ``--gateway URL`` builds a site that talks to a gateway on another origin (the
site can then be served by any static host; see docs/deploy-separate-origin.md).

BUILD is a hash of the release's content: a new release gets new URLs, so a browser never
mixes files from two releases, and an unchanged one is never downloaded twice.
"""

import argparse
import urllib.parse
import base64
import csv
import hashlib
import io
import json
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent
CACHE = ROOT / ".cache" / "build"

PYODIDE_VERSION = "314.0.7"
PYODIDE_INTEGRITY = "sha512-0YvXxEhfEdpLfb/XkM2BFAeMROq0iMUX2bzzH9pOttyMcWkwq+HbE5uyuGD82LN7y2q+SNvi/6V5JEsOlD2R1A=="
PYODIDE_FILES = ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json")
# what Core fetches at run time (the two modules are bundled into meshkit.js / meshkit-sw.js)
PYODIDE_RUNTIME = ("pyodide.asm.wasm", "python_stdlib.zip")
# The bundler for sw.js: esbuild's WebAssembly build (no platform binary), run by Node
ESBUILD_VERSION = "0.28.2"
ESBUILD_INTEGRITY = "sha512-GccVwhv3mmOUVQHCQm2Ox/rby8n/EqUwvZxE6Pjfikrq/lWw9g9WX/u9EykWnpot3Ko6j426DgQdea2xWKIAQA=="

# The PDF previewer: Mozilla's pdf.js (its two modules, in app/pdfjs/), run only inside the
# sandboxed viewer app/pdf-view.html (gateway/headers.py: PDF_VIEW)
PDFJS_VERSION = "6.5.438"
PDFJS_INTEGRITY = "sha512-vg8Pw1x+AFKy4AMDvhuWl5cOYV8d698UoEANoFFhc79hqXDnZQqnOXoxw3HG907WHOg1JYOvLhP756boddFxpA=="
PDFJS_FILES = {"build/pdf.min.mjs": "pdf.min.mjs", "build/pdf.worker.min.mjs": "pdf.worker.min.mjs", "LICENSE": "LICENSE"}

# What the browser runs, by package: Core, the protocol clients and the browser runtime.
# The rest (the server, providers, the CLI, file stores, the PyNaCl backend) never ships
# to the browser.
BROWSER_PARTS = ("meshkit_web/__init__.py", "meshkit_web/core/", "meshkit_web/clients/", "meshkit_web/browser/")


def for_the_browser(name: str) -> bool:
    """A wheel entry the browser wheel keeps: one of BROWSER_PARTS or the wheel's metadata."""
    return name.startswith(BROWSER_PARTS) or (".dist-info/" in name and not name.endswith("entry_points.txt"))


def sha256_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# The types worth a compressed copy, measured on a release (brotli 11 / gzip 9, of the
# original): JS and JSON 15-25%, the wasm 29% / 37%, HTML, CSS, SVG, the manifest 25-60%. Left
# out: Pyodide's python_stdlib.zip (98%) and the wheels (96%), zip archives of members deflated
# one by one, saving under 5%; PNG, compressed already (the icons: 7 kB, 0.7 kB to save).
COMPRESSIBLE = (".js", ".mjs", ".wasm", ".json", ".html", ".css", ".svg", ".webmanifest", ".txt", ".map")


def precompress(folder: pathlib.Path) -> None:
    """Beside every file of ``folder`` (any output: the site, a package) whose type is in
    COMPRESSIBLE, NAME.br (brotli, quality 11) and NAME.gz (gzip -9, no name, mtime 0: the
    same bytes every build), each only when smaller than NAME. The gateway serves them by
    Accept-Encoding (gateway/site.py). Run LAST, once every file is written: integrity hashes,
    the import map and the precache list are of the decoded files and never name these.
    Large files' compressed copies are kept in the build cache by content hash (brotli 11 of
    Pyodide's wasm takes ~25 s); every copy is decoded and compared before it is written."""
    import concurrent.futures
    import gzip
    import os
    import threading
    import brotli  # pyproject.toml's [build] extra (in [test], so setup.sh installs it)

    store = CACHE / "compressed"
    encoders = {".br": (f"brotli{brotli.__version__}-q11", lambda data: brotli.compress(data, quality=11),
                        brotli.decompress),
                ".gz": ("gzip-9-mtime0", lambda data: gzip.compress(data, compresslevel=9, mtime=0),
                        gzip.decompress)}

    def decodes(packed: bytes, decode, data: bytes) -> bool:
        try:
            return decode(packed) == data
        except Exception:  # noqa: BLE001 - brotli.error, gzip's OSError/EOFError: not this file
            return False

    def one(path: pathlib.Path) -> tuple[int, int]:
        data = path.read_bytes()
        digest, smallest = hashlib.sha256(data).hexdigest(), len(data)
        for suffix, (label, encode, decode) in encoders.items():
            cached = store / f"{digest}.{label}{suffix}" if len(data) >= 1 << 22 else None
            packed = cached.read_bytes() if cached and cached.is_file() else None
            if packed is None or not decodes(packed, decode, data):  # not cached, or a damaged entry
                packed = encode(data)
                if not decodes(packed, decode, data):
                    sys.exit(f"build.py: {suffix} of {path} does not decode to it")
                if cached:
                    store.mkdir(parents=True, exist_ok=True)
                    partial = cached.with_name(f"{cached.name}.{os.getpid()}.{threading.get_ident()}")
                    partial.write_bytes(packed)
                    partial.replace(cached)  # whole or absent, whoever else builds at once
            target = path.with_name(path.name + suffix)
            if len(packed) < len(data):
                target.write_bytes(packed)
                smallest = min(smallest, len(packed))
            else:
                target.unlink(missing_ok=True)  # never a stale copy of an earlier run
        return len(data), smallest

    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink() and p.suffix in COMPRESSIBLE)
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 1) as pool:  # brotli and zlib release the GIL
        sizes = list(pool.map(one, files))
    before, after = sum(s[0] for s in sizes), sum(s[1] for s in sizes)
    print(f"precompressed {len(files)} files of {folder}: {before:,} bytes, {after:,} as served compressed")


def npm_pack(name: str, version: str, integrity: str) -> pathlib.Path:
    """An npm package's tarball (cached), checked against its pinned integrity."""
    CACHE.mkdir(parents=True, exist_ok=True)
    tarball = CACHE / f"{name}-{version}.tgz"
    if not tarball.exists():
        subprocess.run(["npm", "pack", f"{name}@{version}", "--pack-destination", str(CACHE),
                        "--silent"], check=True, stdout=subprocess.DEVNULL)
    algorithm, expected = integrity.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if actual != expected:
        tarball.unlink()
        sys.exit(f"build.py: {tarball.name} does not match its pinned integrity; deleted, run again")
    return tarball


def fetch_esbuild() -> pathlib.Path:
    """esbuild-wasm's command (a Node script), from its pinned npm package."""
    tarball = npm_pack("esbuild-wasm", ESBUILD_VERSION, ESBUILD_INTEGRITY)
    unpacked = CACHE / f"esbuild-wasm-{ESBUILD_VERSION}"
    if not (unpacked / "package" / "bin" / "esbuild").exists():
        with tarfile.open(tarball) as archive:
            archive.extractall(unpacked, filter="data")
    return unpacked / "package" / "bin" / "esbuild"


def fetch_pyodide() -> pathlib.Path:
    """The runtime files of the pyodide npm package, checked against the pinned integrity."""
    tarball = npm_pack("pyodide", PYODIDE_VERSION, PYODIDE_INTEGRITY)
    unpacked = CACHE / f"pyodide-{PYODIDE_VERSION}"
    if not all((unpacked / name).exists() for name in PYODIDE_FILES):
        with tarfile.open(tarball) as archive:
            for name in PYODIDE_FILES:
                member = archive.getmember("package/" + name)
                (unpacked / name).parent.mkdir(parents=True, exist_ok=True)
                (unpacked / name).write_bytes(archive.extractfile(member).read())
    return unpacked


def fetch_pdfjs() -> pathlib.Path:
    """pdf.js's two modules and licence, from its pinned npm package."""
    tarball = npm_pack("pdfjs-dist", PDFJS_VERSION, PDFJS_INTEGRITY)
    unpacked = CACHE / f"pdfjs-dist-{PDFJS_VERSION}"
    if not all((unpacked / name).exists() for name in PDFJS_FILES.values()):
        with tarfile.open(tarball) as archive:
            unpacked.mkdir(parents=True, exist_ok=True)
            for member, name in PDFJS_FILES.items():
                (unpacked / name).write_bytes(archive.extractfile(archive.getmember("package/" + member)).read())
    return unpacked


def add_pdf_view(app: pathlib.Path) -> list[str]:
    """pdf.js into ``app``/pdfjs/ and the viewer's import map (every module it runs, pinned
    by hash, keyed relative to the viewer: written before the release has its name) into
    pdf-view.html. Returns the viewer's CSP script hashes (its import map's)."""
    from meshkit_web.gateway import headers
    (app / "pdfjs").mkdir()
    for name in PDFJS_FILES.values():
        shutil.copy2(fetch_pdfjs() / name, app / "pdfjs" / name)
    scripts = [pathlib.Path(p).relative_to("app") for p in headers.PDF_VIEW_SCRIPTS]
    importmap = json.dumps({"integrity": {f"./{p}": sri(app / p) for p in scripts}}, indent=1, sort_keys=True)
    viewer = app / pathlib.Path(headers.PDF_VIEW).name
    viewer.write_text(viewer.read_text().replace("{{PDF_VIEW_IMPORTMAP}}", importmap))
    return ["'sha256-" + base64.b64encode(hashlib.sha256(importmap.encode()).digest()).decode() + "'"]


def fetch_dependency_wheels() -> list[pathlib.Path]:
    """The pinned, hash-checked pure-Python wheels for Python 3.14 (Pyodide)."""
    target = CACHE / "wheels"
    target.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
                    "--no-deps", "--require-hashes", "--only-binary=:all:", "--python-version", "3.14",
                    "--platform", "any", "--implementation", "py", "--abi", "none",
                    "-r", str(ROOT / "browser-requirements.txt"), "-d", str(target)], check=True)
    wanted = [re.split(r"[=\s]", line, 1)[0] for line in (ROOT / "browser-requirements.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    wheels = []
    for name in wanted:
        pattern = re.sub(r"[-_.]+", "_", name) + "-*.whl"
        found = sorted(target.glob(pattern))
        if not found:
            sys.exit(f"build.py: no wheel for {name}")
        wheels.append(found[-1])
    return wheels


def write_wheel(target: pathlib.Path, record_name: str, files: dict[str, bytes]) -> None:
    """A wheel of ``files`` (name -> bytes, in that order) with a RECORD that matches them;
    fixed dates, so the same files make the same bytes (a reproducible release)."""
    rows = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append((name, f"sha256={digest}", str(len(data))))
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows(rows + [(record_name, "", "")])
        wheel.writestr(zipfile.ZipInfo(record_name, date_time=(2020, 1, 1, 0, 0, 0)), record.getvalue())


def build_browser_wheel(out_dir: pathlib.Path) -> pathlib.Path:
    """Our wheel minus server-only modules, with a RECORD that matches what is left."""
    # setuptools reuses ./build/lib: a module moved or deleted since would come back from there
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
                        "--no-deps", "-w", tmp, str(ROOT)], check=True)
        (full,) = pathlib.Path(tmp).glob("meshkit_web-*.whl")
        if not full.name.endswith("-py3-none-any.whl"):
            sys.exit(f"build.py: {full.name} is not a pure-Python wheel; Pyodide cannot load it")
        target = out_dir / full.name
        with zipfile.ZipFile(full) as source:
            record_name = next(n for n in source.namelist() if n.endswith(".dist-info/RECORD"))
            # the console script (entry_points.txt) is the CLI, which the browser wheel lacks
            write_wheel(target, record_name, {name: source.read(name) for name in sorted(source.namelist())
                                              if for_the_browser(name) and name != record_name
                                              and "__pycache__" not in name})
        names = zipfile.ZipFile(target).namelist()
        if not any(n.startswith("meshkit_web/core/") for n in names) or not all(for_the_browser(n) for n in names):
            sys.exit("build.py: the browser wheel must carry core and only BROWSER_PARTS")
        return target


# Run by Node with the Pyodide runtime the site serves: Python 3.14's own bytecode for every
# module of the served wheels. Pyodide otherwise compiles each module from source at every
# start (measured: importing Core took ~450 ms of the page's cold start, ~230 ms with these).
COMPILE_MJS = """
import { loadPyodide } from "%(pyodide)s";
const [root] = process.argv.slice(2);
const py = await loadPyodide({ indexURL: "%(index)s", stdout: (s) => console.log(s), stderr: (s) => console.error(s) });
py.FS.mkdir("/wheels");
py.FS.mount(py.FS.filesystems.NODEFS, { root }, "/wheels");
py.runPython(`
import compileall, os, py_compile, sys
for name in sorted(os.listdir("/wheels")):
    # the paths tracebacks show: inside the archive, as the page puts it on sys.path
    if not compileall.compile_dir("/wheels/" + name, ddir="%(mount)s/" + name, quiet=1, workers=1,
                                  invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH):
        sys.exit("compileall failed in " + name)
print(sys.implementation.cache_tag)
`);
"""
WHEEL_MOUNT = "/meshkit/wheels"  # where meshkit.js writes the wheels, each then on sys.path


def compile_for_pyodide(wheels: list[pathlib.Path], pyodide: pathlib.Path) -> None:
    """Each wheel, in place, gains its modules' bytecode for Pyodide's Python, as
    ``module.pyc`` beside ``module.py``: where zipimport looks, because the page imports
    straight from the wheels (meshkit.js: no unpacking, no package loader). Unchecked-hash
    pycs carry no timestamps: the release stays reproducible and nothing is recompiled.
    Sources are kept (tracebacks keep their lines); RECORD is rewritten to match."""
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                archive.extractall(work / "trees" / wheel.name)
        script = work / "compile.mjs"
        script.write_text(COMPILE_MJS % {"pyodide": (pyodide / "pyodide.mjs").as_uri(),
                                         "index": str(pyodide) + "/", "mount": WHEEL_MOUNT})
        done = subprocess.run(["node", str(script), str(work / "trees")], capture_output=True, text=True)
        tag = done.stdout.strip()
        if done.returncode != 0 or not tag.startswith("cpython-"):
            sys.exit(f"build.py: compiling the wheels with Pyodide failed: {(done.stderr or done.stdout)[-500:]}")
        for wheel in wheels:
            tree = work / "trees" / wheel.name
            with zipfile.ZipFile(wheel) as archive:
                names = [n for n in archive.namelist() if not n.endswith(".dist-info/RECORD")]
                record_name = next(n for n in archive.namelist() if n.endswith(".dist-info/RECORD"))
            files = {name: (tree / name).read_bytes() for name in names}
            for pyc in sorted(tree.rglob(f"*.{tag}.pyc")):  # a/__pycache__/b.TAG.pyc -> a/b.pyc
                source = pyc.parent.parent / (pyc.name.removesuffix(f".{tag}.pyc") + ".py")
                files[str(source.relative_to(tree)) + "c"] = pyc.read_bytes()
            write_wheel(wheel, record_name, files)


def wheel_metadata(wheel: pathlib.Path) -> tuple[str, str, list[str], list[str]]:
    """(name, version, top-level imports, dependencies on emscripten) of a wheel."""
    with zipfile.ZipFile(wheel) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        meta = archive.read(meta_name).decode()
        tops = {n.split("/")[0] for n in archive.namelist() if not n.split("/")[0].endswith(".dist-info")}
    field = lambda key: [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith(key + ":")]
    depends = []
    for requirement in field("Requires-Dist"):
        spec, _, marker = requirement.partition(";")
        if marker and ("extra" in marker or "emscripten" in marker and "!=" in marker):
            continue  # extras are never installed; "!= emscripten" means not in the browser
        depends.append(re.split(r"[\s<>=!~\[(]", spec.strip(), 1)[0].lower().replace("_", "-"))
    imports = sorted(t.removesuffix(".py") for t in tops)
    return field("Name")[0].lower().replace("_", "-"), field("Version")[0], imports, depends


def write_lock(pyodide_lock: pathlib.Path, wheels: list[pathlib.Path], target: pathlib.Path) -> list[str]:
    """A pyodide-lock.json listing only our served wheels (Pyodide's own packages are not
    served here). Cycles are cut: Pyodide's loader hangs on one (multiformats <->
    multiformats-config)."""
    info = json.loads(pyodide_lock.read_text())["info"]
    packages = {}
    for wheel in wheels:
        name, version, imports, depends = wheel_metadata(wheel)
        packages[name] = {"name": name, "version": version, "file_name": "../wheels/" + wheel.name,
                          "install_dir": "site", "sha256": sha256_file(wheel), "package_type": "package",
                          "imports": imports, "depends": depends, "unvendored_tests": False}
    served = {name: [d for d in package["depends"] if d in packages] for name, package in packages.items()}
    for name, package in packages.items():  # of a mutual pair a <-> b, keep only the edge from a < b
        package["depends"] = [d for d in served[name] if not (name in served[d] and name > d)]
    target.write_text(json.dumps({"info": info, "packages": packages}, indent=1, sort_keys=True))
    return sorted(packages)


# What a cold start needs first, asked for by index.html's <head> rather than discovered one
# module at a time (app.js -> meshkit.js -> meshkit-core.js: a waterfall of round trips)
BOOT_MODULES = ("meshkit.js",)
# Core boots in its own worker, which cannot use the page's preloads: the page asks only for
# what it fetches itself (the worker's script); the worker fetches Pyodide's files
BOOT_FETCHES = ("meshkit-core.js",)


def preloads(base: str, integrity: dict[str, str]) -> str:
    """<link>s for BOOT_MODULES (with the hashes the import map pins) and BOOT_FETCHES (the
    request createMeshKit's own fetch() then makes: same URL, CORS mode, same-origin credentials)."""
    links = [f'<link rel="modulepreload" href="{base}/{m}" integrity="{integrity[f"{base}/{m}"]}">' for m in BOOT_MODULES]
    links += [f'<link rel="preload" href="{base}/{f}" as="fetch" crossorigin="anonymous">' for f in BOOT_FETCHES]
    return "\n".join(links)


def sri(path: pathlib.Path) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(path.read_bytes()).digest()).decode()


def gateway_origin(value: str) -> str:
    """An origin only (scheme://host[:port]): it goes into the CSP's connect-src."""
    if not value:
        return ""
    parsed = urllib.parse.urlsplit(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path.strip("/") or parsed.query:
        sys.exit(f"build.py: --gateway must be an origin such as https://gateway.example:8765, not {value!r}")
    return f"{parsed.scheme}://{parsed.netloc}"


def write_generated(src: pathlib.Path, files: dict[str, str], build: str, boot_bytes: int, wheels: list[str]) -> None:
    """The package's generated modules, each from its one Python source: integrity.js (the
    SHA-384 of every file Core loads), errors.js (core/errors.py), namespace.js
    (browser/namespace.py), unsafe.js (core/text.py) and headers.js (gateway/headers.py)."""
    from meshkit_web import __version__
    from meshkit_web.browser.namespace import rule_json
    from meshkit_web.core.errors import registry
    from meshkit_web.core.text import unsafe_ranges_json
    from meshkit_web.gateway import headers
    made = "// Generated by build.py from %s: do not edit.\n"
    modules = {
        "integrity.js": (made % "the package's files") +
        "export const FILES = " + json.dumps(files, indent=1, sort_keys=True) + ";\n"
        f"export const BUILD = {json.dumps(build)};\nexport const VERSION = {json.dumps(__version__)};\n"
        f"export const BOOT_BYTES = {boot_bytes};\n"
        "// the wheels Core imports from, each put on sys.path under WHEEL_MOUNT\n"
        f"export const WHEELS = {json.dumps(wheels)};\nexport const WHEEL_MOUNT = {json.dumps(WHEEL_MOUNT)};\n",
        "errors.js": (made % "meshkit_web/core/errors.py") +
        f"export const ERRORS = {json.dumps(registry(), indent=1, sort_keys=True)};\n",
        "namespace.js": (made % "meshkit_web/browser/namespace.py") +
        f"export const NAMESPACES = {json.dumps(rule_json(), sort_keys=True)};\n",
        "unsafe.js": (made % "meshkit_web/core/text.py") +
        f"export const UNSAFE_RANGES = {json.dumps(unsafe_ranges_json())};\n",
        "headers.js": (made % "meshkit_web/gateway/headers.py") + "export const HEADERS = " + json.dumps({
            "common": headers.COMMON, "strict_csp": headers.STRICT_CSP, "plaintext_csp": headers.PLAINTEXT_CSP,
            "inert_types": list(headers.INERT_TYPES)}, indent=1) + ";\n",
    }
    for name, text in modules.items():
        (src / name).write_text(text)


# Pyodide's modules import Node's modules (and "ws") dynamically, in code that runs only under
# Node: left as they are, never reached in a browser. Anything else must be inlined.
BUNDLE_EXTERNAL = ("node:*", "ws")


def bundle(entry: pathlib.Path, target: pathlib.Path, root: pathlib.Path) -> list[str]:
    """``entry`` as ONE module at ``target``, every module it imports (all under ``root``)
    inlined by esbuild: whoever pins the bundle pins every byte of code it runs (a service
    worker has no import map, so a module it imported would run unchecked). Returns the
    files inlined but the entry (relative to ``root``)."""
    with tempfile.TemporaryDirectory() as tmp:
        meta = pathlib.Path(tmp) / "meta.json"
        done = subprocess.run(["node", str(fetch_esbuild()), str(entry), "--bundle", "--format=esm",
                               "--platform=neutral", "--log-level=error", f"--outfile={target.resolve()}",
                               f"--metafile={meta}", *(f"--external:{name}" for name in BUNDLE_EXTERNAL)],
                              capture_output=True, text=True, cwd=entry.parent)
        if done.returncode != 0:
            sys.exit(f"build.py: bundling {entry.name} failed: {done.stderr[-800:]}")
        graph = json.loads(meta.read_text())
    (output,) = graph["outputs"].values()
    left = [i for i in output["imports"] if not (i["external"] and i["kind"] == "dynamic-import")]
    if left:
        sys.exit(f"build.py: {target.name} would still import {left}: its imports could not be pinned")
    inlined = []
    for name in graph["inputs"]:
        path = (pathlib.Path(name) if pathlib.Path(name).is_absolute() else entry.parent / name).resolve()
        if path != entry.resolve():
            inlined.append(str(path.relative_to(root.resolve())))  # only files under root may go in
    return sorted(inlined)


# The package: what `python build.py --sdk OUT` writes, and the root of the site's release.
SDK = ROOT / "sdk"
SDK_ENTRIES = ("meshkit-core.js", "meshkit.js", "meshkit-sw.js")
CORE_ENTRY = "meshkit-core.js"  # Core's dedicated worker (and, imported, Core on the page's thread)
SDK_COPIED = ("index.d.ts",)
SDK_DOCS = ("CHANGELOG.md", "docs/SDK.md")


def package_json(version: str) -> dict:
    return {
        "name": "meshkit-web", "version": version, "type": "module",
        "description": "MeshKit Web: end-to-end-encrypted, content-addressed storage for browser apps and their "
                       "service workers (Core in Pyodide, keys in WebCrypto)",
        "license": "Apache-2.0", "types": "./index.d.ts", "main": "./meshkit.js",
        "exports": {".": {"types": "./index.d.ts", "default": "./meshkit.js"},
                    "./worker": {"types": "./index.d.ts", "default": "./meshkit-sw.js"},
                    "./meshkit.js": "./meshkit.js", "./meshkit-sw.js": "./meshkit-sw.js",
                    "./integrity.json": "./integrity.json", "./package.json": "./package.json"},
        "sideEffects": False,
        "files": ["meshkit.js", "meshkit-sw.js", "meshkit-core.js", "index.d.ts", "pyodide/", "wheels/", "integrity.json",
                  "CHANGELOG.md", "SDK.md"],
    }


def build_package(out: pathlib.Path) -> dict:
    """The package into ``out`` (which may hold other files, e.g. the site's app/):
    meshkit.js and meshkit-sw.js (bundles), index.d.ts, package.json, integrity.json (the
    SHA-384 of every file), the Pyodide runtime and the wheels. Relocatable: it finds its
    files relative to the module that loads them."""
    from meshkit_web import __version__
    out.mkdir(parents=True, exist_ok=True)
    pyodide = fetch_pyodide()
    (out / "pyodide").mkdir()
    for name in PYODIDE_RUNTIME:
        shutil.copy2(pyodide / name, out / "pyodide" / name)
    (out / "wheels").mkdir()
    ours = build_browser_wheel(out / "wheels")
    deps = [pathlib.Path(shutil.copy2(w, out / "wheels" / w.name)) for w in fetch_dependency_wheels()]
    compile_for_pyodide([ours] + deps, pyodide)
    packages = write_lock(pyodide / "pyodide-lock.json", [ours] + deps, out / "pyodide" / "pyodide-lock.json")
    runtime = sorted(p for p in out.rglob("*") if p.is_file() and p.relative_to(out).parts[0] in ("pyodide", "wheels"))
    files = {str(p.relative_to(out)): sri(p) for p in runtime}
    digest = hashlib.sha256()
    for path in runtime:
        digest.update(str(path.relative_to(out)).encode() + b"\0" + bytes.fromhex(sha256_file(path)))
    build = digest.hexdigest()[:16]
    boot_bytes = sum(p.stat().st_size for p in runtime)
    wheels = sorted(p.name for p in (out / "wheels").glob("*.whl"))
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp)
        for path in SDK.glob("*.js"):
            shutil.copy2(path, src / path.name)
        (src / "pyodide").mkdir()
        for name in ("pyodide.mjs", "pyodide.asm.mjs"):
            shutil.copy2(pyodide / name, src / "pyodide" / name)
        write_generated(src, files, build, boot_bytes, wheels)
        # Core's worker first: the page module carries its hash (it runs it only once it matched)
        inlined = {CORE_ENTRY: bundle(src / CORE_ENTRY, out / CORE_ENTRY, src)}
        (src / "core-script.js").write_text("// Generated by build.py: the SHA-384 of meshkit-core.js.\n"
                                            f"export const CORE_SCRIPT = {json.dumps(sri(out / CORE_ENTRY))};\n")
        inlined.update({entry: bundle(src / entry, out / entry, src) for entry in SDK_ENTRIES if entry != CORE_ENTRY})
    for name in SDK_COPIED:
        shutil.copy2(SDK / name, out / name)
    for name in SDK_DOCS:
        shutil.copy2(ROOT / name, out / pathlib.Path(name).name)
    (out / "package.json").write_text(json.dumps(package_json(__version__), indent=2) + "\n")
    ours_files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "integrity.json"
                        and p.relative_to(out).parts[0] in ("pyodide", "wheels", *SDK_ENTRIES, *SDK_COPIED,
                                                            "package.json", "CHANGELOG.md", "SDK.md"))
    (out / "integrity.json").write_text(json.dumps(
        {"build": build, "version": __version__, "files": {str(p.relative_to(out)): sri(p) for p in ours_files}},
        indent=1, sort_keys=True) + "\n")
    return {"build": build, "version": __version__, "files": files, "packages": packages, "wheels": wheels,
            "ours": ours.name, "deps": len(deps), "inlined": inlined}


def release_hash(folder: pathlib.Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + bytes.fromhex(sha256_file(path)))
    return digest.hexdigest()[:16]


def build_site(out: pathlib.Path, gateway: str) -> str:
    """Our PWA on the package: the package at the release's root, the app in app/."""
    from meshkit_web.gateway import headers  # the header policy, shared with the gateway
    staging = pathlib.Path(tempfile.mkdtemp(prefix="meshkit-site-"))
    try:
        package = build_package(staging)
        shutil.copytree(ROOT / "static", staging / "app", ignore=shutil.ignore_patterns("README.md", "index.html",
                                                                                       "manifest.webmanifest"))
        pdf_view_hashes = add_pdf_view(staging / "app")
        build = release_hash(staging)
        base = f"/b/{build}"
        # every module the page imports, pinned by hash (Chromium checks import-map integrity
        # for static and dynamic imports alike); the map is the one inline script, allowed by hash
        modules = {f"{base}/{p.relative_to(staging)}": sri(p) for p in sorted(staging.rglob("*"))
                   if p.suffix in (".js", ".mjs")}
        importmap = json.dumps({"integrity": modules}, indent=1, sort_keys=True)
        csp_hashes = ["'sha256-" + base64.b64encode(hashlib.sha256(importmap.encode()).digest()).decode() + "'"]
        connect = (gateway,) if gateway else ()
        pdf_view = f"{base}/{headers.PDF_VIEW}"
        # the worker knows its origin only when it runs: it puts it in for ORIGIN (a CSP source
        # with a path must name its host: 'self' would let the app frame any path)
        worker_headers = {"common": headers.COMMON, "strict_csp": headers.STRICT_CSP,
                          "app_csp": headers.app_csp(connect, tuple(csp_hashes), "ORIGIN" + pdf_view),
                          "pdf_view": {"path": pdf_view, "headers": headers.pdf_view_headers(tuple(pdf_view_hashes))}}
        if out.exists():
            shutil.rmtree(out)
        (out / "b").mkdir(parents=True)
        shutil.copytree(staging, out / "b" / build)
        # what the app's worker precaches at install: the app shell (the package's worker
        # caches the runtime files itself, createMeshKitWorker().install())
        app_files = sorted(f"{base}/" + str(p.relative_to(staging)) for p in staging.rglob("*")
                           if p.is_file() and (p.relative_to(staging).parts[0] == "app" or p.name in ("meshkit.js", CORE_ENTRY))
                           and p.relative_to(staging).parts[:2] != ("app", "pdfjs"))  # only the opaque viewer fetches it
        precache = ["/", "/manifest.webmanifest"] + app_files
        integrity = {f"{base}/{p.relative_to(staging)}": sri(p) for p in sorted(staging.rglob("*")) if p.is_file()}
        replace = {"{{PRELOADS}}": preloads(base, integrity), "{{BUILD}}": build, "{{BASE}}": base,
                   "{{PRECACHE}}": json.dumps(precache, indent=1), "{{GATEWAY}}": gateway,
                   "{{IMPORTMAP}}": importmap, "{{INTEGRITY}}": json.dumps({p: integrity[p] for p in app_files}, indent=1),
                   "{{HEADERS}}": json.dumps(worker_headers, indent=1)}

        def fill(source: pathlib.Path) -> str:
            text = re.sub(r"\{\{SRI:([^}]+)\}\}", lambda m: integrity[f"{base}/{m.group(1)}"], source.read_text())
            for key, value in replace.items():
                text = text.replace(key, value)
            return text

        # the worker first: index.html pins its URL (which names the release) and its bytes
        with tempfile.TemporaryDirectory() as tmp:
            entry = pathlib.Path(tmp) / "sw.js"
            entry.write_text(fill(ROOT / "service_worker" / "sw.js").replace(
                "{{RELEASE}}", (out / "b" / build).resolve().as_posix()))
            bundled = bundle(entry, out / "sw.js", out / "b" / build)
        worker = {"script": f"/sw.js?release={build}", "integrity": sri(out / "sw.js"), "bundled": bundled,
                  "precache": [p.removeprefix(base + "/") for p in precache if p.startswith(base + "/")]
                  + sorted(package["files"]), "boot": sorted(package["files"])}
        replace.update({"{{WORKER}}": worker["script"], "{{WORKER_SRI}}": worker["integrity"]})
        for name in ("index.html", "manifest.webmanifest"):
            (out / name).write_text(fill(ROOT / "static" / name))
        (out / "build.json").write_text(json.dumps({
            "build": build, "base": base, "package": {"build": package["build"], "version": package["version"]},
            "pyodide": PYODIDE_VERSION, "packages": package["packages"], "gateway": gateway,
            "csp_script_hashes": csp_hashes, "worker": worker, "wheels": package["wheels"],
            "pdf_view": {"path": pdf_view, "csp_script_hashes": pdf_view_hashes, "pdfjs": PDFJS_VERSION}}, indent=1))
        return f"release {build}: {package['ours']} + {package['deps']} dependency wheels, Pyodide {PYODIDE_VERSION}"
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "site"), help="where the site goes (default ./site)")
    parser.add_argument("--gateway", default="", help="the gateway's origin when it is not the site's own")
    parser.add_argument("--sdk", metavar="OUT", help="write the meshkit-web package (for other apps) to OUT instead")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.sdk:
        out = pathlib.Path(args.sdk)
        if out.exists():
            shutil.rmtree(out)
        made = build_package(out)
        precompress(out)  # last: every file of the package is written
        print(f"built the meshkit-web {made['version']} package in {out} (runtime build {made['build']})")
        return
    out = pathlib.Path(args.out)
    made = build_site(out, gateway_origin(args.gateway))
    precompress(out)  # last: every file of the site is written (see its docstring)
    print(f"built {out} ({made})")


if __name__ == "__main__":
    main()
