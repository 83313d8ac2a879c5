"""A FAKE Kubo: a Starlette stand-in for the subset of Kubo's RPC API that KuboProvider uses.

This is not Kubo and runs no IPFS code. It exists because no registry package this project
can install ships a runnable Kubo RPC server (see tests/providers/test_kubo_provider.py), so the
provider is tested against a fake whose answers follow Kubo's documentation
(https://docs.ipfs.tech/reference/kubo/rpc/) and, where the docs are silent, Kubo's source:
every status, header and error wording below was transcribed from ipfs/kubo at
v0.42.0-47-g867cdc5d8 (0.44.0-dev) and ipfs/go-ipfs-cmds at fce340ca, file named in each
comment. Nothing here was captured from a live node.

Modelled:
  * POST only: GET/HEAD/PUT/... on /api/v0/* answer 405 "405 - Method Not Allowed"
    (go-ipfs-cmds http/handler.go); an unknown command answers 404 "404 page not found";
    a missing required argument answers 400 `argument "cid" is required` (command.go).
  * Command errors: HTTP 500, JSON {"Message": ..., "Code": 0, "Type": "error"}
    (go-ipfs-cmds http/responseemitter.go sendErr, error.go MarshalJSON).
  * Blocks are keyed by multihash, as Kubo's blockstore is: a block put as raw can be
    stat'ed under a dag-cbor CID with the same digest.
  * The global ``timeout`` option: a command still running when it passes fails with
    "context deadline exceeded" (go-ipfs-cmds: the request context's deadline).
  * block/put: multipart body, cid-codec (default raw) or the deprecated format (which
    overrides a cid-codec of raw, and conflicts with any other), mhtype (default sha2-256), mhlen,
    pin, allow-big-block; answers {"Key", "Size"}; a block over 2 MiB is stored and then
    refused, as Kubo does (core/commands/block.go, cmdutils/utils.go CheckBlockSize).
  * block/get (application/vnd.ipld.raw), block/stat {"Key", "Size"}.
  * A block that is not held, with offline=true: 500 "block was not found locally
    (offline): ipld: could not find <cid>" (boxo exchange/offline; Kubo test/sharness
    t0054, t0080). Without offline=true an online node with no providers waits until the
    caller gives up: the fake waits ``online_wait`` seconds, then answers
    "context deadline exceeded".
  * pin/add (recursive by default) fetches the whole DAG: "pin: " + the not-found message
    for the first absent block (core/coreapi/pin.go); answers {"Pins": [...]}.
  * pin/rm: {"Pins": [...]}, or 500 "not pinned or pinned indirectly" (boxo pinner).
  * dag/export: CARv1, root in the header, blocks depth first, first-seen order, no
    duplicates (core/commands/dag/export.go, go-car TraverseV1). An absent root fails
    before any output (500); a block absent midway ends the stream early with the error
    announced in the X-Stream-Error trailer (which this server cannot send: the body is
    just truncated, which is what an HTTP client without trailer support sees).
  * version: {"Version", "Commit", "Repo", "System", "Golang"} (version.go).
  * API.Authorizations (core/corehttp/commands.go withAuthSecrets): when configured, a
    request whose Authorization header matches no AuthSecret, or whose path is outside the
    secret's AllowedPaths (version is always allowed), answers 403 "Kubo RPC Access
    Denied: ..." in plain text. Kubo answers 403 here, not 401.
  * GET /version outside the RPC (corehttp VersionOption): a readiness probe.

Every RPC call is recorded in ``calls`` (command, query parameters, headers) so tests can
check what the client sent.
"""

import asyncio
import base64
import json
from dataclasses import dataclass

from multiformats import CID, multicodec, multihash
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

import dag_cbor

from meshkit_web.core import car

VERSION = {"Version": "0.44.0-dev", "Commit": "", "Repo": "18", "System": "amd64/linux",
           "Golang": "go1.25.0"}
SOFT_BLOCK_LIMIT = 2 * 1024 * 1024  # core/commands/cmdutils/utils.go
BIG_BLOCK = ("produced block is over 2MiB: big blocks can't be exchanged with other peers. consider using "
             "UnixFS for automatic chunking of bigger files, or pass --allow-big-block to override")
ACCESS_DENIED = ("Kubo RPC Access Denied: Please provide a valid authorization token as defined in the "
                 "API.Authorizations configuration.")
