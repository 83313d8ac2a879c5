"""The servers examples/notes runs against in its tests (tests/sdk/test_example_notes.py and the
engines): the app on an origin of its own, the meshkit-web package it embeds, and a real
gateway on ANOTHER origin.

* ``build_package(out)``: ``python build.py --sdk OUT`` (what a developer vendors).
* ``NotesGateway``: `meshkit serve`'s app (embedded provider, SQLite) on a fixed port of
  127.0.0.1, so it can be stopped and started again on the same origin with the same data;
  ``cors=False`` leaves the notes origin out of its --cors-origin (the misconfiguration).
* ``NotesServer``: the notes origin. "/" is examples/notes with namespace "notes"; "/other/"
  the same files again as a second app of the origin, namespace "other"; "/vendor/meshkit/"
  the package (NAME.br / NAME.gz by Accept-Encoding, meshkit_web/gateway/site.py's logic);
  "/plain/" a page that is no app at all. Every app file carries the example's CSP
  (``notes_csp``): scripts from the origin and WebAssembly, fetches to the origin and the
  gateway only. Each request is counted (``hits``), so a test can tell the network answered.
"""

import json
import mimetypes
import pathlib
import sqlite3
import subprocess
import sys
import threading

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from meshkit_web.gateway.site import encoded_response, is_compressed_copy

from support.constants import ROOT

EXAMPLE = ROOT / "examples" / "notes"
APPS = {"": "notes", "other/": "other"}  # where an app is served (under "/") -> its namespace

# The example's files and their types (nothing else of examples/notes is served)
FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8",
         "notes.css": "text/css; charset=utf-8", "sw.js": "text/javascript; charset=utf-8",
         "manifest.webmanifest": "application/manifest+json", "icon.svg": "image/svg+xml"}

PLAIN_PAGE = "<!doctype html><title>plain</title><p id=plain>a plain page of this origin, not the app</p>"
PLAIN_HEADERS = {"X-Served-By": "notes-test-server", "Content-Security-Policy": "default-src 'none'; plain-page-policy",
                 "Cache-Control": "no-store"}


def build_package(out: pathlib.Path) -> pathlib.Path:
    """The meshkit-web package as a developer gets it: ``python build.py --sdk OUT``, OUT
    given relative to the working directory as a developer types it (a relative OUT once
    lost both bundles: esbuild wrote them into its temporary folder). Both entry points
    must be there and listed in integrity.json."""
    out = pathlib.Path(out).resolve()
    subprocess.run([sys.executable, str(ROOT / "build.py"), "--sdk", out.name], check=True, capture_output=True,
                   timeout=900, cwd=out.parent)
    listed = json.loads((out / "integrity.json").read_text())["files"]
    for entry in ("meshkit.js", "meshkit-sw.js", "index.d.ts", "package.json"):
        if not (out / entry).is_file() or entry not in listed:
            raise AssertionError(f"build.py --sdk {out.name} wrote no {entry} (or integrity.json does not list it)")
    return out


def notes_csp(gateway_origin: str) -> str:
    """The example's policy (README.md says the same): its own scripts and WebAssembly (Pyodide
    compiles it), fetches to its origin and the gateway only, workers from its origin and
    blob: (meshkit.js runs Core in a dedicated worker made from the bytes it checked)."""
    return "; ".join((
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        f"connect-src 'self' {gateway_origin}",
        "worker-src 'self' blob:",
        "style-src 'self'",
        "img-src 'self' data:",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ))


