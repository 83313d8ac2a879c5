"""Security headers on every response of the app's origin (an ASGI middleware).

Four policies, chosen by path, never by what a response claims to be:

* the app's documents and workers ("/", "/index.html", "/sw.js"): a strict CSP with exactly
  what Pyodide needs ('wasm-unsafe-eval', no 'unsafe-eval', no inline script except the
  import map, allowed by its hash from build.json);
* everything else (API JSON, /ipfs reads, release files, errors, 404s): ``default-src
  'none'`` plus ``sandbox``, so no response of this origin but the app itself can ever run
  as a page;
* decrypted plaintext (the service worker's streamed opens, built by sw.js from the same
  constants: build.py writes them into it): sandboxed, inert, an attachment;
* the PDF viewer (the release's app/pdf-view.html, pdf_view_headers): a sandbox with scripts
  and no origin (``sandbox allow-scripts``), no network, framed only by the app, whose
  ``frame-src`` names that one document. Its scripts are served with CORS (an opaque origin
  loads them cross-origin) and nothing else of the release is.

Plain ASGI with no imports beyond the standard library: build.py imports the constants.
"""

import json
import os
import re

# The same on every response.
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # only features Chromium knows (an unknown one is a console error on every load)
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), hid=(), "
                          "midi=(), display-capture=(), browsing-topics=()",
}

# For anything that is not the app: nothing may load, run, frame it or submit from it.
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"

# Decrypted bytes: a unique opaque origin with no script, nothing loaded (sw.js uses this).
PLAINTEXT_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

# Media types a streamed open may keep: none of them can carry script in a browser (no
# HTML, XML, SVG, PDF, JavaScript, CSS). Anything else is served as application/octet-stream.
INERT_TYPES = (
    "application/octet-stream", "text/plain",
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp",
    "audio/mpeg", "audio/ogg", "audio/wav", "audio/webm", "audio/flac", "audio/aac", "audio/mp4",
    "video/mp4", "video/webm", "video/ogg",
)

APP_PATHS = ("/", "/index.html", "/sw.js")

# The PDF viewer, relative to a release (/b/<BUILD>/): pdf.js runs in it, on bytes the app
# posts to it, so it is assumed exploitable (CVE-2024-4367): an opaque origin (no storage, no
# parent DOM), no network, scripts only from the release and its import map (by hash).
PDF_VIEW = "app/pdf-view.html"
PDF_VIEW_SCRIPTS = ("app/pdf-view.js", "app/pdfjs/pdf.min.mjs", "app/pdfjs/pdf.worker.min.mjs")
RELEASE_FILE = re.compile(r"/b/[0-9a-f]{16}/(.+)")
# a Host header fit to go into a CSP source (anything else: no frames at all)
HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def pdf_view_csp(script_hashes: tuple[str, ...] = ()) -> str:
    """The viewer's own policy: even opened directly it has no origin (sandbox), loads and
    sends nothing but its scripts, and only the app's origin may frame it."""
    return "; ".join((
        "sandbox allow-scripts",
        "default-src 'none'",
        "script-src " + " ".join(("'self'",) + tuple(script_hashes)),
        "frame-ancestors 'self'",
        "base-uri 'none'",
        "form-action 'none'",
    ))


def pdf_view_headers(script_hashes: tuple[str, ...] = ()) -> dict:
    """COMMON, with the viewer's CSP, and framing by its own origin allowed (it is framed)."""
    return {**COMMON, "X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": pdf_view_csp(script_hashes)}
# Public, credential-free facts any page may read even without CORS: createMeshKit asks for
# /v1/info twice (with CORS, then without) to tell "this gateway refuses your origin" from
# "this gateway cannot be reached"; a same-origin resource policy would hide the difference.
PROBE_PATHS = ("/v1/info",)


def app_csp(connect: tuple[str, ...] = (), script_hashes: tuple[str, ...] = (), frame: str = "") -> str:
    """The app's policy. Pyodide compiles WebAssembly ('wasm-unsafe-eval') and imports its
    own modules from this origin; nothing inline runs but the import map (by hash). ``frame``:
    the one document it may frame (the PDF viewer's full URL), else none."""
    script = " ".join(("'self'", "'wasm-unsafe-eval'") + tuple(script_hashes))
    return "; ".join((
        "default-src 'none'",
        f"script-src {script}",
        "connect-src " + " ".join(("'self'",) + tuple(connect)),
        # blob: Core's dedicated worker runs from the bytes meshkit.js checked (meshkit-core.js)
        "worker-src 'self' blob:",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "media-src 'self' blob:",
        "manifest-src 'self'",
        "font-src 'self'",
        "frame-src " + (frame or "'none'"),
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ))


