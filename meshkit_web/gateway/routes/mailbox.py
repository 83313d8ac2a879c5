"""Mailboxes: opaque messages to an identity; share notices are posted by the gateway."""

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ...core.errors import ForbiddenError, MissingMetadataError, UnknownIdentityError
from ..context import Gateway
from ..http import binary_body, read_body


GATEWAY_NOTICES = ("share", "sealed")  # a capsule stored; an envelope sealed to the recipient


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["mailbox"])
    store = gw.store

    @api.post("/v1/mailbox/{recipient}", status_code=201,
              openapi_extra=binary_body("a message sealed to the recipient (opaque bytes)"))
    async def post_message(request: Request, recipient: str = Path(max_length=64),
                           kind: str = Query("message", pattern="^[a-z][a-z0-9-]{0,31}$"),
                           identity: str = gw.requires("mailbox")):
        if await store.get_identity(recipient) is None:
            raise UnknownIdentityError(f"identity {recipient} is not in the directory")
        if kind in GATEWAY_NOTICES:
            raise ForbiddenError(f"{kind} notices are posted by the gateway itself")
        body = await read_body(request, gw.config.max_message_size)
        message_id = await store.post_message(recipient, identity, kind, body, gw.config.storage_quota)
        await gw.audit(identity, "mailbox.post", recipient)
        return {"id": message_id}

    async def mailbox_of(identity: str, alias: str | None) -> str:
        """The caller's own mailbox, or (``as``) one of the ids it answers for: its account's
        recovery key, whose notices a recovering device reads (FORMAT.md 11.4)."""
        if alias is None or alias == identity:
            return identity
        if alias not in await gw.aliases(identity):
            raise ForbiddenError("that is not a mailbox of this device")
        return alias

    @api.get("/v1/mailbox")
    async def list_messages(all: bool = False, alias: str | None = Query(None, alias="as", max_length=80),
                            identity: str = gw.requires("mailbox")):
        return {"messages": await store.list_messages(await mailbox_of(identity, alias), include_acked=all)}

    @api.get("/v1/mailbox/{message_id}", responses={200: {"content": {"application/octet-stream": {}}}})
    async def get_message(message_id: str = Path(max_length=36), alias: str | None = Query(None, alias="as", max_length=80),
                          identity: str = gw.requires("mailbox")):
        row = await store.get_message(await mailbox_of(identity, alias), message_id)
        if row is None:
            raise MissingMetadataError(f"no message {message_id} for {identity}")
        return Response(row["body"], media_type="application/octet-stream",
                        headers={"X-Meshkit-Sender": row["sender"], "X-Meshkit-Kind": row["kind"]})

    @api.delete("/v1/mailbox/{message_id}", status_code=204)
    async def ack_message(message_id: str = Path(max_length=36), identity: str = gw.requires("mailbox")):
        if not await store.ack_message(identity, message_id):
            raise MissingMetadataError(f"no message {message_id} for {identity}")
        return Response(status_code=204)

    return api
