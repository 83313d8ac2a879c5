"""Security headers on every response of the app's origin (an ASGI middleware).

Three policies, chosen by path, never by what a response claims to be:

* the app's documents and workers ("/", "/index.html", "/sw.js"): a strict CSP with exactly
  what Pyodide needs ('wasm-unsafe-eval', no 'unsafe-eval', no inline script except the
  import map, allowed by its hash from build.json);
* everything else (API JSON, /ipfs reads, release files, errors, 404s): ``default-src
  'none'`` plus ``sandbox``, so no response of this origin but the app itself can ever run
  as a page;
* decrypted plaintext (the service worker's streamed opens, built by sw.js from the same
  constants: build.py writes them into it): sandboxed, inert, an attachment.

Plain ASGI with no imports beyond the standard library: build.py imports the constants.
"""

import json
import os

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
# Public, credential-free facts any page may read even without CORS: createMeshKit asks for
# /v1/info twice (with CORS, then without) to tell "this gateway refuses your origin" from
# "this gateway cannot be reached"; a same-origin resource policy would hide the difference.
PROBE_PATHS = ("/v1/info",)


def app_csp(connect: tuple[str, ...] = (), script_hashes: tuple[str, ...] = ()) -> str:
    """The app's policy. Pyodide compiles WebAssembly ('wasm-unsafe-eval') and imports its
    own modules from this origin; nothing inline runs but the import map (by hash)."""
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
        "frame-src 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ))


def site_settings(site_dir: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(extra connect-src origins, script hashes) from a built site's build.json: the
    gateway it talks to when that is another origin, the hash of its inline import map."""
    if not site_dir:
        return (), ()
    path = os.path.join(site_dir, "build.json")
    if not os.path.isfile(path):
        return (), ()
    with open(path) as handle:
        build = json.load(handle)
    gateway = build.get("gateway") or ""
    return ((gateway.rstrip("/"),) if gateway else ()), tuple(build.get("csp_script_hashes", ()))


class SecurityHeaders:
    """ASGI middleware: COMMON and a CSP on every HTTP response (including errors this app
    raises before a response starts). ``site_dir`` (a build.py site) supplies the gateway
    origin and import-map hash for the app's CSP; ``connect`` adds more connect-src origins."""

    def __init__(self, app, site_dir: str | None = None, connect: tuple[str, ...] = ()):
        self.app = app
        site_connect, hashes = site_settings(site_dir)
        self.app_headers = self._encode({**COMMON, "Content-Security-Policy": app_csp(
            tuple(connect) + site_connect, hashes)})
        self.strict_headers = self._encode({**COMMON, "Content-Security-Policy": STRICT_CSP})
        self.probe_headers = self._encode({**COMMON, "Cross-Origin-Resource-Policy": "cross-origin",
                                           "Content-Security-Policy": STRICT_CSP})
        self.names = {name for name, _ in self.app_headers}

    @staticmethod
    def _encode(headers: dict) -> list[tuple[bytes, bytes]]:
        return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path")
        ours = self.app_headers if path in APP_PATHS else self.probe_headers if path in PROBE_PATHS else self.strict_headers
        started = False

        async def send_with_headers(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # ours replace whatever the route set for the same names
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in self.names]
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
