"""HTTP plumbing shared by every route family: error bodies, bounded request bodies,
typed errors for anything that goes wrong (never a traceback, never a 500 for bad input).

Errors are JSON ``{"error": <stable code>, "message": ...}``; the codes are Core's error
codes, so clients rebuild the same typed errors (``core.errors.error_for_code``).
"""

import errno
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.errors import EnvelopeFormatError, LimitExceededError, MeshKitError, registry

log = logging.getLogger("meshkit.gateway")

STATUS = {code: entry["status"] for code, entry in registry().items()}  # error code -> HTTP status
RAW_MEDIA = "application/vnd.ipld.raw"
CBOR_MEDIA = "application/cbor"
UNAVAILABLE_RETRY_AFTER = 10  # seconds: what a retryable 5xx (a service down or slow, storage full) tells clients
BUSY_RETRY_AFTER = 1  # seconds: what a busy database tells clients
DATABASE_RETRY_AFTER = 3  # seconds: what an unreachable database tells clients (a restart takes a few)
CID_TEXT_MAX = 320  # the longest text form of a CID we accept (base2 of a 36-byte CIDv1 is 289)
IMMUTABLE = "public, max-age=29030400, immutable"


# The registry's code for an HTTP error Starlette or FastAPI raise themselves (no route for a
# path, a method the route does not take, a body that does not parse): every code a reply
# carries is in core.errors.registry() (tests/test_error_codes.py checks these).
HTTP_EXCEPTION_CODES = {400: "malformed", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                        405: "method_not_allowed", 406: "not_acceptable", 409: "conflict",
                        413: "limit_exceeded", 429: "rate_limited", 502: "unavailable", 503: "unavailable",
                        504: "provider_timeout"}


def http_exception_code(status: int) -> str:
    """The code for an HTTP error status: its own (HTTP_EXCEPTION_CODES), else
    ``invalid_argument`` for any other 4xx and ``internal`` for a 5xx."""
    return HTTP_EXCEPTION_CODES.get(status, "invalid_argument" if status < 500 else "internal")


def error_response(code: str, message: str, status: int | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status or STATUS.get(code, 400),
                        headers={"Cache-Control": "no-store"})


