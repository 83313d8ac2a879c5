"""Mailboxes: opaque messages to an identity; share notices are posted by the gateway.

No user can fill another's mailbox for good (docs/GATEWAY.md, "Mailboxes"): every message
costs its sender at least MIN_CHARGE of storage quota until it is deleted; one sender may
leave at most ``mailbox_sender_limit`` unread in one mailbox; read messages are deleted
after ``mailbox_acked_grace`` and all after ``mailbox_retention`` (gc.py); listings come
in pages, filtered by kind and sender in the database, so a recipient finds what it looks
for whatever volume others sent."""

import json
import logging
import re

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ...core.errors import (ForbiddenError, InvalidArgumentError, MailboxFullError, MissingMetadataError,
                            UnknownIdentityError)
from ..context import Gateway
from ..http import binary_body, read_body


log = logging.getLogger("meshkit.gateway")
GATEWAY_NOTICES = ("share", "sealed")  # a capsule stored; an envelope sealed to the recipient
KIND = "^[a-z][a-z0-9-]{0,31}$"
PAGE_DEFAULT = 200   # rows per listing page unless asked for fewer (a page stays far below a client's reply limit)
PAGE_MAX = 500
MAX_KINDS = 8        # kinds one listing may ask for
NOTICE_MAX = 4096    # a notice body the listing carries inline (the gateway writes ~300 bytes)
CURSOR = re.compile(r"^[0-9]{1,15}\.[0-9a-f-]{36}$")


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["mailbox"])
    store = gw.store

    @api.post("/v1/mailbox/{recipient}", status_code=201,
              openapi_extra=binary_body("a message sealed to the recipient (opaque bytes)"))
    async def post_message(request: Request, recipient: str = Path(max_length=64),
                           kind: str = Query("message", pattern=KIND),
                           identity: str = gw.requires("mailbox")):
        if await store.get_identity(recipient) is None:
            raise UnknownIdentityError(f"identity {recipient} is not in the directory")
        if kind in GATEWAY_NOTICES:
            raise ForbiddenError(f"{kind} notices are posted by the gateway itself")
        body = await read_body(request, gw.config.max_message_size)
        message_id = await store.post_message(recipient, identity, kind, body, gw.config.storage_quota,
                                              sender_limit=gw.config.mailbox_sender_limit, notice_kinds=GATEWAY_NOTICES)
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
                            kind: list[str] = Query([], max_length=MAX_KINDS),
                            sender: str | None = Query(None, max_length=64),
                            limit: int = Query(PAGE_DEFAULT, ge=1, le=PAGE_MAX),
                            cursor: str | None = Query(None, max_length=64),
                            order: str = Query("newest", pattern="^(newest|oldest)$"),
                            identity: str = gw.requires("mailbox")):
        """One page of the mailbox, ``order`` newest (the default) or oldest first; ``next``
        is the cursor of the following page (null on the last). Share and sealed notices
        carry their body as ``notice``."""
        if any(not re.match(KIND, k) for k in kind):
            raise InvalidArgumentError("a kind is lower-case letters, digits and dashes (at most 32)")
        if cursor is not None and not CURSOR.match(cursor):
            raise InvalidArgumentError("that is not a cursor this gateway gave")
        rows, following = await store.list_messages(
            await mailbox_of(identity, alias), include_acked=all, kinds=tuple(kind), sender=sender, cursor=cursor,
            limit=limit, newest_first=order == "newest", notices=GATEWAY_NOTICES)
        return {"messages": [_listed(row) for row in rows], "next": following}

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


async def post_notice(gw: Gateway, recipient: str, sender: str, kind: str, notice: dict) -> None:
    """A gateway notice (share, sealed) on the sender's behalf, charged like a message. Past
    the sender's bound of unread messages there it is left out: the share or envelope stands
    (the recipient lists it with GET /v1/capsules), and nobody can fill a mailbox with them."""
    try:
        await gw.store.post_message(recipient, sender, kind, json.dumps(notice).encode(), gw.config.storage_quota,
                                    sender_limit=gw.config.mailbox_notice_limit, notice_kinds=GATEWAY_NOTICES)
    except MailboxFullError:
        log.info("a %s notice was left out: its recipient has too many unread from the sender", kind)


def _listed(row: dict) -> dict:
    """A listing row; a gateway notice's JSON body inline (no request per notice)."""
    body = row.pop("notice", None)
    if body is not None and len(body) <= NOTICE_MAX:
        try:
            notice = json.loads(body)
        except ValueError:
            notice = None
        if isinstance(notice, dict):
            row["notice"] = notice
    return row