class PackageFiles(StaticFiles):
    """The package's files, compressed when accepted (site.py's encoded_response), revalidated
    (a vendored copy is replaced in place when the app upgrades it)."""

    def file_response(self, full_path, stat_result, scope, status_code=200):
        if is_compressed_copy(str(full_path)):
            raise HTTPException(404)
        media_type = mimetypes.guess_type(str(full_path))[0] or "application/octet-stream"
        if str(full_path).endswith((".js", ".mjs")):
            media_type = "text/javascript; charset=utf-8"
        return encoded_response(str(full_path), stat_result, media_type, scope,
                                {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


class NotesServer:
    """The notes origin (see the module's docstring). ``gateway`` is the gateway's origin, as
    config.json gives it to the app and its CSP allows it."""

    def __init__(self, package_dir: pathlib.Path, gateway: str, port: int | None = None, example=EXAMPLE):
        from support.servers import free_port
        self.package_dir = pathlib.Path(package_dir)
        self.gateway = gateway.rstrip("/")
        self.example = pathlib.Path(example)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.csp = notes_csp(self.gateway)
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()
        self.server = None

    def _count(self, path: str) -> None:
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1

    def app(self):
        async def app_file(request):
            prefix, name = request.path_params.get("prefix", ""), request.path_params.get("name") or "index.html"
            if prefix not in APPS or name not in FILES:
                raise HTTPException(404)
            headers = {"Content-Security-Policy": self.csp, "Cache-Control": "no-cache",
                       "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
            return FileResponse(self.example / name, media_type=FILES[name], headers=headers)

        async def config(request):
            prefix = request.path_params.get("prefix", "")
            if prefix not in APPS:
                raise HTTPException(404)
            return JSONResponse({"gateway": self.gateway, "namespace": APPS[prefix]},
                                headers={"Cache-Control": "no-cache", "Content-Security-Policy": "default-src 'none'"})

        async def plain(request):
            return HTMLResponse(PLAIN_PAGE, headers=PLAIN_HEADERS)

        async def healthz(request):
            return Response("ok")

        async def dispatch(request):
            path = request.url.path
            for prefix in APPS:
                base = "/" + prefix
                if path.startswith(base) and "/" not in path[len(base):]:
                    name = path[len(base):]
                    request.path_params.update(prefix=prefix, name=name)
                    return await (config(request) if name == "config.json" else app_file(request))
            raise HTTPException(404)

        routes = [
            Route("/healthz", healthz),
            Route("/plain/", plain),
            Route("/other", lambda request: RedirectResponse("/other/")),
            Mount("/vendor/meshkit", app=PackageFiles(directory=str(self.package_dir))),
        ]
        routes.append(Route("/{rest:path}", dispatch))
        inner = Starlette(routes=routes)

        async def counting(scope, receive, send):
            if scope["type"] == "http":
                self._count(scope["path"])
            await inner(scope, receive, send)
        return counting

    def start(self) -> "NotesServer":
        from support.servers import ServerThread
        self.server = ServerThread(self.app(), port=self.port).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


class NotesGateway:
    """`meshkit serve`'s app (embedded provider, SQLite) on 127.0.0.1:<port>, accepting the
    notes origin (CORS) unless ``cors=False``; stop() and start() keep the port and data."""

    def __init__(self, data_dir: pathlib.Path, cors_origins: list[str]):
        from support.servers import free_port
        self.data_dir = pathlib.Path(data_dir)
        self.cors_origins = list(cors_origins)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = None

    def start(self) -> "NotesGateway":
        from meshkit_web.gateway.app import create_app
        from meshkit_web.gateway.config import GatewayConfig
        from meshkit_web.providers.embedded import EmbeddedProvider
        from support.servers import ServerThread
        config = GatewayConfig(data_dir=str(self.data_dir), cors_origins=self.cors_origins)
        self.server = ServerThread(create_app(config, EmbeddedProvider(str(self.data_dir / "blockstore"))),
                                   port=self.port).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def count(self, table: str, root: str) -> int:
        """Rows of ``table`` (pins, proofs, capsules ...) for ``root`` in the gateway's metadata."""
        with sqlite3.connect(self.data_dir / "metadata.db") as db:
            return db.execute(f"SELECT count(*) FROM {table} WHERE root = ?", (root,)).fetchone()[0]


def start_pair(package_dir: pathlib.Path, data_dir: pathlib.Path, cors: bool = True) -> tuple[NotesServer, NotesGateway]:
    """A notes server and its gateway (on two origins), both started."""
    from support.servers import free_port
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    gateway = NotesGateway(data_dir, [origin] if cors else []).start()
    server = NotesServer(package_dir, gateway.url, port=port).start()
    return server, gateway
