"""The gateway: an allow-list of routes over a block provider and the metadata store.

Trust (../shared/DESIGN.md): the gateway returns bytes for CIDs and keeps metadata; it
is not trusted with plaintext and never sees any. It recomputes the CID of every block
put through it, releases capsules only when not revoked, not expired and allowed by the
policy provider, and refuses everything else (in particular raw Kubo RPC).

Errors are JSON ``{"error": <stable code>, "message": ...}``; the codes are Core's error
codes, so clients rebuild the same typed errors (``core.errors.error_for_code``).
"""

import json
import logging
import os
import time
from contextlib import asynccontextmanager

from fastapi import Body, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from limits import parse as parse_rate
from limits.storage import storage_from_string
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..core import codec
from ..core.capsule import verify_capsule
from ..core.cid import DAG_CBOR, cid_bytes, cid_str, codec_of, parse_cid
from ..core.envelope import read_header
from ..core.errors import (AuthError, CIDMismatchError, EnvelopeFormatError, ExpiredError, ForbiddenError,
                           LimitExceededError, MeshKitError, MissingBlockError, MissingMetadataError,
                           QuotaExceededError, RateLimitedError, RevokedError, UnavailableError,
                           UnknownIdentityError)
from ..core.identity import record_from_bytes, record_from_json
from ..core.proof import verify_proof
from ..core.auth import challenge_message
from ..crypto.nacl_backend import NaclBackend
from ..providers.base import BlockProvider
from ..stores.metadata import MetadataStore
from .config import SCOPES, GatewayConfig
from .policy import PolicyClient
from .site import mount_site
from .tokens import TokenIssuer

log = logging.getLogger("meshkit.gateway")

STATUS = {  # error code -> HTTP status
    "malformed": 400, "cid_mismatch": 400, "bad_signature": 400, "identity_mismatch": 400,
    "unsupported_version": 400, "limit_exceeded": 413, "missing_block": 404, "missing_metadata": 404,
    "unknown_identity": 404, "unauthorized": 401, "forbidden": 403, "not_recipient": 403,
    "policy_denied": 403, "quota_exceeded": 403, "revoked": 410, "expired": 410, "conflict": 409,
    "rate_limited": 429, "policy_unavailable": 503, "unavailable": 502,
}
RAW_MEDIA = "application/vnd.ipld.raw"
CAR_MEDIA = "application/vnd.ipld.car"
CBOR_MEDIA = "application/cbor"
IMMUTABLE = "public, max-age=29030400, immutable"


def error_response(code: str, message: str, status: int | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status or STATUS.get(code, 400),
                        headers={"Cache-Control": "no-store"})


def binary_body(description: str, media: str = "application/octet-stream") -> dict:
    """OpenAPI for a route whose body is raw bytes (read from the request, size-capped)."""
    return {"requestBody": {"required": True, "description": description,
                            "content": {media: {"schema": {"type": "string", "format": "binary"}}}}}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it exceeds ``limit`` (never buffered beyond it)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise EnvelopeFormatError("bad Content-Length")
        if int(declared) > limit:
            raise LimitExceededError(f"body of {declared} bytes exceeds the {limit}-byte limit")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise LimitExceededError(f"body exceeds the {limit}-byte limit")
    return bytes(body)


# --- request/response models (they make the OpenAPI description) ---------------------

class ChallengeRequest(BaseModel):
    id: str = Field(min_length=1, max_length=64, description="identity id (published in the directory)")


class ChallengeResponse(BaseModel):
    challenge: str
    audience: str
    expires: int


class TokenRequest(BaseModel):
    challenge: str = Field(max_length=2048)
    signature: str = Field(max_length=128, description="base64url Ed25519 signature of core.auth.challenge_message")
    scopes: list[str] = Field(max_length=len(SCOPES))


class TokenResponse(BaseModel):
    token: str
    expires: int
    scopes: list[str]


