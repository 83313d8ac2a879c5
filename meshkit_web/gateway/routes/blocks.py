"""Block puts: one block, or many as a CAR; CIDs recomputed, sizes and the storage quota
enforced. (Trustless reads are in routes/reads.py.)"""

import contextlib

from fastapi import APIRouter, Path, Request

from ...core import car
from ...core.car import CAR_MEDIA
from ...core.cid import DAG_CBOR, cid_bytes, cid_str, codec_of, parse_cid
from ...core.errors import CIDMismatchError, LimitExceededError, QuotaExceededError, UnsupportedError
from ...core.limits import MIN_SEGMENT_BLOCK, block_limit, charged_size
from ...core.units import human_bytes
from .. import crashpoints
from ..context import Gateway
from ..http import CID_TEXT_MAX, binary_body, bounded_stream, read_body


STORE_GROUP = 8                # blocks of a batch written with one sync and charged in one transaction
STORE_GROUP_BYTES = 4 << 20    # (or fewer, so a slow sender holds at most this much checked data)


def router(gw: Gateway) -> APIRouter:
    api = APIRouter()
    config, provider = gw.config, gw.provider

    async def check_block(identity: str, binary: bytes, data: bytes) -> None:
        """A block fit to store: its CID recomputed, DAG-CBOR decoded once (never at every read)."""
        codec = codec_of(binary)
        if cid_bytes(codec, data) != binary:
            await gw.audit(identity, "block.put", cid_str(binary), "cid_mismatch")
            raise CIDMismatchError(f"the body does not hash to {cid_str(binary)}")
        if codec == DAG_CBOR:
            await provider.links(binary, data)

    def over_quota(size: int) -> QuotaExceededError:
        return QuotaExceededError(f"storing {human_bytes(size)} more exceeds your {human_bytes(config.storage_quota)} "
                                  "storage quota (unpinned blocks stop counting when released, or after the "
                                  "grace period)")

    writing: dict[str, int] = {}  # identity -> bytes of its puts in flight here, not yet charged

    async def fitting(identity: str, group: list[tuple[bytes, bytes]]):
        """(the blocks of ``group`` that fit the caller's storage quota with its puts in flight
        in this process, in order, up to the first that does not; that one's
        QuotaExceededError or None; what they will cost). Blocks the caller is charged for
        already cost nothing more."""
        have = await gw.store.charged_cids(identity, [cid_str(c) for c, _ in group])
        room = config.storage_quota - await gw.store.stored_bytes(identity) - writing.get(identity, 0)
        taken: list[tuple[bytes, bytes]] = []
        cost = 0
        for binary, data in group:
            if cid_str(binary) not in have:
                if cost + charged_size(len(data)) > room:
                    return taken, over_quota(len(data)), cost
                cost += charged_size(len(data))
            taken.append((binary, data))
        return taken, None, cost

    async def store_group(identity: str, group: list[tuple[bytes, bytes]]) -> None:
        """Checked blocks stored, durably, and only then charged (one transaction for the
        group): a charge never precedes its bytes. A crash in between leaves bytes nobody is
        charged for, which the crash check (gateway/check.py) removes. Over quota: the blocks
        before the one that crosses it are stored and charged, then the typed error."""
        taken, refused, cost = await fitting(identity, group)
        if cost:  # concurrent puts here cannot overrun the quota together
            writing[identity] = writing.get(identity, 0) + cost
        try:
            await provider.put_many(taken)
            crashpoints.reach("blocks-stored")
            if not await gw.store.charge_blocks(identity, [(cid_str(c), len(d)) for c, d in taken],
                                                config.storage_quota):
                # a put of the same caller at another replica took the room meanwhile: charge one
                # by one (what stays uncharged is removed by the collector's crash check)
                for binary, data in taken:
                    if not await gw.store.charge_block(identity, cid_str(binary), len(data), config.storage_quota):
                        refused = over_quota(len(data))
                        break
        finally:
            if cost:
                left = writing.pop(identity) - cost
                if left:
                    writing[identity] = left
        crashpoints.reach("blocks-charged")
        if refused is not None:
            raise refused

    @api.put("/v1/blocks/{cid}", tags=["blocks"], status_code=201,
             openapi_extra=binary_body("the block's bytes; the gateway recomputes the CID"))
    async def put_block(request: Request, cid: str = Path(max_length=CID_TEXT_MAX), identity: str = gw.requires("blocks:write")):
        binary = parse_cid(cid)
        # a DAG-CBOR block is an envelope header, never larger than one
        data = await read_body(request, block_limit(binary, config.max_block_size))
        await check_block(identity, binary, data)
        await store_group(identity, [(binary, data)])
        return {"cid": cid_str(binary), "size": len(data)}

    @api.post("/v1/blocks", tags=["blocks"], status_code=201,
              openapi_extra=binary_body("a CARv1 of up to max_batch_blocks blocks (roots ignored); each block "
                                        "is CID-checked and charged as it streams in", CAR_MEDIA))
    async def put_blocks(request: Request, identity: str = gw.requires("blocks:write")):
        """Many blocks in one request (one round trip instead of one per block), stored in
        order as they arrive, STORE_GROUP at a time (one quota transaction, parallel writes).
        The first bad block ends the request with its typed error; the ones before it stay
        stored (puts are idempotent: a retry is harmless)."""
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != CAR_MEDIA:
            raise UnsupportedError(f"send the blocks as {CAR_MEDIA}")
        stream = car.CarStream(bounded_stream(request, config.max_batch_size))
        await stream.header()
        stored: dict[bytes, int] = {}   # cid -> size: what the reply lists (the data is not kept)
        group: list[tuple[bytes, bytes]] = []
        short = 0

        async def flush():
            nonlocal group
            taken, group = group, []  # taken first: a group that fails is never stored twice
            await store_group(identity, taken)
            stored.update((binary, len(data)) for binary, data in taken)
        try:
            async with contextlib.aclosing(stream.blocks(config.max_batch_blocks)) as frames:
                async for binary, data in frames:
                    if binary in stored or any(binary == b for b, _ in group):
                        continue  # the same block twice in one request: stored once
                    check_batch_block(binary, data)
                    if len(data) < MIN_SEGMENT_BLOCK:
                        short += 1  # only an envelope's last segment may be short: one per batch
                        if short > 1:
                            raise LimitExceededError("a batch holds at most one block shorter than a segment")
                    await check_block(identity, binary, data)
                    group.append((binary, data))
                    if len(group) == STORE_GROUP or sum(len(d) for _, d in group) >= STORE_GROUP_BYTES:
                        await flush()
        finally:  # what was checked before an error in the stream is stored all the same
            if group:
                await flush()
        return {"blocks": [{"cid": cid_str(binary), "size": size} for binary, size in stored.items()]}

    def check_batch_block(binary: bytes, data: bytes) -> None:
        """Batches carry segments (raw blocks) of at most ``max_block_size``: a DAG-CBOR
        block (a header, an index block) is decoded at put, so it goes alone, by PUT."""
        if codec_of(binary) == DAG_CBOR:
            raise UnsupportedError("DAG-CBOR blocks are put one at a time (PUT /v1/blocks/{cid})")
        if len(data) > config.max_block_size:
            raise LimitExceededError(f"block of {len(data)} bytes is over the {config.max_block_size}-byte limit")

    return api
