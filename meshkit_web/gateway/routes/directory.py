"""The identity directory: self-signed public records, published by anyone (they verify
themselves), with new identities rate-limited per client address."""

from fastapi import APIRouter, Body, Path, Request

from ...core.errors import UnknownIdentityError
from ...core.identity import record_from_bytes, record_from_json
from ..context import Gateway


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["directory"])

    @api.post("/v1/directory", status_code=201)
    async def publish_identity(request: Request, record: dict = Body(
            ..., description="a self-signed public identity record (JSON)")):
        public = await record_from_json(gw.backend, record)
        if await gw.store.get_identity(public.id) is None:
            # identities are not free: each may store up to its quota
            await gw.limit_anonymous(request, "directory", "new identities")
        await gw.store.put_identity(public.id, public.to_bytes(), public.created)
        return {"id": public.id, "fingerprint": public.fingerprint}

    @api.get("/v1/directory/{ident}")
    async def resolve_identity(ident: str = Path(max_length=64)):
        record = await gw.store.get_identity(ident)
        if record is None:
            raise UnknownIdentityError(f"identity {ident} is not in the directory")
        return (await record_from_bytes(gw.backend, record)).to_json()

    return api
