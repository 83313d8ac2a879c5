"""The PWA (built by build.py) on the gateway's origin: entry points revalidated, the
content-addressed release under /b/<BUILD>/ cached for good, each file sent compressed
when the browser accepts it (build.py writes NAME.br and NAME.gz beside NAME)."""

import mimetypes
import os
import stat
from email.utils import parsedate_to_datetime

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.staticfiles import NotModifiedResponse

from ..core.errors import InvalidArgumentError

# The content codings build.py's precompress() writes, best first: (coding, file suffix)
CODINGS = (("br", ".br"), ("gzip", ".gz"))


def accepted_coding(accept_encoding: str | None, available: tuple[str, ...]) -> str | None:
    """Which of ``available`` (codings, best first) to send for this Accept-Encoding
    (RFC 9110 12.5.3), or None for the file as it is. The highest q wins, ties go to the
    earlier (smaller) coding; q=0 means never; ``*`` stands for any coding not named;
    ``x-gzip`` is gzip. Without the header, the file as it is (a client that sends none,
    such as curl, is not handed bytes it did not ask for). ``identity`` named with a higher
    q than any coding keeps the file as it is; a malformed q counts as 0."""
    if accept_encoding is None:
        return None
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        name = name.lower()
        if not name:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                q = q if 0.0 <= q <= 1.0 else 0.0
        weights.setdefault("gzip" if name == "x-gzip" else name, q)  # the first mention counts
    star = weights.get("*", 0.0)
    best, best_q = None, 0.0
    for coding in available:
        q = weights.get(coding, star)
        if q > best_q:
            best, best_q = coding, q
    if best is not None and weights.get("identity", 0.0) > best_q:
        return None
    return best


def encoded_response(path: str, stat_result: os.stat_result | None, media_type: str, scope,
                     headers: dict | None = None) -> Response:
    """``path`` as a response, or its precompressed copy NAME.br / NAME.gz when there is one
    and the request accepts that coding: the original's Content-Type, Content-Encoding, the
    copy's own length and ETag (another representation), ``Vary: Accept-Encoding`` whenever
    a copy exists. A Range request gets the file as it is (ranges of the original's bytes,
    which a compressed copy cannot give). Conditional requests are answered 304 as
    StaticFiles does."""
    request = Headers(scope=scope)
    variants = {}
    for coding, suffix in CODINGS:
        try:
            found = os.stat(path + suffix)
        except OSError:
            continue
        if stat.S_ISREG(found.st_mode):
            variants[coding] = (path + suffix, found)
    headers = dict(headers or {})
    if variants:
        headers["Vary"] = "Accept-Encoding"
    coding = None if "range" in request else accepted_coding(request.get("accept-encoding"), tuple(variants))
    if coding is not None:
        path, stat_result = variants[coding]
        headers["Content-Encoding"] = coding
    response = FileResponse(path, stat_result=stat_result or os.stat(path), media_type=media_type, headers=headers)
    return NotModifiedResponse(response.headers) if not_modified(response.headers, request) else response


def not_modified(response: Headers, request: Headers) -> bool:
    """A conditional GET/HEAD the client's copy answers (RFC 9110 13.2.2: If-None-Match,
    compared weakly, else If-Modified-Since), as StaticFiles decides it."""
    if_none_match = request.get("if-none-match")
    if if_none_match is not None:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or response["etag"].removeprefix("W/") in tags
    try:
        return parsedate_to_datetime(request["if-modified-since"]) >= parsedate_to_datetime(response["last-modified"])
    except (KeyError, TypeError, ValueError):
        return False


def is_compressed_copy(path: str) -> bool:
    """NAME.br or NAME.gz beside a file NAME: a precompressed copy, never served by its own
    name (it would go out as NAME's type without its Content-Encoding)."""
    return any(path.endswith(suffix) and os.path.isfile(path[:-len(suffix)]) for _, suffix in CODINGS)


def mount_site(app: FastAPI, site_dir: str) -> None:
    """The PWA from build.py on the gateway's own origin. Entry points (index.html, the
    manifest, the service worker, build.json) are revalidated on every load; a release under
    /b/<BUILD>/ never changes, so it is cached for good."""
    site = os.path.abspath(site_dir)
    if not os.path.isfile(os.path.join(site, "build.json")):
        raise InvalidArgumentError(f"{site_dir} is not a site built by build.py (no build.json)")
    entries = {"/": ("index.html", "text/html; charset=utf-8"),
               "/manifest.webmanifest": ("manifest.webmanifest", "application/manifest+json"),
               "/sw.js": ("sw.js", "text/javascript; charset=utf-8"),
               "/build.json": ("build.json", "application/json")}
    revalidate = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

    def entry(filename: str, media_type: str):
        async def serve(request: Request):
            path = os.path.join(site, filename)
            if not os.path.isfile(path):
                raise StarletteHTTPException(404, f"{filename} is not part of this build")
            headers = dict(revalidate)
            if filename == "sw.js":
                headers["Service-Worker-Allowed"] = "/"
            return encoded_response(path, None, media_type, request.scope, headers)
        return serve

    for route, (filename, media_type) in entries.items():
        app.add_api_route(route, entry(filename, media_type), methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/b", ImmutableFiles(directory=os.path.join(site, "b")), name="site")


class ImmutableFiles(StaticFiles):
    """Files of a content-addressed release: cache forever, never sniff, compressed when
    accepted (encoded_response)."""

    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def file_response(self, full_path, stat_result, scope, status_code=200):
        if is_compressed_copy(str(full_path)):
            raise StarletteHTTPException(404)
        media_type = mimetypes.guess_type(str(full_path))[0] or "application/octet-stream"  # as StaticFiles
        return encoded_response(str(full_path), stat_result, media_type, scope)


def site_app(site_dir: str) -> "SecurityHeaders":
    """The PWA alone, for serving it from an origin other than the gateway's (a site built
    with ``build.py --gateway URL``): the same routes, caching and compression as on the
    gateway, with the same security headers (its CSP lets the page connect to that gateway)."""
    from .headers import SecurityHeaders
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    mount_site(app, site_dir)
    return SecurityHeaders(app, site_dir=site_dir)
