"""Pins of one's own envelope roots, charged to a per-identity quota atomically; every block
a pin keeps is charged to the pinner's storage too (gc.py keeps a charge only while one of
its identity's own pins reaches the block). And releases: what one's unpinned blocks cost,
given back at once rather than after the grace (gc.release_charges)."""

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ...core.cid import DAG_CBOR, cid_str, codec_of, parse_cid
from ...core.errors import ForbiddenError, MissingMetadataError, QuotaExceededError
from ...core.units import human_bytes
from ..http import CID_TEXT_MAX
from .. import crashpoints
from ..context import Gateway, envelope_header
from ..gc import reachable, release_charges

RELEASE_BLOCKS_MAX = 256  # CIDs one POST /v1/release names


class Release(BaseModel):
    blocks: list[Annotated[str, Field(max_length=CID_TEXT_MAX)]] = Field(
        max_length=RELEASE_BLOCKS_MAX, description="CIDs of blocks the caller put (e.g. of an upload refused "
                                                   "before its root was stored)")


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["pins"])
    config, provider, store = gw.config, gw.provider, gw.store

    async def own_root(identity: str, cid: str) -> bytes:
        """A root the caller may pin: an envelope header it signed as sender."""
        binary = parse_cid(cid)
        if codec_of(binary) != DAG_CBOR:
            raise ForbiddenError("only envelope roots (DAG-CBOR headers) can be pinned")
        header = await envelope_header(gw, binary)
        if header.sender_id != identity:
            raise ForbiddenError(f"{cid_str(binary)} was sealed by {header.sender_id}, not by {identity}")
        return binary

    @api.post("/v1/pins/{cid}", status_code=201)
    async def pin(cid: str = Path(max_length=CID_TEXT_MAX), identity: str = gw.requires("pins")):
        binary = await own_root(identity, cid)
        blocks = await provider.dag_blocks(binary)
        size = sum(length for _, length in blocks)
        recorded = await store.add_pin(identity, cid_str(binary), size, config.pin_quota)
        if recorded is None:
            await gw.audit(identity, "pin.add", cid_str(binary), "quota_exceeded")
            raise QuotaExceededError(f"pinning {human_bytes(size)} more exceeds your {human_bytes(config.pin_quota)} "
                                     f"pin quota ({human_bytes(await store.pinned_bytes(identity))} pinned): "
                                     "unpin or delete something")
        try:
            # whoever pins pays for what the pin keeps: blocks another identity put (and may
            # delete) are charged to this one's storage too, so the owner's charge can end
            if not await store.charge_pinned_blocks(identity, [(cid_str(c), n) for c, n in blocks],
                                                    config.storage_quota):
                await gw.audit(identity, "pin.add", cid_str(binary), "quota_exceeded")
                raise QuotaExceededError(f"keeping the {human_bytes(size)} this pin holds exceeds your "
                                         f"{human_bytes(config.storage_quota)} storage quota")
            crashpoints.reach("pin-recorded")
            await provider.pin(binary)
        except BaseException:
            if recorded == "added":  # the provider has no pin: do not charge the quota for one
                await store.remove_pin(identity, cid_str(binary))
            raise
        await gw.audit(identity, "pin.add", cid_str(binary))
        return {"root": cid_str(binary), "size": size, "pinned_bytes": await store.pinned_bytes(identity)}

    @api.delete("/v1/pins/{cid}", status_code=204)
    async def unpin(cid: str = Path(max_length=CID_TEXT_MAX), identity: str = gw.requires("pins")):
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
        await gw.audit(identity, "pin.remove", root)
        return Response(status_code=204)

    @api.post("/v1/release/{cid}")
    async def release_root(cid: str = Path(max_length=CID_TEXT_MAX), identity: str = gw.requires("blocks:write")):
        """Give back at once what the blocks of the DAG under ``cid`` cost the caller, for those
        none of its own pins keeps (unpin first): its storage quota gets them back now, and
        the next collection deletes those nobody else is charged for and no pin reaches."""
        root = cid_str(parse_cid(cid))
        released = await release_charges(gw, identity, sorted(await reachable(gw, root)))
        await gw.audit(identity, "blocks.release", root)
        return {"root": root, **released}

    @api.post("/v1/release")
    async def release_blocks(body: Release, identity: str = gw.requires("blocks:write")):
        """The same for blocks named one by one (an upload refused before its root landed)."""
        released = await release_charges(gw, identity, [cid_str(parse_cid(c)) for c in body.blocks])
        await gw.audit(identity, "blocks.release", f"{len(body.blocks)} blocks")
        return released

    @api.get("/v1/pins")
    async def list_pins(identity: str = gw.requires("pins")):
        return {"pins": await store.list_pins(identity), "quota": config.pin_quota,
                "pinned_bytes": await store.pinned_bytes(identity), "storage_quota": config.storage_quota,
                "stored_bytes": await store.stored_bytes(identity)}

    return api
