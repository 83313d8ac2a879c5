"""Shares: capsules stored by a sharer who can open the envelope, released at every open
only to their recipient, only while not revoked, not expired and allowed by the policy.
The rules are plain functions in gateway/shares.py; here they are given their facts."""

import time

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from ...core.capsule import verify_capsule
from ...core.cid import cid_str, parse_cid
from ...core.errors import MeshKitError, MissingMetadataError
from .. import shares
from ..context import Gateway, envelope_header
from ..http import CBOR_MEDIA, CID_TEXT_MAX, binary_body, read_body
from ..shares import MAX_OPENS


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["capsules"])
    config, store = gw.config, gw.store

    async def live_shares(root: str, recipients: set[str]) -> list[dict]:
        found = []
        for recipient in sorted(recipients):
            found += await store.find_capsules(root=root, recipient=recipient)
        return sorted(found, key=lambda row: row["created"], reverse=True)

    async def facts_of(root: bytes) -> shares.Facts:
        """``shares.Facts`` of the envelope ``root``: for an identity, None when it (or what
        it answers for) holds the key in the header, else the shares of it to them."""
        header = await envelope_header(gw, root)

        async def facts(who: str) -> list[dict] | None:
            mine = await gw.aliases(who)
            return None if shares.in_header(header, mine) else await live_shares(cid_str(root), mine)
        return facts

    async def capsule_of(cid: str) -> tuple[str, dict]:
        """(canonical CID, row) of a stored capsule."""
        name = cid_str(parse_cid(cid))
        row = await store.get_capsule(name)
        if row is None:
            raise MissingMetadataError(f"no capsule {name}")
        return name, row

    @api.post("/v1/capsules", status_code=201, openapi_extra=binary_body("a signed capsule (DAG-CBOR)", CBOR_MEDIA))
    async def put_capsule(request: Request, identity: str = gw.requires("capsules"),
                          opens: int | None = Query(None, ge=1, le=MAX_OPENS, description="released at most this often")):
        data = await read_body(request, config.max_message_size)
        capsule = await verify_capsule(gw.backend, data)
        shares.check_stored_by_sharer(capsule.sharer_id, identity)
        facts = await facts_of(capsule.root)
        shares.check_may_share(await shares.may_share(identity, facts, int(time.time())), identity,
                               cid_str(capsule.root))
        # a re-share (the sharer holds the envelope through a share) within the share it came through
        shares.check_reshare(capsule.expires, capsule.policy, await facts(identity), int(time.time()))
        cid, root = cid_str(capsule.cid), cid_str(capsule.root)
        await store.put_capsule(cid, root, identity, capsule.recipient, capsule.expires, capsule.policy, data,
                                config.storage_quota, opens=opens)
        # the recipient's notice comes with the share's proof (routes/proofs.py), which names its sharer
        await gw.audit(identity, "capsule.put", cid)
        return {"cid": cid, "root": root, "recipient": capsule.recipient}

    @api.get("/v1/capsules")
    async def find_capsules(root: str | None = Query(None, max_length=CID_TEXT_MAX), role: str = Query(
            "recipient", pattern="^(recipient|sharer|account)$"), identity: str = gw.requires("capsules")):
        """``role``: shares to the caller (recipient), made by it (sharer), or made by any
        current device of its account (account: a send link made on another device)."""
        root_text = cid_str(parse_cid(root)) if root else None
        if role == "sharer":
            return {"capsules": await store.find_capsules(root=root_text, sharer=identity)}
        if role == "account":
            found = []
            for sharer in sorted(await gw.own_devices(identity)):
                found += await store.find_capsules(root=root_text, sharer=sharer)
            return {"capsules": sorted(found, key=lambda row: row["created"], reverse=True)}
        return {"capsules": await live_shares(root_text, await gw.aliases(identity))}

    @api.post("/v1/capsules/{cid}/release", responses={200: {"content": {CBOR_MEDIA: {}}}})
    async def release_capsule(cid: str = Path(max_length=CID_TEXT_MAX), identity: str = gw.requires("capsules")):
        """The capsule's bytes, only for its recipient, only if not revoked, not expired and
        (for policy-gated shares) allowed by the policy provider. Checked at every open."""
        name, row = await capsule_of(cid)
        shares.check_released_to(row, await gw.aliases(identity))
        outcome = "ok"
        try:
            shares.check_live(row["revoked"], row["expires"], name, row["root"], time.time())
            if row["policy"]:
                await gw.policy.require_allow(row["policy"], root=row["root"], capsule=name,
                                              sharer=row["sharer"], recipient=identity)
            # The decision and the revocation check are one atomic step: a revocation that
            # landed while the policy provider was deciding wins.
            live = await store.capsule_still_live(name, int(time.time()))
            if live is not True:
                shares.check_live(*live, name, row["root"], time.time())
            facts = await facts_of(parse_cid(row["root"]))
            shares.check_chain(await shares.may_share(row["sharer"], facts, int(time.time())), name, row["root"])
            # counted last: a refusal above costs no open
            shares.check_open_taken(await store.take_open(name), name, row["root"])
        except MeshKitError as exc:
            outcome = exc.code
            raise
        finally:
            await gw.audit(identity, "capsule.release", name, outcome)
        return Response(row["data"], media_type=CBOR_MEDIA, headers={"Cache-Control": "no-store"})

    @api.delete("/v1/capsules/{cid}", status_code=204)
    async def revoke_capsule(cid: str = Path(max_length=CID_TEXT_MAX), identity: str = gw.requires("capsules")):
        name, row = await capsule_of(cid)
        shares.check_revoked_by(row, identity, await gw.own_devices(identity))
        await store.revoke_capsule(name)
        await gw.audit(identity, "capsule.revoke", name)
        return Response(status_code=204)

    return api

