"""Device links sealed under a short code (FORMAT.md 11.5.1): opaque to the gateway, which
keeps each for the link's wait time only. The new device stores its sealed link under the
lookup id its code derives; the approving device, typing the code, fetches it. Lookups are
limited per identity and per address: a code is 50 bits, and must not be guessed online."""

import time

from fastapi import APIRouter, Path, Request
from limits import parse as parse_rate
from pydantic import BaseModel, Field

from ...core import codec
from ...core.errors import EnvelopeFormatError, InvalidArgumentError, MissingMetadataError
from ...core.short_code import LINK_WAIT, MAX_SEALED
from ..context import Gateway, client_address

LOOKUP = {"min_length": 22, "max_length": 22, "pattern": "^[A-Za-z0-9_-]+$"}


class LinkCodeWrite(BaseModel):
    data: str = Field(min_length=2, max_length=(MAX_SEALED * 4 + 2) // 3,
                      description="base64url of the sealed link (FORMAT.md 11.5.1)")


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["link-codes"])
    rate = parse_rate(gw.config.link_code_limit)

    @api.put("/v1/link-codes/{lookup}")
    async def put_link_code(body: LinkCodeWrite, lookup: str = Path(**LOOKUP), identity: str = gw.requires("mailbox")):
        """Keep the caller's sealed link for LINK_WAIT seconds (the gateway's clock)."""
        try:
            data = codec.b64d(body.data)
        except EnvelopeFormatError:
            raise InvalidArgumentError("a sealed link is base64url") from None
        if len(data) > MAX_SEALED:
            raise InvalidArgumentError(f"a sealed link is at most {MAX_SEALED} bytes")
        now = int(time.time())
        expires = now + int(LINK_WAIT)
        await gw.store.put_link_code(identity, lookup, data, expires, now, gw.config.link_codes_per_identity)
        return {"expires": expires}

    @api.get("/v1/link-codes/{lookup}")
    async def get_link_code(request: Request, lookup: str = Path(**LOOKUP), identity: str = gw.requires("mailbox")):
        """The sealed link under ``lookup``, while it lives."""
        await gw.limit(rate, "too many link codes tried", "link-code", identity)
        await gw.limit(rate, "too many link codes tried from this address", "link-code-addr", client_address(request))
        data = await gw.store.get_link_code(lookup, int(time.time()))
        if data is None:
            raise MissingMetadataError("no device link has that code here (mistyped, or expired)")
        return {"data": codec.b64e(data)}

    return api