class SyncWrite(BaseModel):
    # le: the next version (version + 1) must fit the metadata store's 32-bit INTEGER column;
    # larger values were a 500 (OverflowError / DataError) instead of a 422.
    version: int = Field(ge=0, le=(1 << 31) - 2,
                         description="the version the caller last read (0: the record must not exist)")
    data: str = Field(max_length=1 << 20, description="base64url of the client-encrypted record")


class BodyLimit:
    """ASGI middleware: no request body larger than ``limit`` bytes reaches any route, whether
    declared by Content-Length or streamed in chunks (JSON routes included)."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            return await error_response("limit_exceeded", f"request body over {self.limit} bytes", 413)(
                scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise LimitExceededError(f"request body over {self.limit} bytes")
            return message
        await self.app(scope, counted, send)


def create_app(config: GatewayConfig, provider: BlockProvider, metadata: MetadataStore | None = None) -> FastAPI:
    """The ASGI app. ``metadata`` defaults to the store named by the config."""
    if not config.token_key:
        config.load_secrets()
    store = metadata or MetadataStore(config.metadata)
    issuer = TokenIssuer(config.token_key, config.audience, config.token_ttl, config.challenge_ttl)
    backend = NaclBackend()
    limiter = MovingWindowRateLimiter(storage_from_string("async+" + config.rate_limit_storage))
    rate = parse_rate(config.rate_limit)

    @asynccontextmanager
    async def lifespan(app):
        await store.start()
        await provider.start()
        app.state.policy = PolicyClient(config.policy_url, config.policy_timeout)
        log.info("gateway ready: provider=%s metadata=%s", provider.name, store.dialect)
        try:
            yield
        finally:
            await app.state.policy.close()
            await provider.close()
            await store.close()

    app = FastAPI(title="MeshKit gateway", version=__version__, lifespan=lifespan,
                  description="Restricted gateway: block puts, trustless reads, pins, metadata. "
                              "Nothing else; raw provider RPC is refused.")
    # the largest legitimate body is one block; JSON bodies are far smaller
    app.add_middleware(BodyLimit, limit=config.max_block_size + 4096)
    if config.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=config.cors_origins, allow_credentials=False,
                           allow_methods=["GET", "HEAD", "PUT", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Accept"],
                           expose_headers=["ETag", "X-Ipfs-Roots"], max_age=600)

    @app.exception_handler(MeshKitError)
    async def meshkit_error(request: Request, exc: MeshKitError):
        return error_response(exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors()})
        return error_response("malformed", "invalid request: " + ", ".join(fields), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        return error_response(code.get(exc.status_code, "http_error"), str(exc.detail), exc.status_code)

    # --- auth ------------------------------------------------------------------------

    def requires(scope: str):
        async def check(request: Request) -> str:
            header = request.headers.get("authorization", "")
            if not header.lower().startswith("bearer "):
                raise AuthError("a capability token is required (Authorization: Bearer ...)")
            identity = issuer.verify(header[7:].strip(), scope)
            if not await limiter.hit(rate, identity):
                raise RateLimitedError(f"rate limit {config.rate_limit} exceeded for {identity}")
            return identity
        return Depends(check)

    async def audit(identity, action, target, outcome="ok"):
        await store.audit(identity, action, target, outcome)

    @app.get("/healthz", tags=["service"])
    async def healthz():
        return {"status": "ok", "provider": provider.name, "metadata": store.dialect}

    @app.get("/v1/info", tags=["service"])
    async def info():
        return {"version": __version__, "audience": config.audience, "scopes": list(SCOPES),
                "max_block_size": config.max_block_size, "max_message_size": config.max_message_size,
                "pin_quota": config.pin_quota, "provider": provider.name,
                "token_ttl": config.token_ttl}

    @app.post("/v1/auth/challenge", tags=["auth"], response_model=ChallengeResponse)
    async def auth_challenge(body: ChallengeRequest):
        if await store.get_identity(body.id) is None:
            raise UnknownIdentityError(f"identity {body.id} is not published in the directory")
        challenge, expires = issuer.challenge(body.id)
        return {"challenge": challenge, "audience": config.audience, "expires": expires}

    @app.post("/v1/auth/token", tags=["auth"], response_model=TokenResponse)
    async def auth_token(body: TokenRequest):
        claims = issuer.check_challenge(body.challenge)
        unknown = set(body.scopes) - set(SCOPES)
        if unknown or not body.scopes:
            raise ForbiddenError("unknown or empty scopes requested")
        record = await store.get_identity(claims["sub"])
        if record is None:
            raise UnknownIdentityError(f"identity {claims['sub']} is not published in the directory")
        public = await record_from_bytes(backend, record)
        signature = codec.b64d(body.signature)
        message = challenge_message(config.audience, body.challenge)
        if len(signature) != 64 or not await backend.ed25519_verify(public.sig_key, message, signature):
            await audit(public.id, "auth.token", None, "bad_signature")
            raise AuthError("challenge signature does not verify")
        if not await store.use_challenge(claims["jti"], claims["exp"]):
            raise AuthError("challenge was already answered")
        token, expires = issuer.issue(public.id, body.scopes)
        await audit(public.id, "auth.token", " ".join(sorted(body.scopes)))
        return {"token": token, "expires": expires, "scopes": sorted(set(body.scopes))}

    # --- identity directory ----------------------------------------------------------

    @app.post("/v1/directory", tags=["directory"], status_code=201)
    async def publish_identity(record: dict = Body(..., description="a self-signed public identity record (JSON)")):
        public = await record_from_json(backend, record)
        await store.put_identity(public.id, public.to_bytes(), public.created)
        await audit(public.id, "directory.publish", public.id)
        return {"id": public.id, "fingerprint": public.fingerprint}

    @app.get("/v1/directory/{ident}", tags=["directory"])
    async def resolve_identity(ident: str = Path(max_length=64)):
        record = await store.get_identity(ident)
        if record is None:
            raise UnknownIdentityError(f"identity {ident} is not in the directory")
        return (await record_from_bytes(backend, record)).to_json()

    # --- blocks ----------------------------------------------------------------------

    @app.put("/v1/blocks/{cid}", tags=["blocks"], status_code=201,
             openapi_extra=binary_body("the block's bytes; the gateway recomputes the CID"))
    async def put_block(request: Request, cid: str, identity: str = requires("blocks:write")):
        binary = parse_cid(cid)
        data = await read_body(request, config.max_block_size)
        if cid_bytes(codec_of(binary), data) != binary:
            await audit(identity, "block.put", cid, "cid_mismatch")
            raise CIDMismatchError(f"the body does not hash to {cid}")
        await provider.put(binary, data)
        return {"cid": cid_str(binary), "size": len(data)}

    def wants(request: Request, format_: str | None) -> str | None:
        if format_ in ("raw", "car"):
            return format_
        if format_ is not None:
            return "bad"
        accept = request.headers.get("accept", "")
        if RAW_MEDIA in accept:
            return "raw"
        if CAR_MEDIA in accept:
            return "car"
        return None

    read_doc = {"responses": {200: {"content": {RAW_MEDIA: {}, CAR_MEDIA: {}}}}, "tags": ["trustless gateway"]}

    @app.get("/ipfs/{cid}", **read_doc)
    async def trustless_get(request: Request, cid: str = Path(max_length=200),
                            format: str | None = Query(None, pattern="^(raw|car)$")):
        """Trustless gateway reads (https://specs.ipfs.tech/http-gateways/trustless-gateway/):
        a single raw block or a CAR of the whole DAG. Deserialized responses are not offered."""
        return await trustless_read(request, cid, format)

    @app.head("/ipfs/{cid}", **read_doc)
    async def trustless_head(request: Request, cid: str = Path(max_length=200),
                             format: str | None = Query(None, pattern="^(raw|car)$")):
        return await trustless_read(request, cid, format)

    async def trustless_read(request: Request, cid: str, format: str | None):
        binary = parse_cid(cid)
        kind = wants(request, format)
        if kind is None:
            return error_response("not_acceptable", f"ask for {RAW_MEDIA} or {CAR_MEDIA} (format=raw|car)", 406)
        name = cid_str(binary)
        etag = f'"{name}.{kind}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag, "Cache-Control": IMMUTABLE})
        common = {"ETag": etag, "Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff",
                  "X-Ipfs-Roots": name}
        if kind == "raw":
            size = await provider.size(binary)
            if size is None:
                raise MissingBlockError(f"block {name} is not stored")
            headers = {**common, "Content-Disposition": f'attachment; filename="{name}.bin"'}
            if request.method == "HEAD":
                return Response(headers={**headers, "Content-Length": str(size)}, media_type=RAW_MEDIA)
            return Response(await provider.get(binary), headers=headers, media_type=RAW_MEDIA)
        await provider.check_complete(binary)  # fail with 404 before streaming, not midway
        headers = {**common, "Content-Disposition": f'attachment; filename="{name}.car"'}
        media = CAR_MEDIA + "; version=1; order=dfs; dups=n"
        if request.method == "HEAD":
            return Response(headers=headers, media_type=media)
        return StreamingResponse(provider.export_car(binary), headers=headers, media_type=media)

    # --- pins --------------------------------------------------------------------------

    async def own_root(identity: str, cid: str) -> bytes:
        """A root the caller may pin: an envelope header it signed as sender."""
        binary = parse_cid(cid)
        if codec_of(binary) != DAG_CBOR:
            raise ForbiddenError("only envelope roots (DAG-CBOR headers) can be pinned")
        header = await read_header(backend, binary, provider.get)
        if header.sender_id != identity:
            raise ForbiddenError(f"{cid_str(binary)} was sealed by {header.sender_id}, not by {identity}")
        return binary

    @app.post("/v1/pins/{cid}", tags=["pins"], status_code=201)
    async def pin(cid: str, identity: str = requires("pins")):
        binary = await own_root(identity, cid)
        size = await provider.dag_size(binary)
        recorded = await store.add_pin(identity, cid_str(binary), size, config.pin_quota)
        if recorded is None:
            await audit(identity, "pin.add", cid_str(binary), "quota_exceeded")
            raise QuotaExceededError(f"pinning {size} more bytes exceeds the {config.pin_quota}-byte quota")
        try:
            await provider.pin(binary)
        except BaseException:
            if recorded == "added":  # the provider has no pin: do not charge the quota for one
                await store.remove_pin(identity, cid_str(binary))
            raise
        await audit(identity, "pin.add", cid_str(binary))
        return {"root": cid_str(binary), "size": size, "pinned_bytes": await store.pinned_bytes(identity)}

    @app.delete("/v1/pins/{cid}", tags=["pins"], status_code=204)
    async def unpin(cid: str, identity: str = requires("pins")):
        binary = parse_cid(cid)
        root = cid_str(binary)
        if not any(pin["root"] == root for pin in await store.list_pins(identity)):
            raise MissingMetadataError(f"{identity} has no pin on {root}")
        # The provider's pin goes first: if the provider is down, the record (and the quota
        # charge) stays, so the caller can retry, and no provider pin is left untracked.
        if await store.pin_count(root) == 1:
            await provider.unpin(binary)
        await store.remove_pin(identity, root)
        if await store.pin_count(root) > 0:  # someone pinned it meanwhile: keep it pinned
            await provider.pin(binary)
        await audit(identity, "pin.remove", cid_str(binary))
        return Response(status_code=204)

    @app.get("/v1/pins", tags=["pins"])
    async def list_pins(identity: str = requires("pins")):
        return {"pins": await store.list_pins(identity), "quota": config.pin_quota,
                "pinned_bytes": await store.pinned_bytes(identity)}

    # --- capsules (shares) ------------------------------------------------------------

    @app.post("/v1/capsules", tags=["capsules"], status_code=201,
              openapi_extra=binary_body("a signed capsule (DAG-CBOR)", CBOR_MEDIA))
    async def put_capsule(request: Request, identity: str = requires("capsules")):
        data = await read_body(request, config.max_message_size)
        capsule = await verify_capsule(backend, data)
        if capsule.sharer_id != identity:
            raise ForbiddenError("a capsule can only be stored by its sharer")
        cid, root = cid_str(capsule.cid), cid_str(capsule.root)
        await store.put_capsule(cid, root, identity, capsule.recipient, capsule.expires, capsule.policy, data)
        notice = {"root": root, "capsule": cid, "sharer": identity, "expires": capsule.expires,
                  "policy": capsule.policy}
        await store.post_message(capsule.recipient, identity, "share", json.dumps(notice).encode())
        await audit(identity, "capsule.put", cid)
        return {"cid": cid, "root": root, "recipient": capsule.recipient}

    @app.get("/v1/capsules", tags=["capsules"])
    async def find_capsules(root: str | None = Query(None, max_length=200), role: str = Query(
            "recipient", pattern="^(recipient|sharer)$"), identity: str = requires("capsules")):
        root_text = cid_str(parse_cid(root)) if root else None
        found = await store.find_capsules(root=root_text, **{role: identity})
        return {"capsules": found}

    @app.post("/v1/capsules/{cid}/release", tags=["capsules"],
              responses={200: {"content": {CBOR_MEDIA: {}}}})
    async def release_capsule(cid: str, identity: str = requires("capsules")):
        """The capsule's bytes, only for its recipient, only if not revoked, not expired and
        (for policy-gated shares) allowed by the policy provider. Checked at every open."""
        name = cid_str(parse_cid(cid))
        row = await store.get_capsule(name)
        if row is None:
            raise MissingMetadataError(f"no capsule {name}")
        if row["recipient"] != identity:
            raise ForbiddenError("a capsule is released only to its recipient")
        outcome = "ok"
        try:
            if row["revoked"]:
                raise RevokedError(f"the share {name} of {row['root']} was revoked")
            if row["expires"] is not None and time.time() >= row["expires"]:
                raise ExpiredError(f"the share {name} of {row['root']} expired")
            if row["policy"]:
                await app.state.policy.require_allow(row["policy"], root=row["root"], capsule=name,
                                                     sharer=row["sharer"], recipient=identity)
        except MeshKitError as exc:
            outcome = exc.code
            raise
        finally:
            await audit(identity, "capsule.release", name, outcome)
        return Response(row["data"], media_type=CBOR_MEDIA, headers={"Cache-Control": "no-store"})

    @app.delete("/v1/capsules/{cid}", tags=["capsules"], status_code=204)
    async def revoke_capsule(cid: str, identity: str = requires("capsules")):
        name = cid_str(parse_cid(cid))
        row = await store.get_capsule(name)
        if row is None:
            raise MissingMetadataError(f"no capsule {name}")
        if row["sharer"] != identity:
            raise ForbiddenError("only the sharer can revoke a capsule")
        await store.revoke_capsule(name)
        await audit(identity, "capsule.revoke", name)
        return Response(status_code=204)

    # --- proofs ------------------------------------------------------------------------

    @app.post("/v1/proofs", tags=["proofs"], status_code=201,
              openapi_extra=binary_body("a signed proof (DAG-CBOR)", CBOR_MEDIA))
    async def put_proof(request: Request, identity: str = requires("proofs")):
        proof = await verify_proof(backend, await read_body(request, config.max_message_size))
        if proof.signer_id != identity:
            raise ForbiddenError("a proof can only be stored by its signer")
        await store.put_proof(cid_str(proof.cid), cid_str(proof.root), identity, proof.data)
        await audit(identity, "proof.put", cid_str(proof.cid))
        return {"cid": cid_str(proof.cid), "statement": proof.statement}

    @app.get("/v1/proofs", tags=["proofs"])
    async def find_proofs(root: str = Query(max_length=200), identity: str = requires("proofs")):
        return {"proofs": await store.find_proofs(cid_str(parse_cid(root)))}

    @app.get("/v1/proofs/{cid}", tags=["proofs"], responses={200: {"content": {CBOR_MEDIA: {}}}})
    async def get_proof(cid: str, identity: str = requires("proofs")):
        data = await store.get_proof(cid_str(parse_cid(cid)))
        if data is None:
            raise MissingMetadataError(f"no proof {cid}")
        return Response(data, media_type=CBOR_MEDIA)

    # --- mailboxes ---------------------------------------------------------------------

    @app.post("/v1/mailbox/{recipient}", tags=["mailbox"], status_code=201,
              openapi_extra=binary_body("a message sealed to the recipient (opaque bytes)"))
    async def post_message(request: Request, recipient: str = Path(max_length=64),
                           kind: str = Query("message", pattern="^[a-z][a-z0-9-]{0,31}$"),
                           identity: str = requires("mailbox")):
        if await store.get_identity(recipient) is None:
            raise UnknownIdentityError(f"identity {recipient} is not in the directory")
        if kind == "share":
            raise ForbiddenError("share notices are posted by the gateway when a capsule is stored")
        body = await read_body(request, config.max_message_size)
        message_id = await store.post_message(recipient, identity, kind, body)
        await audit(identity, "mailbox.post", recipient)
        return {"id": message_id}

    @app.get("/v1/mailbox", tags=["mailbox"])
    async def list_messages(all: bool = False, identity: str = requires("mailbox")):
        return {"messages": await store.list_messages(identity, include_acked=all)}

    @app.get("/v1/mailbox/{message_id}", tags=["mailbox"],
             responses={200: {"content": {"application/octet-stream": {}}}})
    async def get_message(message_id: str = Path(max_length=36), identity: str = requires("mailbox")):
        row = await store.get_message(identity, message_id)
        if row is None:
            raise MissingMetadataError(f"no message {message_id} for {identity}")
        return Response(row["body"], media_type="application/octet-stream",
                        headers={"X-Meshkit-Sender": row["sender"], "X-Meshkit-Kind": row["kind"]})

    @app.delete("/v1/mailbox/{message_id}", tags=["mailbox"], status_code=204)
    async def ack_message(message_id: str = Path(max_length=36), identity: str = requires("mailbox")):
        if not await store.ack_message(identity, message_id):
            raise MissingMetadataError(f"no message {message_id} for {identity}")
        return Response(status_code=204)

    # --- sync records -------------------------------------------------------------------

    @app.get("/v1/sync/{name}", tags=["sync"])
    async def get_sync(name: str = Path(max_length=128, pattern="^[A-Za-z0-9._-]+$"),
                       identity: str = requires("sync")):
        row = await store.get_sync(identity, name)
        if row is None:
            raise MissingMetadataError(f"no sync record {name!r}")
        return {"version": row["version"], "data": codec.b64e(row["data"]), "updated": row["updated"]}

    @app.put("/v1/sync/{name}", tags=["sync"])
    async def put_sync(body: SyncWrite, name: str = Path(max_length=128, pattern="^[A-Za-z0-9._-]+$"),
                       identity: str = requires("sync")):
        version = await store.put_sync(identity, name, body.version, codec.b64d(body.data))
        await audit(identity, "sync.put", name)
        return {"version": version}

    # --- audit ---------------------------------------------------------------------------

    @app.get("/v1/audit", tags=["audit"])
    async def audit_log(identity: str = requires("audit")):
        return {"entries": await store.audit_entries(identity)}

    # --- refused: raw provider RPC ------------------------------------------------------

    @app.api_route("/api/v0/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"],
                   include_in_schema=False)
    async def refuse_rpc(rest: str):
        return error_response("forbidden", "raw provider RPC is not exposed by this gateway", 403)

    if config.site_dir:
        mount_site(app, config.site_dir)

    app.state.config = config
    app.state.store = store
    app.state.provider = provider
    return app
