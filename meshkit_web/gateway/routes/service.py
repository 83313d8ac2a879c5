"""Service routes: health, public facts, and the refusal of raw provider RPC."""

from fastapi import APIRouter

from ... import __version__
from ...core.auth import SCOPES
from ..context import Gateway
from ..http import error_response


def router(gw: Gateway) -> APIRouter:
    api = APIRouter()
    config = gw.config

    @api.get("/healthz", tags=["service"])
    async def healthz():
        return {"status": "ok", "provider": gw.provider.name, "metadata": gw.store.dialect}

    @api.get("/v1/info", tags=["service"])
    async def info():
        return {"version": __version__, "audience": config.audience, "scopes": list(SCOPES),
                "max_block_size": config.max_block_size, "max_message_size": config.max_message_size,
                "pin_quota": config.pin_quota, "storage_quota": config.storage_quota, "gc_grace": config.gc_grace,
                "provider": gw.provider.name, "token_ttl": config.token_ttl}

    @api.get("/v1/usage", tags=["service"])
    async def usage(identity: str = gw.requires("blocks:write")):
        """What the caller stores and may store, against both quotas: so a client can say
        "this file is 300 MB over your quota" before uploading any of it. ``gc_grace``: the
        seconds an unpinned block counts until it is collected (unless released)."""
        return {"stored": await gw.store.stored_bytes(identity), "storage_quota": config.storage_quota,
                "pinned": await gw.store.pinned_bytes(identity), "pin_quota": config.pin_quota,
                "gc_grace": config.gc_grace}

    @api.api_route("/api/v0/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"],
                   include_in_schema=False)
    async def refuse_rpc(rest: str):
        return error_response("forbidden", "raw provider RPC is not exposed by this gateway", 403)

    return api