def site_settings(site_dir: str | None) -> dict:
    """From a built site's build.json: ``connect`` (the gateway it talks to when that is
    another origin), ``hashes`` (of its inline import map), ``pdf_view`` (the viewer's path,
    or "") and ``pdf_view_hashes`` (of the viewer's import map)."""
    settings = {"connect": (), "hashes": (), "pdf_view": "", "pdf_view_hashes": ()}
    path = os.path.join(site_dir, "build.json") if site_dir else ""
    if not path or not os.path.isfile(path):
        return settings
    with open(path) as handle:
        build = json.load(handle)
    gateway = build.get("gateway") or ""
    viewer = build.get("pdf_view") or {}
    return {"connect": (gateway.rstrip("/"),) if gateway else (), "hashes": tuple(build.get("csp_script_hashes", ())),
            "pdf_view": viewer.get("path", ""), "pdf_view_hashes": tuple(viewer.get("csp_script_hashes", ()))}


def frame_source(scope, pdf_view: str) -> str:
    """The viewer's full URL as this request's browser sees this origin (CSP has no
    path-only source: 'self' would allow every path), or "" when the Host is unfit."""
    host = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), "")
    if not pdf_view or not HOST.fullmatch(host):
        return ""
    # an http: source also matches https: (a TLS proxy in front sees http here)
    return f"{'https' if scope.get('scheme') == 'https' else 'http'}://{host}{pdf_view}"


class SecurityHeaders:
    """ASGI middleware: COMMON and a CSP on every HTTP response (including errors this app
    raises before a response starts). ``site_dir`` (a build.py site) supplies the gateway
    origin and import-map hash for the app's CSP; ``connect`` adds more connect-src origins."""

    def __init__(self, app, site_dir: str | None = None, connect: tuple[str, ...] = ()):
        self.app = app
        site = site_settings(site_dir)
        self.connect, self.hashes, self.pdf_view = tuple(connect) + site["connect"], site["hashes"], site["pdf_view"]
        self.app_headers = self._encode({**COMMON, "Content-Security-Policy": app_csp(self.connect, self.hashes)})
        self.strict_headers = self._encode({**COMMON, "Content-Security-Policy": STRICT_CSP})
        self.probe_headers = self._encode({**COMMON, "Cross-Origin-Resource-Policy": "cross-origin",
                                           "Content-Security-Policy": STRICT_CSP})
        self.pdf_view_headers = self._encode(pdf_view_headers(site["pdf_view_hashes"]))
        # the viewer's modules, fetched by an opaque origin: CORS (public code, no credentials)
        self.pdf_script_headers = self.strict_headers + [(b"access-control-allow-origin", b"*")]
        self.names = {name for name, _ in self.app_headers}

    def headers_for(self, scope) -> list[tuple[bytes, bytes]]:
        path = scope.get("path") or ""
        if path in APP_PATHS:
            frame = frame_source(scope, self.pdf_view)
            return self._encode({**COMMON, "Content-Security-Policy": app_csp(self.connect, self.hashes, frame)}) \
                if frame else self.app_headers
        if path in PROBE_PATHS:
            return self.probe_headers
        release = RELEASE_FILE.fullmatch(path)
        if release and self.pdf_view and release.group(1) == PDF_VIEW:
            return self.pdf_view_headers
        if release and self.pdf_view and release.group(1) in PDF_VIEW_SCRIPTS:
            return self.pdf_script_headers
        return self.strict_headers

    @staticmethod
    def _encode(headers: dict) -> list[tuple[bytes, bytes]]:
        return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        ours = self.headers_for(scope)
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # ours replace whatever the route set for the same names
                names = self.names | {k for k, _ in ours}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + ours}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            if not started:  # Starlette's outermost error handler would answer without them
                body = b'{"error":"internal","message":"internal error"}'
                await send_with_headers({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
            raise
