"""Shares: capsules stored by a sharer who can open the envelope, released at every open
only to their recipient, only while not revoked, not expired and allowed by the policy."""

import time

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ...core.capsule import verify_capsule
from ...core.cid import cid_str, parse_cid
from ...core.errors import (ExpiredError, ForbiddenError, MeshKitError, MissingMetadataError, NotARecipientError,
                            OpensUsedUpError, RevokedError)
from ..context import Gateway, envelope_header
from ..http import CBOR_MEDIA, CID_TEXT_MAX, binary_body, read_body
from .mailbox import post_notice


MAX_RESHARE_DEPTH = 4  # a share of a share of ... : how far back the chain is followed
MAX_SHARERS_CHECKED = 32  # distinct sharers looked at in all, per check
MAX_OPENS = 1000  # the largest limit a share's opens may have (a send link's "download limit")


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["capsules"])
    config, store = gw.config, gw.store

    async def live_shares(root: str, recipients: set[str]) -> list[dict]:
        found = []
        for recipient in sorted(recipients):
            found += await store.find_capsules(root=root, recipient=recipient)
        return sorted(found, key=lambda row: row["created"], reverse=True)

    async def may_share(identity: str, root: bytes) -> bool:
        """Whether ``identity`` can open ``root`` itself: its sender, a recipient in its
        header, or the recipient of a live share of it (as itself or its account's recovery
        key) whose sharer still may, and so on back to the header. Nobody else can make a
        capsule that opens it, so nobody else may store one (a bogus capsule would shadow
        real ones). Checked again at every release, so a revoked or expired share also
        closes every re-share made through it (a re-wrap to one's own new device included).
        A share with a limit on its opens (a send link) is no source for sharing on.

        A breadth-first search over distinct sharers, at most MAX_RESHARE_DEPTH steps back
        and MAX_SHARERS_CHECKED sharers in all: bounded work whatever capsules others store
        (only live ones count, so revoked decoys crowd nothing out)."""
        header = await envelope_header(gw, root)
        now, frontier, seen = int(time.time()), [identity], {identity}
        for _ in range(MAX_RESHARE_DEPTH + 1):
            step = []
            for who in frontier:
                mine = await gw.aliases(who)
                if in_header(header, mine):
                    return True
                for row in await live_shares(cid_str(root), mine):
                    sharer = row["sharer"]
                    # a share limited in its opens (a send link) is for its holder only: it
                    # never lets the holder share on (that would be a share without the limit)
                    if is_live(row, now) and row["opens_left"] is None and sharer not in seen:
                        if len(seen) >= MAX_SHARERS_CHECKED:
                            return False
                        seen.add(sharer)
                        step.append(sharer)
            frontier = step
            if not frontier:
                return False
        return False

    async def check_reshare(identity: str, capsule) -> None:
        """A re-share (the sharer holds the envelope through a share, not its header) may not
        outlive or escape the share it came through: an expiry no later, and the same policy,
        as one of the sharer's live shares of it. Else ForbiddenError."""
        header = await envelope_header(gw, capsule.root)
        mine = await gw.aliases(identity)
        if in_header(header, mine):
            return  # the sharer's own key is in the header: an original share
        now = int(time.time())
        sources = [row for row in await live_shares(cid_str(capsule.root), mine) if is_live(row, now)]
        for source in sources:
            within = source["expires"] is None or (capsule.expires is not None and capsule.expires <= source["expires"])
            if within and (not source["policy"] or capsule.policy == source["policy"]):
                return
        raise ForbiddenError("a re-share must expire no later than, and carry the policy of, the share it came through")

    async def capsule_of(cid: str, identity: str, role: str, refusal: str) -> tuple[str, dict]:
        """(canonical CID, row) of a stored capsule whose ``role`` is the caller (a
        recipient: the caller or its account's recovery key)."""
        name = cid_str(parse_cid(cid))
        row = await store.get_capsule(name)
        if row is None:
            raise MissingMetadataError(f"no capsule {name}")
        if row[role] not in (await gw.aliases(identity) if role == "recipient" else {identity}):
            raise ForbiddenError(refusal)
        return name, row

    @api.post("/v1/capsules", status_code=201, openapi_extra=binary_body("a signed capsule (DAG-CBOR)", CBOR_MEDIA))
    async def put_capsule(request: Request, identity: str = gw.requires("capsules"),
                          opens: int | None = Query(None, ge=1, le=MAX_OPENS, description="released at most this often")):
        data = await read_body(request, config.max_message_size)
        capsule = await verify_capsule(gw.backend, data)
        if capsule.sharer_id != identity:
            raise ForbiddenError("a capsule can only be stored by its sharer")
        if not await may_share(identity, capsule.root):
            raise NotARecipientError(f"{identity} cannot open {cid_str(capsule.root)}, so cannot share it")
        await check_reshare(identity, capsule)
        cid, root = cid_str(capsule.cid), cid_str(capsule.root)
        await store.put_capsule(cid, root, identity, capsule.recipient, capsule.expires, capsule.policy, data,
                                config.storage_quota, opens=opens)
        if capsule.recipient not in await gw.own_devices(identity):  # a re-wrap to my own device is no news
            notice = {"root": root, "capsule": cid, "sharer": identity, "expires": capsule.expires,
                      "policy": capsule.policy}
            await post_notice(gw, capsule.recipient, identity, "share", notice)
        await gw.audit(identity, "capsule.put", cid)
        return {"cid": cid, "root": root, "recipient": capsule.recipient}

    @api.get("/v1/capsules")
    async def find_capsules(root: str | None = Query(None, max_length=CID_TEXT_MAX), role: str = Query(
            "recipient", pattern="^(recipient|sharer)$"), identity: str = gw.requires("capsules")):
        root_text = cid_str(parse_cid(root)) if root else None
        if role == "sharer":
            return {"capsules": await store.find_capsules(root=root_text, sharer=identity)}
        return {"capsules": await live_shares(root_text, await gw.aliases(identity))}

    @api.post("/v1/capsules/{cid}/release", responses={200: {"content": {CBOR_MEDIA: {}}}})
    async def release_capsule(cid: str = Path(max_length=CID_TEXT_MAX), identity: str = gw.requires("capsules")):
        """The capsule's bytes, only for its recipient, only if not revoked, not expired and
        (for policy-gated shares) allowed by the policy provider. Checked at every open."""
        name, row = await capsule_of(cid, identity, "recipient", "a capsule is released only to its recipient")
        outcome = "ok"
        try:
            check_live(row["revoked"], row["expires"], name, row["root"])
            if row["policy"]:
                await gw.policy.require_allow(row["policy"], root=row["root"], capsule=name,
                                              sharer=row["sharer"], recipient=identity)
            # The decision and the revocation check are one atomic step: a revocation that
            # landed while the policy provider was deciding wins.
            live = await store.capsule_still_live(name, int(time.time()))
            if live is not True:
                check_live(*live, name, row["root"])
            if not await may_share(row["sharer"], parse_cid(row["root"])):
                raise RevokedError(f"the share {name} of {row['root']} came through a share that was revoked or expired")
            if not await store.take_open(name):  # counted last: a refusal above costs no open
                raise OpensUsedUpError(f"the share {name} of {row['root']} was opened as often as its sharer allowed")
        except MeshKitError as exc:
            outcome = exc.code
            raise
        finally:
            await gw.audit(identity, "capsule.release", name, outcome)
        return Response(row["data"], media_type=CBOR_MEDIA, headers={"Cache-Control": "no-store"})

    @api.delete("/v1/capsules/{cid}", status_code=204)
    async def revoke_capsule(cid: str = Path(max_length=CID_TEXT_MAX), identity: str = gw.requires("capsules")):
        name, _ = await capsule_of(cid, identity, "sharer", "only the sharer can revoke a capsule")
        await store.revoke_capsule(name)
        await gw.audit(identity, "capsule.revoke", name)
        return Response(status_code=204)

    return api


def in_header(header, ids: set[str]) -> bool:
    """Whether one of ``ids`` (an identity and what it answers for) sealed the envelope or
    is a recipient in its header: holds its key without any share."""
    return header.sender_id in ids or any(e.recipient in ids for e in header.recipients)


def is_live(row: dict, now: int) -> bool:
    """A stored share neither revoked nor expired."""
    return not row["revoked"] and (row["expires"] is None or row["expires"] > now)


def check_live(revoked: bool, expires: int | None, name: str, root: str) -> None:
    if revoked:
        raise RevokedError(f"the share {name} of {root} was revoked")
    if expires is not None and time.time() >= expires:
        raise ExpiredError(f"the share {name} of {root} expired")
