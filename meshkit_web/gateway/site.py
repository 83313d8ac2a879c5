"""The PWA (built by build.py) on the gateway's origin: entry points revalidated, the
content-addressed release under /b/<BUILD>/ cached for good."""

import os

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException


def mount_site(app: FastAPI, site_dir: str) -> None:
    """The PWA from build.py on the gateway's own origin. Entry points (index.html, the
    manifest, the service worker, build.json) are revalidated on every load; a release under
    /b/<BUILD>/ never changes, so it is cached for good."""
    site = os.path.abspath(site_dir)
    if not os.path.isfile(os.path.join(site, "build.json")):
        raise ValueError(f"{site_dir} is not a site built by build.py (no build.json)")
    entries = {"/": ("index.html", "text/html; charset=utf-8"),
               "/manifest.webmanifest": ("manifest.webmanifest", "application/manifest+json"),
               "/sw.js": ("sw.js", "text/javascript; charset=utf-8"),
               "/build.json": ("build.json", "application/json")}
    revalidate = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

    def entry(filename: str, media_type: str):
        async def serve():
            path = os.path.join(site, filename)
            if not os.path.isfile(path):
                raise StarletteHTTPException(404, f"{filename} is not part of this build")
            headers = dict(revalidate)
            if filename == "sw.js":
                headers["Service-Worker-Allowed"] = "/"
            return FileResponse(path, media_type=media_type, headers=headers)
        return serve

    for route, (filename, media_type) in entries.items():
        app.add_api_route(route, entry(filename, media_type), methods=["GET", "HEAD"], include_in_schema=False)
    app.mount("/b", ImmutableFiles(directory=os.path.join(site, "b")), name="site")


class ImmutableFiles(StaticFiles):
    """Files of a content-addressed release: cache forever, never sniff."""

    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def site_app(site_dir: str) -> "SecurityHeaders":
    """The PWA alone, for serving it from an origin other than the gateway's (a site built
    with ``build.py --gateway URL``): the same routes and caching as on the gateway, with the
    same security headers (its CSP lets the page connect to that gateway)."""
    from .headers import SecurityHeaders
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    mount_site(app, site_dir)
    return SecurityHeaders(app, site_dir=site_dir)