NOT_PINNED = "not pinned or pinned indirectly"
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}   # Go's strconv.ParseBool
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def auth_header(secret: str) -> str:
    """Kubo's config.ConvertAuthSecret: "bearer:TOKEN", "basic:USER:PASS", "basic:B64" or
    a bare token -> the Authorization header value that unlocks it ("" if unknown type)."""
    kind, sep, value = secret.partition(":")
    if not sep:
        return "Bearer " + secret
    if kind == "basic":
        return "Basic " + (base64.b64encode(value.encode()).decode() if ":" in value else value)
    if kind == "bearer":
        return "Bearer " + value
    return ""


class RPCError(Exception):
    def __init__(self, message: str, status: int = 500):
        super().__init__(message)
        self.message, self.status = message, status


@dataclass
class Call:
    command: str
    params: dict[str, list[str]]
    headers: dict[str, str]


class FakeKubo:
    """State (blocks by multihash, recursive pins) and the ASGI app serving it."""

    def __init__(self, *, authorizations: dict[str, dict] | None = None, online_wait: float = 30.0):
        # authorizations: {"user": {"AuthSecret": "bearer:...", "AllowedPaths": ["/api/v0"]}}
        self.authorizations = {auth_header(a["AuthSecret"]): a.get("AllowedPaths", [])
                               for a in (authorizations or {}).values() if auth_header(a["AuthSecret"])}
        self.online_wait = online_wait
        self.blocks: dict[bytes, bytes] = {}    # multihash -> bytes
        self.pins: set[bytes] = set()           # multihashes of recursively pinned roots
        self.calls: list[Call] = []
        self.app = Starlette(routes=[
            Route("/api/v0/{command:path}", self._rpc,
                  methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
            Route("/version", self._version_page, methods=["GET"]),
        ])
        self._commands = {"block/put": self._block_put, "block/get": self._block_get,
                          "block/stat": self._block_stat, "pin/add": self._pin_add, "pin/rm": self._pin_rm,
                          "dag/export": self._dag_export, "version": self._version}

    # --- views for tests ----------------------------------------------------------------
    def has(self, cid: bytes) -> bool:
        return bytes(CID.decode(cid).digest) in self.blocks

    def is_pinned(self, cid: bytes) -> bool:
        return bytes(CID.decode(cid).digest) in self.pins

    def calls_to(self, command: str) -> list[Call]:
        return [c for c in self.calls if c.command == command]

    # --- HTTP layer ---------------------------------------------------------------------
    async def _version_page(self, request: Request) -> Response:
        return PlainTextResponse(f"Commit: {VERSION['Commit']}\nClient Version: kubo/{VERSION['Version']}/\n")

    async def _rpc(self, request: Request) -> Response:
        command = request.path_params["command"].strip("/")
        if self.authorizations:  # checked before anything else (withAuthSecrets wraps the handler)
            allowed = self.authorizations.get(request.headers.get("authorization", ""))
            if allowed is None or not (command == "version" or any(
                    request.url.path.startswith(prefix) for prefix in allowed)):
                return _text(ACCESS_DENIED, 403)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": "OPTIONS, POST"})
        if request.method != "POST":
            return _text("405 - Method Not Allowed", 405, {"Allow": "OPTIONS, POST"})
        params: dict[str, list[str]] = {}
        for key, value in request.query_params.multi_items():
            params.setdefault(key, []).append(value)
        self.calls.append(Call(command, params, dict(request.headers)))
        handler = self._commands.get(command)
        if handler is None:
            return _text("404 page not found", 404)
        try:
            if "timeout" in params:  # the global --timeout option: the command's context deadline
                try:
                    return await asyncio.wait_for(handler(request, params), _duration(params["timeout"][0]))
                except asyncio.TimeoutError:
                    raise RPCError("context deadline exceeded") from None
            return await handler(request, params)
        except RPCError as exc:
            if exc.status == 400:  # parse-time errors are plain text (http.Error)
                return _text(exc.message, 400)
            return JSONResponse({"Message": exc.message, "Code": 0, "Type": "error"}, status_code=exc.status,
                                headers={"Trailer": "X-Stream-Error"})

    # --- helpers --------------------------------------------------------------------------
    @staticmethod
    def _arg(params, name: str) -> str:
        if not params.get("arg"):
            raise RPCError(f'argument "{name}" is required', 400)
        return params["arg"][0]

    @staticmethod
    def _flag(params, name: str, default: bool) -> bool:
        if name not in params:
            return default
        value = params[name][0]
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        raise RPCError(f'Could not convert value "{value}" to type "bool" (for option "-{name}")', 400)

    @staticmethod
    def _cid(text: str) -> CID:
        path = text[len("/ipfs/"):] if text.startswith("/ipfs/") else text
        try:
            return CID.decode(path.split("/")[0])
        except Exception:
            raise RPCError(f'invalid path "{text}": invalid cid: selected encoding not supported') from None

    async def _load(self, cid: CID, offline: bool) -> bytes:
        data = self.blocks.get(bytes(cid.digest))
        if data is not None:
            return data
        if offline:
            raise RPCError(f"block was not found locally (offline): ipld: could not find {_enc(cid)}")
        await asyncio.sleep(self.online_wait)  # an online node with no providers: waits for the caller
        raise RPCError("context deadline exceeded")

    @staticmethod
    def _links(cid: CID, data: bytes) -> list[CID]:
        """Links of a DAG-CBOR block (tag 42) in document order; raw blocks have none."""
        if cid.codec.name != "dag-cbor":
            return []
        try:
            obj = dag_cbor.decode(data)
        except Exception as exc:
            raise RPCError(f"failed to decode dag-cbor block {_enc(cid)}: {type(exc).__name__}") from None
        found: list[CID] = []

        def visit(value):
            if isinstance(value, CID):
                found.append(value)
            elif isinstance(value, dict):
                for item in value.values():
                    visit(item)
            elif isinstance(value, list):
                for item in value:
                    visit(item)
        visit(obj)
        return found

    # --- commands ---------------------------------------------------------------------------
    async def _block_put(self, request: Request, params) -> Response:
        body = await request.body()
        kind = request.headers.get("content-type", "")
        if not kind.startswith("multipart/form-data") or "boundary=" not in kind:
            raise RPCError("file argument 'data' is required", 400)
        files = _multipart_files(body, kind.split("boundary=", 1)[1].strip('"'))
        if not files:
            raise RPCError("file argument 'data' is required", 400)
        codec = params.get("cid-codec", [""])[0]
        legacy = params.get("format", [""])[0]  # deprecated, still honoured (block.go, options/block.go)
        if legacy:
            if codec not in ("", "raw"):
                raise RPCError('unable to use "format" (deprecated) and a custom "cid-codec" at the same time')
            codec = {"v0": "dag-pb", "protobuf": "dag-pb", "cbor": "dag-cbor"}.get(legacy, legacy)
            if legacy == "v0":
                raise RPCError("CIDv0 puts are not modelled by this fake")
        codec = codec or "raw"
        mhtype = params.get("mhtype", ["sha2-256"])[0]
        mhlen = int(params.get("mhlen", ["-1"])[0])
        pin = self._flag(params, "pin", False)
        big = self._flag(params, "allow-big-block", False)
        try:
            codec_obj = multicodec.get(codec)
        except Exception:
            raise RPCError(f"unrecognized codec: {codec}") from None
        try:
            multihash.get(mhtype)
        except Exception:
            raise RPCError(f"unrecognized multihash function: {mhtype}") from None
        lines = []
        for data in files:
            digest = multihash.digest(data, mhtype, size=None if mhlen < 0 else mhlen)
            cid = CID("base32", 1, codec_obj, digest)
            self.blocks[bytes(cid.digest)] = data           # stored first ...
            if pin:
                self.pins.add(bytes(cid.digest))
            if len(data) > SOFT_BLOCK_LIMIT and not big:    # ... then the size is checked
                raise RPCError(BIG_BLOCK)
            lines.append(f'{{"Key":"{_enc(cid)}","Size":{len(data)}}}\n')
        return Response("".join(lines), media_type="application/json",
                        headers={"X-Chunked-Output": "1", "Trailer": "X-Stream-Error"})

    async def _block_get(self, request: Request, params) -> Response:
        cid = self._cid(self._arg(params, "cid"))
        data = await self._load(cid, self._flag(params, "offline", False))
        return Response(data, media_type="application/vnd.ipld.raw",
                        headers={"X-Stream-Output": "1", "Trailer": "X-Stream-Error"})

    async def _block_stat(self, request: Request, params) -> Response:
        cid = self._cid(self._arg(params, "cid"))
        data = await self._load(cid, self._flag(params, "offline", False))
        return _json({"Key": _enc(cid), "Size": len(data)})

    async def _pin_add(self, request: Request, params) -> Response:
        if not params.get("arg"):
            raise RPCError('argument "ipfs-path" is required', 400)
        offline = self._flag(params, "offline", False)
        recursive = self._flag(params, "recursive", True)
        added = []
        for text in params["arg"]:
            root = self._cid(text)
            try:
                await self._walk(root, offline, recursive)
            except RPCError as exc:
                raise RPCError("pin: " + exc.message) from None
            self.pins.add(bytes(root.digest))
            added.append(_enc(root))
        return _json({"Pins": added})

    async def _walk(self, root: CID, offline: bool, recursive: bool) -> list[tuple[CID, bytes]]:
        """Depth first, first-seen order, each block once (go-car TraverseV1 without dups)."""
        out, seen = [], set()

        async def visit(cid: CID):
            key = bytes(cid.digest), cid.codec.code
            if key in seen:
                return
            seen.add(key)
            data = await self._load(cid, offline)
            out.append((cid, data))
            if recursive:
                for link in self._links(cid, data):
                    await visit(link)
        await visit(root)
        return out

    async def _pin_rm(self, request: Request, params) -> Response:
        if not params.get("arg"):
            raise RPCError('argument "ipfs-path" is required', 400)
        removed = []
        for text in params["arg"]:
            root = self._cid(text)
            if bytes(root.digest) not in self.pins:
                raise RPCError(NOT_PINNED)
            self.pins.discard(bytes(root.digest))
            removed.append(_enc(root))
        return _json({"Pins": removed})

    async def _dag_export(self, request: Request, params) -> Response:
        root = self._cid(self._arg(params, "root"))
        offline = self._flag(params, "offline", False)
        await self._load(root, offline)  # "confirm the root block is available, fail fast if not"

        async def stream():
            yield car.encode_header([bytes(root)])
            seen, stack = set(), [root]
            while stack:
                cid = stack.pop()
                if (bytes(cid.digest), cid.codec.code) in seen:
                    continue
                seen.add((bytes(cid.digest), cid.codec.code))
                data = self.blocks.get(bytes(cid.digest))
                if data is None:  # Kubo: X-Stream-Error trailer; here: the body just ends
                    return
                yield car.frame_prefix(bytes(cid), len(data)) + data
                stack.extend(reversed(self._links(cid, data)))
        return StreamingResponse(stream(), media_type="application/vnd.ipld.car",
                                 headers={"X-Stream-Output": "1", "Trailer": "X-Stream-Error"})

    async def _version(self, request: Request, params) -> Response:
        return _json(VERSION)


def _duration(text: str) -> float:
    """A Go duration as the fake needs it: "1.5s", "300ms", "2m"."""
    for unit, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(unit):
            try:
                return float(text[:-len(unit)]) * scale
            except ValueError:
                break
    raise RPCError(f'Could not convert value "{text}" to type "duration" (for option "-timeout")', 400)


def _enc(cid: CID) -> str:
    """Kubo's default CID encoder: base32 for CIDv1, base58btc for CIDv0."""
    return cid.encode("base32") if cid.version == 1 else cid.encode("base58btc")


def _json(obj) -> Response:
    return Response(json.dumps(obj, separators=(",", ":")) + "\n", media_type="application/json",
                    headers={"Trailer": "X-Stream-Error"})


def _text(message: str, status: int, headers: dict | None = None) -> Response:
    # Go's http.Error: text/plain; charset=utf-8, nosniff, message plus a newline
    return Response(message + "\n", status_code=status, media_type="text/plain; charset=utf-8",
                    headers={"X-Content-Type-Options": "nosniff", **(headers or {})})


def _multipart_files(body: bytes, boundary: str) -> list[bytes]:
    """The bodies of a multipart/form-data message's parts (any field name, as boxo/files)."""
    files = []
    delimiter = b"--" + boundary.encode()
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        part = part[2:] if part.startswith(b"\r\n") else part
        head, sep, data = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        if b"application/x-directory" in head.lower():
            raise RPCError("expected a file")
        files.append(data[:-2] if data.endswith(b"\r\n") else data)
    return files
