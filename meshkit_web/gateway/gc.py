"""Garbage collection: blocks nobody keeps, and old mailbox messages.

Blocks. Mark: for every identity, the blocks its own pins reach (headers are read,
segments are leaves). Sweep: each (identity, block) charge older than the grace period
whose block no pin OF THAT IDENTITY reaches is dropped, and its bytes are given back: what
an owner unpinned stops costing it even while someone else's pin keeps the blocks (that
pinner was charged for them when it pinned, routes/pins.py). A block nobody is charged for
and no pin reaches is deleted from the provider. A pin made or removed while a round runs
ends that round's sweep without dropping anything more (the mark could be stale); the next
round sees it.

Messages. Acknowledged ones are deleted ``mailbox_acked_grace`` seconds after they were
acknowledged, every other ``mailbox_retention`` seconds after it was sent; each sender gets
back what its message was charged.
"""

import logging
import time

from ..core import dag
from ..core.cid import DAG_CBOR, cid_str, codec_of, parse_cid
from ..core.errors import MissingBlockError

log = logging.getLogger("meshkit.gateway.gc")

CHARGES_PAGE = 10_000        # charges read at a time
CHARGES_PER_ROUND = 500_000  # charges looked at in one round (the next round goes on)
MESSAGES_BATCH = 1000        # messages deleted per transaction
MESSAGE_BATCHES = 100        # transactions per round


async def reachable(gw, root: str) -> set[str]:
    """The blocks of the DAG under ``root`` (an absent one is named, its links are not followed)."""
    async def nothing(cid: bytes) -> None:
        return None

    async def links_of(cid: bytes, _) -> tuple[bytes, ...]:
        if codec_of(cid) != DAG_CBOR:  # raw segments are leaves
            return ()
        try:
            return await gw.provider.links(cid, await gw.provider.get(cid))
        except MissingBlockError:
            return ()
    return {cid_str(cid) async for cid, _ in dag.walk(parse_cid(root), nothing, links_of)}


async def live_blocks(gw) -> tuple[set[str], dict[str, set[str]]]:
    """(every block some pin reaches, {identity: the blocks its own pins reach})."""
    by_root: dict[str, set[str]] = {}
    kept: dict[str, set[str]] = {}
    for identity, roots in (await gw.store.pins_by_identity()).items():
        mine = kept.setdefault(identity, set())
        for root in roots:
            if root not in by_root:
                by_root[root] = await reachable(gw, root)
            mine |= by_root[root]
    return set().union(*by_root.values()), kept


async def collect_garbage(gw, now: int | None = None) -> dict:
    """One round; returns {"charges": dropped, "blocks": deleted, "bytes": refunded, "messages": deleted}."""
    now = int(time.time()) if now is None else now
    result = await collect_blocks(gw, now)
    result["messages"] = await collect_messages(gw, now)
    return result


async def collect_blocks(gw, now: int) -> dict:
    started = await gw.store.pin_state()
    live, kept = await live_blocks(gw)
    dropped = deleted = refunded = looked = 0
    after = None
    while looked < CHARGES_PER_ROUND:
        page = await gw.store.expired_charges(now - gw.config.gc_grace, CHARGES_PAGE, after)
        if not page:
            break
        looked += len(page)
        after = (page[-1]["created"], page[-1]["identity"], page[-1]["cid"])
        for charge in page:
            if charge["cid"] in kept.get(charge["identity"], ()):
                continue  # its own pin keeps it: it pays
            if await gw.store.pin_state() != started:
                log.info("a pin landed during collection: the rest waits for the next round")
                return _report(dropped, deleted, refunded)
            if not await gw.store.drop_charge(charge["identity"], charge["cid"], charge["size"]):
                continue
            dropped += 1
            refunded += charge["size"]
            if charge["cid"] not in live and await gw.store.charge_count(charge["cid"]) == 0:
                await gw.provider.delete(parse_cid(charge["cid"]))
                deleted += 1
    return _report(dropped, deleted, refunded)


def _report(dropped: int, deleted: int, refunded: int) -> dict:
    if dropped:
        log.info("garbage collection: %d charges dropped, %d blocks deleted", dropped, deleted)
    return {"charges": dropped, "blocks": deleted, "bytes": refunded}


async def collect_messages(gw, now: int) -> int:
    """Messages past their time, deleted in bounded batches."""
    config, deleted = gw.config, 0
    for _ in range(MESSAGE_BATCHES):
        gone = await gw.store.expire_messages(now - config.mailbox_retention, now - config.mailbox_acked_grace,
                                              MESSAGES_BATCH)
        deleted += gone
        if gone < MESSAGES_BATCH:
            break
    if deleted:
        log.info("garbage collection: %d old messages deleted", deleted)
    return deleted
