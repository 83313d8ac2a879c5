"""Passkey wraps of accounts' recovery secrets (FORMAT.md 11.8): opaque to the gateway, which
only checks their shape and whose they are. A current device of the account stores, lists
and removes them (a token with the ``sync`` scope, as for the account's other shared state);
anyone may fetch one by its lookup id, which only the passkey's PRF output gives: limited
per address, answering the wrap alone."""

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from ...core import codec
from ...core.errors import EnvelopeFormatError, ForbiddenError, MissingMetadataError
from ...core.passkey import MAX_CREDENTIAL_ID, MAX_WRAP, parse_wrap
from ..context import Gateway

LOOKUP = {"min_length": 22, "max_length": 22, "pattern": "^[A-Za-z0-9_-]+$"}
CREDENTIAL_TEXT = (MAX_CREDENTIAL_ID * 4 + 2) // 3  # base64url of the longest credential id


class PasskeyWrite(BaseModel):
    credential: str = Field(min_length=2, max_length=CREDENTIAL_TEXT, description="base64url of the credential id")
    data: str = Field(max_length=(MAX_WRAP * 4 + 2) // 3, description="base64url of the wrap (FORMAT.md 11.8)")


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["passkeys"])

    @api.put("/v1/passkeys/{lookup}")
    async def put_passkey(body: PasskeyWrite, lookup: str = Path(**LOOKUP), identity: str = gw.requires("sync")):
        """Store a wrap of the caller's account: it must name that account and the credential
        given. The same credential again replaces its wrap; at most passkeys_per_account."""
        account = await gw.current_account(identity)
        wrap = parse_wrap(codec.b64d(body.data))
        if wrap.account != account or codec.b64e(wrap.credential) != body.credential:
            raise ForbiddenError("a passkey wrap is stored for its own account and credential only")
        await gw.store.put_passkey(account, lookup, body.credential, wrap.data, gw.config.passkeys_per_account)
        await gw.audit(identity, "passkey.put", body.credential[:32])
        return {"credential": body.credential, "created": wrap.created}

    @api.get("/v1/passkeys")
    async def list_passkeys(identity: str = gw.requires("sync")):
        """The passkeys of the caller's account: credential ids and when they were stored."""
        return {"passkeys": await gw.store.list_passkeys(await gw.current_account(identity))}

    @api.get("/v1/passkeys/{lookup}")
    async def get_passkey(request: Request, lookup: str = Path(**LOOKUP)):
        """The wrap stored under ``lookup``, to whoever holds the passkey (no token: the
        browser recovering has no device of the account yet)."""
        await gw.limit_anonymous(request, "passkeys", "passkey lookups")
        data = await gw.store.get_passkey(lookup)
        if data is None:
            raise MissingMetadataError("no passkey recovery record under that id")
        return {"data": codec.b64e(data)}

    @api.delete("/v1/passkeys")
    async def delete_passkey(credential: str = Query(min_length=2, max_length=CREDENTIAL_TEXT),
                             identity: str = gw.requires("sync")):
        account = await gw.current_account(identity)
        try:
            codec.b64d(credential)
        except EnvelopeFormatError:
            raise MissingMetadataError("no passkey of this account has that credential id") from None
        if not await gw.store.delete_passkey(account, credential):
            raise MissingMetadataError("no passkey of this account has that credential id")
        await gw.audit(identity, "passkey.delete", credential[:32])
        return {"removed": credential}

    return api
