"""An identity's audit view: what was done with its token, and (separately, one counter per
kind) what anonymous callers tried against it. Nobody but the identity writes entries."""

from fastapi import APIRouter

from ..context import Gateway


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["audit"])

    @api.get("/v1/audit")
    async def audit_log(identity: str = gw.requires("audit")):
        return {"entries": await gw.store.audit_entries(identity),
                "anonymous": await gw.store.anonymous_counts(identity)}

    return api