def binary_body(description: str, media: str = "application/octet-stream") -> dict:
    """OpenAPI for a route whose body is raw bytes (read from the request, size-capped)."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {media: {"schema": {"type": "string", "format": "binary"}}}}}


def _check_declared(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or len(declared) > 18:
            raise EnvelopeFormatError("bad Content-Length")
        if int(declared) > limit:
            raise LimitExceededError(f"body of {declared} bytes exceeds the {limit}-byte limit")


async def bounded_stream(request: Request, limit: int):
    """The request body's chunks as they arrive, refused as soon as they exceed ``limit``."""
    _check_declared(request, limit)
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise LimitExceededError(f"body exceeds the {limit}-byte limit")
        yield chunk


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it exceeds ``limit`` (never buffered beyond it)."""
    body = bytearray()
    async for chunk in bounded_stream(request, limit):
        body += chunk
    return bytes(body)


class BodyLimit:
    """ASGI middleware: no request body larger than ``limit`` bytes reaches any route, whether
    declared by Content-Length or streamed in chunks (JSON routes included); the routes in
    ``larger`` ({path: limit}, exact paths) may take more."""

    def __init__(self, app, limit: int, larger: dict[str, int] | None = None):
        self.app = app
        self.limit = limit
        self.larger = larger or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.larger.get(scope.get("path", ""), self.limit)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or len(declared) > 18 or int(declared) > limit):
            return await error_response("limit_exceeded", f"request body over {limit} bytes", 413)(
                scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise LimitExceededError(f"request body over {limit} bytes")
            return message
        await self.app(scope, counted, send)


# Expected database faults, by SQLSTATE (PostgreSQL) or message (SQLite, drivers without one):
BUSY_STATES = ("40001", "40P01", "55P03")  # serialization failure, deadlock, lock not available
BUSY_WORDS = ("locked", "busy", "deadlock", "lock timeout", "could not serialize")
DOWN_STATES = ("08", "57P", "53300")  # connection exception; shut down / cannot connect now; too many connections
FULL_STATES = ("53100",)  # disk full
OS_FAULTS = {errno.ENOSPC: "storage_full", errno.EDQUOT: "storage_full",  # the gateway's own disk
             errno.EIO: "unavailable", errno.EROFS: "unavailable",        # a failing or read-only disk
             errno.EMFILE: "busy", errno.ENFILE: "busy"}                  # out of file descriptors under load
FULL_WORDS = ("database or disk is full", "no space left")
STORAGE_FULL_RETRY_AFTER = 60  # seconds: an operator has to free space; reads go on meanwhile
FAULT_REPLIES = {  # kind -> (code, message, HTTP status, Retry-After)
    "busy": ("busy", "the gateway's database is busy: nothing was changed, try again", 503, BUSY_RETRY_AFTER),
    "unavailable": ("unavailable", "the gateway's database cannot be reached right now: try again", 503,
                    DATABASE_RETRY_AFTER),
    "storage_full": ("storage_full", "the gateway's storage is full: nothing was changed, try again later", 507,
                     STORAGE_FULL_RETRY_AFTER),
}


def database_fault_kind(exc: BaseException) -> str | None:
    """'busy' (contention: the transaction was rolled back), 'unavailable' (the database is
    down, restarting, the connection broke, or no pooled connection came free in time),
    'storage_full' (the disk under it is full), or None for anything else (a bug: 'internal')."""
    if isinstance(exc, (PoolTimeout, ConnectionError, TimeoutError)):  # a connect refused or timed out
        return "unavailable"
    if isinstance(exc, OSError):
        return OS_FAULTS.get(exc.errno)
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    state = str(getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None) or "")
    if state in FULL_STATES or any(word in str(orig).lower() for word in FULL_WORDS):
        return "storage_full"
    if state in BUSY_STATES or any(word in str(orig).lower() for word in BUSY_WORDS):
        return "busy"
    cause = getattr(orig, "__cause__", None)
    if exc.connection_invalidated or state.startswith(DOWN_STATES) or isinstance(cause, (OSError, TimeoutError)):
        return "unavailable"
    return None


def install_error_handlers(app: FastAPI) -> None:
    """Every failure becomes a typed JSON error. Expected faults (a database down or busy, a
    full disk) are typed and retryable, with Retry-After (FAULT_REPLIES); bad input that slips
    past validation into the database (a value out of a column's range) is a 400; anything
    else is 'internal', logged by type only (a message or traceback could quote request data)."""

    @app.exception_handler(MeshKitError)
    async def meshkit_error(request: Request, exc: MeshKitError):
        reply = error_response(exc.code, exc.message)
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is None and exc.retryable and exc.status >= 500:  # a fault that passes: storage, a service down
            retry_after = FAULT_REPLIES[exc.code][3] if exc.code in FAULT_REPLIES else UNAVAILABLE_RETRY_AFTER
        if retry_after is not None:  # RFC 9110 10.2.3: when to come back (clients pace on it)
            reply.headers["Retry-After"] = str(retry_after)
        return reply

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
        return error_response("malformed", "invalid request: " + ", ".join(fields)[:300], 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        reply = error_response(http_exception_code(exc.status_code), str(exc.detail)[:300], exc.status_code)
        for name, value in (exc.headers or {}).items():  # a 405's Allow, a 401's WWW-Authenticate
            reply.headers.setdefault(name, value)
        return reply

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(OSError)  # ConnectionError and TimeoutError among them
    async def expected_fault(request: Request, exc: Exception):
        # the transaction did not commit (rolled back or never begun), nothing was stored:
        # the same request may come again, when Retry-After says
        kind = database_fault_kind(exc)
        if kind in FAULT_REPLIES:
            code, message, status, retry_after = FAULT_REPLIES[kind]
            reply = error_response(code, message, status)
            reply.headers["Retry-After"] = str(retry_after)
            return reply
        log.error("internal error on %s %s (%s)", request.method, getattr(request.scope.get("route"), "path", "?"),
                  type(getattr(exc, "orig", None) or exc).__name__)
        return error_response("internal", "the gateway failed to handle this request", 500)

    @app.exception_handler(DataError)
    @app.exception_handler(IntegrityError)
    @app.exception_handler(OverflowError)
    @app.exception_handler(ValueError)
    async def out_of_range(request: Request, exc: Exception):
        return error_response("malformed", "a value is out of the accepted range", 400)



class InternalErrors:
    """ASGI middleware, innermost: an exception no handler claimed becomes a typed 500 JSON
    ('internal'), logged by type and route only. (Starlette's own last-resort handler
    re-raises, and the server then logs a traceback that can quote request data.)"""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)
        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # noqa: BLE001 - the one place that turns anything into a typed reply
            route = scope.get("route")
            log.error("internal error on %s %s (%s)", scope.get("method"), getattr(route, "path", "?"),
                      type(exc).__name__)
            if not started:
                await error_response("internal", "the gateway failed to handle this request", 500)(
                    scope, receive, send)
