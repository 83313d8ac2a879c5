"""The site is sent compressed (issue 23, step 5): build.py writes NAME.br (brotli 11) and
NAME.gz (gzip -9) beside each file whose type compresses, and the gateway
(gateway/site.py) sends the one the request's Accept-Encoding takes, with the original's
Content-Type, Content-Encoding, Vary: Accept-Encoding and the copy's length; the bytes decode
to exactly the file, whose hash is what the integrity manifest pins (the copies are never in
it). In Chromium the app boots from the compressed files, the worker too."""

import gzip
import importlib.util
import json
import re

import brotli
import httpx
import pytest

from meshkit_web.gateway import site as site_module  # as a module: the old code fails each test, not the import
from meshkit_web.gateway.headers import STRICT_CSP

from support.browser import BOOT_WORKER_JS, ready
from support.constants import BOOT_TIMEOUT, ROOT
from support.servers import ServerThread
from support.transfer import TransferLog

DECODE = {"br": brotli.decompress, "gzip": gzip.decompress, "": lambda body: body}


def load_build():
    spec = importlib.util.spec_from_file_location("meshkit_build", ROOT / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def release(site):
    return json.loads((site / "build.json").read_text())["base"]


# one file of each type the site compresses: (URL path, path in the site, Content-Type, cache policy)
def files(base: str) -> list[tuple[str, str, str, str]]:
    immutable, revalidate = "public, max-age=31536000, immutable", "no-cache"
    return [
        ("/", "index.html", "text/html; charset=utf-8", revalidate),
        ("/sw.js", "sw.js", "text/javascript; charset=utf-8", revalidate),
        ("/manifest.webmanifest", "manifest.webmanifest", "application/manifest+json", revalidate),
        ("/build.json", "build.json", "application/json", revalidate),
        (f"{base}/meshkit.js", f"{base[1:]}/meshkit.js", "text/javascript; charset=utf-8", immutable),
        (f"{base}/app/app.js", f"{base[1:]}/app/app.js", "text/javascript; charset=utf-8", immutable),
        (f"{base}/app/app.css", f"{base[1:]}/app/app.css", "text/css; charset=utf-8", immutable),
        (f"{base}/app/icons/icon.svg", f"{base[1:]}/app/icons/icon.svg", "image/svg+xml", immutable),
        (f"{base}/pyodide/pyodide.asm.wasm", f"{base[1:]}/pyodide/pyodide.asm.wasm", "application/wasm", immutable),
        (f"{base}/pyodide/pyodide-lock.json", f"{base[1:]}/pyodide/pyodide-lock.json", "application/json", immutable),
    ]


def fetch(url: str, accept: str | None, method: str = "GET", headers: dict | None = None) -> tuple[httpx.Response, bytes]:
    """A response and its body AS SENT (not decoded); ``accept`` None sends no Accept-Encoding."""
    with httpx.Client(timeout=30) as http:
        if accept is None:
            http.headers.pop("accept-encoding")
        else:
            http.headers["accept-encoding"] = accept
        with http.stream(method, url, headers=headers) as response:
            return response, b"".join(response.iter_raw())


# --- Accept-Encoding, as RFC 9110 12.5.3 reads it ---------------------------------------------

@pytest.mark.parametrize("header, expected", [
    (None, None),                          # no header: the file as it is
    ("", None),                            # empty: identity only
    ("gzip, deflate, br, zstd", "br"),     # Chromium's
    ("gzip, deflate", "gzip"),
    ("identity", None),
    ("br;q=0, gzip", "gzip"),              # q=0: never
    ("br;q=0, gzip;q=0", None),
    ("br; q=0.000, gzip;q=0.0", None),
    ("br;q=0.5, gzip;q=0.8", "gzip"),      # the higher q wins
    ("br;q=0.8, gzip;q=0.8", "br"),        # a tie goes to the smaller
    ("*", "br"),                           # any coding
    ("*;q=0", None),
    ("br;q=0, *", "gzip"),                 # * stands for what is not named
    ("gzip;q=0.2, *;q=0.5", "br"),
    ("BR", "br"), ("GZip", "gzip"),        # case-insensitive
    ("x-gzip", "gzip"),                    # RFC 9110 8.4.1.3
    ("identity;q=1, br;q=0.5", None),      # identity preferred, by q
    ("identity;q=0, br", "br"),
    ("br;q=abc, gzip", "gzip"),            # a malformed q counts as 0
    ("br;q=2, gzip", "gzip"),              # so does one out of range
    ("compress, deflate", None),           # nothing we have
    (" , br ,", "br"),                     # empty list elements are allowed
])
def test_accept_encoding(header, expected):
    assert site_module.accepted_coding(header, ("br", "gzip")) == expected


def test_only_available_codings_are_chosen():
    accepted_coding = site_module.accepted_coding
    assert accepted_coding("br, gzip", ("gzip",)) == "gzip"
    assert accepted_coding("br", ("gzip",)) is None
    assert accepted_coding("br, gzip", ()) is None


# --- the gateway sends each type br, gzip or as it is ---------------------------------------

@pytest.mark.parametrize("accept, coding", [("gzip, deflate, br, zstd", "br"), ("gzip, deflate", "gzip"),
                                            ("identity", ""), (None, "")])
def test_each_type_is_sent_as_the_request_accepts(app_server, site, release, accept, coding):
    for url_path, file, content_type, cache in files(release):
        original = (site / file).read_bytes()
        response, body = fetch(app_server.url + url_path, accept)
        assert response.status_code == 200, url_path
        assert response.headers.get("content-encoding", "") == coding, (url_path, accept)
        assert len(response.headers.get_list("content-encoding")) <= 1, url_path  # never encoded twice
        assert response.headers["content-type"] == content_type, url_path  # the file's, never application/x-brotli
        assert int(response.headers["content-length"]) == len(body), url_path
        assert DECODE[coding](body) == original, url_path
        if coding:
            assert len(body) < len(original) and body == (site / (file + {"br": ".br", "gzip": ".gz"}[coding])).read_bytes()
        assert "accept-encoding" in response.headers.get("vary", "").lower(), url_path
        assert response.headers["cache-control"] == cache, url_path
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in response.headers["content-security-policy"]  # the security headers too


@pytest.mark.parametrize("accept, coding", [
    ("br;q=0, gzip", "gzip"), ("gzip;q=0, br;q=0", ""), ("*;q=0", ""), ("br;q=0, *", "gzip"),
    ("br;q=0.5, gzip;q=0.9", "gzip"), ("identity;q=1, br;q=0.1", ""), ("*", "br")])
def test_q_values_are_respected(app_server, site, release, accept, coding):
    response, body = fetch(f"{app_server.url}{release}/pyodide/pyodide-lock.json", accept)
    assert response.headers.get("content-encoding", "") == coding
    assert "accept-encoding" in response.headers["vary"].lower()  # as it is or not, it depended on the header
    assert DECODE[coding](body) == (site / release[1:] / "pyodide" / "pyodide-lock.json").read_bytes()


@pytest.mark.parametrize("where", ["/sw.js", "{release}/pyodide/pyodide.asm.wasm"])
def test_head_tells_what_get_sends(app_server, release, where):
    url = app_server.url + where.format(release=release)
    for accept in ("br", "gzip", "identity"):
        head, nothing = fetch(url, accept, method="HEAD")
        get, body = fetch(url, accept)
        assert head.status_code == 200 and nothing == b""
        assert head.headers.get("content-encoding", "") == {"br": "br", "gzip": "gzip", "identity": ""}[accept]
        for name in ("content-encoding", "content-length", "content-type", "vary", "etag", "cache-control"):
            assert head.headers.get(name) == get.headers.get(name), (accept, name)
        assert int(head.headers["content-length"]) == len(body)


def test_a_range_request_gets_ranges_of_the_file_itself(app_server, site, release):
    """A range of a compressed copy would be bytes of the copy: ranges are of the file."""
    url = f"{app_server.url}{release}/pyodide/pyodide.asm.wasm"
    original = (site / release[1:] / "pyodide" / "pyodide.asm.wasm").read_bytes()
    response, body = fetch(url, "br, gzip", headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206 and "content-encoding" not in response.headers
    assert body == original[1000:2000] and response.headers["content-range"] == f"bytes 1000-1999/{len(original)}"
    assert "accept-encoding" in response.headers["vary"].lower()


def test_each_representation_has_its_own_etag_and_revalidates(app_server, release):
    for url in (f"{app_server.url}{release}/meshkit.js", f"{app_server.url}/sw.js"):
        tags = {accept: fetch(url, accept)[0].headers["etag"] for accept in ("br", "gzip", "identity")}
        assert len(set(tags.values())) == 3, tags
        again, body = fetch(url, "br", headers={"If-None-Match": tags["br"]})
        assert again.status_code == 304 and body == b"" and "accept-encoding" in again.headers["vary"].lower()
        # the br copy's tag does not stand for the file as it is
        other, body = fetch(url, "identity", headers={"If-None-Match": tags["br"]})
        assert other.status_code == 200 and body and "content-encoding" not in other.headers


def test_a_copy_is_never_served_by_its_own_name(app_server, site, release):
    """x.js.br by its own name would go out as text/javascript with no Content-Encoding
    (brotli bytes run as a script, or rejected): no such URL exists."""
    for path in (f"{release}/meshkit.js.br", f"{release}/meshkit.js.gz",
                 f"{release}/pyodide/pyodide.asm.wasm.br", "/sw.js.br", "/index.html.gz", "/build.json.br"):
        file = site / path.lstrip("/")
        assert file.is_file(), f"{path} was not built"
        for accept in ("br, gzip", "identity"):
            response, _ = fetch(app_server.url + path, accept)
            assert response.status_code == 404, (path, response.status_code, response.headers.get("content-type"))
            assert response.headers["content-security-policy"] == STRICT_CSP


def test_files_that_do_not_compress_are_sent_as_they_are(app_server, site, release):
    """Zip archives of deflated members (python_stdlib.zip, the wheels) and PNG: brotli saves
    under 5%, so no copies, no Vary."""
    folder = site / release[1:]
    assert (folder / "pyodide" / "pyodide.asm.wasm.br").is_file()  # left out by type, beside files that have copies
    for file in [folder / "pyodide" / "python_stdlib.zip", *(folder / "wheels").glob("*.whl"),
                 *(folder / "app" / "icons").glob("*.png")]:
        assert not file.with_name(file.name + ".br").exists() and not file.with_name(file.name + ".gz").exists()
        response, body = fetch(f"{app_server.url}/{file.relative_to(site)}", "br, gzip")
        assert response.status_code == 200 and "content-encoding" not in response.headers and "vary" not in response.headers
        assert body == file.read_bytes()


# --- the build -----------------------------------------------------------------------------------

def test_the_build_writes_copies_that_no_manifest_names(site, release):
    """Every compressible file has its copies, each decoding to it; integrity.js, the import
    map, build.json and the worker's precache list name the files only (their hashes are of
    the decoded bytes)."""
    build = load_build()
    copies = sorted(p for p in site.rglob("*") if p.suffix in (".br", ".gz"))
    compressible = [p for p in site.rglob("*") if p.is_file() and p.suffix in build.COMPRESSIBLE]
    assert len(copies) == 2 * len(compressible) and len(compressible) >= 25, (len(copies), len(compressible))
    for copy in copies:
        original = copy.with_suffix("")
        data = copy.read_bytes()
        assert DECODE["br" if copy.suffix == ".br" else "gzip"](data) == original.read_bytes(), copy
        assert len(data) < original.stat().st_size, copy
        if copy.suffix == ".gz":  # reproducible: no time, no name in the gzip header
            assert data[4:8] == b"\0\0\0\0" and not data[3] & 0x08, copy
    integrity = (site / release[1:] / "integrity.json").read_text()  # the package's manifest
    files = json.loads(integrity)["files"]
    build_json = json.loads((site / "build.json").read_text())
    named = [*files, *build_json["worker"]["precache"], *build_json["worker"]["boot"], *build_json["worker"]["bundled"],
             *build_json["wheels"]]
    index = (site / "index.html").read_text()
    sw = (site / "sw.js").read_text()
    assert "pyodide/pyodide.asm.wasm" in files and "meshkit.js" in files
    assert not [name for name in named if name.endswith((".br", ".gz"))]
    for text in (index, sw, integrity):
        assert not re.search(r"\.(js|mjs|wasm|json|css|svg|html|webmanifest)\.(br|gz)\b", text)


def test_precompress_takes_any_folder(tmp_path):
    """precompress(folder) works on any output (the site, a package folder): copies only of
    compressible types, only when smaller, none left over from an earlier run; the same
    bytes every time."""
    build = load_build()
    text = ("export const greeting = 'hello';\n" * 200).encode()
    (tmp_path / "pkg" / "dist").mkdir(parents=True)
    (tmp_path / "pkg" / "dist" / "index.mjs").write_bytes(text)
    (tmp_path / "pkg" / "package.json").write_bytes(b'{"name": "x", "version": "1.0.0", "files": ["dist"]}' * 10)
    (tmp_path / "pkg" / "tiny.js").write_bytes(b"1")  # its copies would be larger
    (tmp_path / "pkg" / "tiny.js.br").write_bytes(b"stale")  # from an earlier run
    (tmp_path / "pkg" / "data.zip").write_bytes(text)  # compressible bytes, but not a type that is
    build.precompress(tmp_path / "pkg")
    made = sorted(str(p.relative_to(tmp_path / "pkg")) for p in (tmp_path / "pkg").rglob("*") if p.suffix in (".br", ".gz"))
    assert made == ["dist/index.mjs.br", "dist/index.mjs.gz", "package.json.br", "package.json.gz"]
    assert brotli.decompress((tmp_path / "pkg" / "dist" / "index.mjs.br").read_bytes()) == text
    assert gzip.decompress((tmp_path / "pkg" / "dist" / "index.mjs.gz").read_bytes()) == text
    first = {p: p.read_bytes() for p in (tmp_path / "pkg").rglob("*.*")}
    build.precompress(tmp_path / "pkg")
    assert {p: p.read_bytes() for p in (tmp_path / "pkg").rglob("*.*")} == first


# --- another origin: site_app -------------------------------------------------------------

def test_the_site_alone_on_another_origin_is_compressed_too(site, release):
    with ServerThread(site_module.site_app(str(site)), ready_path="/build.json") as server:
        for path in ("/", f"{release}/meshkit.js"):
            response, body = fetch(server.url + path, "br")
            assert response.headers["content-encoding"] == "br" and "vary" in response.headers
            assert brotli.decompress(body) == (site / (path.strip("/") or "index.html")).read_bytes()
            assert "content-security-policy" in response.headers


# --- Chromium ----------------------------------------------------------------------------------

@pytest.fixture
def counted(site, tmp_path):
    """The gateway serving the site, behind a wrapper that records every response sent."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    log = TransferLog(create_app(GatewayConfig(data_dir=str(tmp_path / "gw"), site_dir=str(site)),
                                 EmbeddedProvider(str(tmp_path / "gw" / "blockstore"))))
    with ServerThread(log) as server:
        log.url = server.url
        yield log


def test_the_app_boots_from_compressed_files_page_and_worker(browser, counted, site, release):
    """A cold visit: the page reaches ready with Pyodide, the modules and the worker sent
    brotli-compressed; the worker precaches the release (each file checked against its
    hash, of the decoded bytes), boots its own Core from that cache, and a reload served by
    it is ready again."""
    context = browser.new_context(base_url=counted.url)
    try:
        page = context.new_page()
        ready(page)
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT)
        site_file = lambda path: site / (path.strip("/") or "index.html")  # noqa: E731
        sent = {s.path: s for s in counted.snapshot() if s.status == 200 and site_file(s.path).is_file()}
        for path in ("/", "/sw.js", f"{release}/pyodide/pyodide.asm.wasm", f"{release}/pyodide/pyodide-lock.json",
                     f"{release}/meshkit.js", f"{release}/app/ui.js", f"{release}/app/app.css"):
            assert path in sent, f"{path} was not sent"
            assert sent[path].encoding == "br", (path, sent[path])
            file = site_file(path)
            assert sent[path].body_bytes == file.with_name(file.name + ".br").stat().st_size, path
        assert sent[f"{release}/pyodide/python_stdlib.zip"].encoding == ""  # no copy: sent as it is
        shipped = sum(s.body_bytes for s in sent.values())
        decoded = sum(site_file(path).stat().st_size for path in sent)
        assert shipped < 0.6 * decoded, (shipped, decoded)

        booted = page.evaluate(BOOT_WORKER_JS)  # the worker's Core, from its precache
        assert booted["ok"] is True, booted
        page.reload()
        ready(page)
    finally:
        context.close()
