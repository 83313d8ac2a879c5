"""Garbage collection of unpinned blocks: what an identity stored and never pinned is
deleted after the grace period, and its bytes are given back to the identity's quota.

Mark: every block reachable from a pinned root (headers are read, segments are leaves).
Sweep: each (identity, block) charge older than the grace period whose block is not
marked is dropped; a block nobody is charged for any more is deleted from the provider.
A pin made or removed while a round runs ends that round without deleting anything (the mark could
be stale); the next round sees it.
"""

import logging
import time

from ..core.cid import DAG_CBOR, cid_str, codec_of, parse_cid
from ..core.errors import MissingBlockError

log = logging.getLogger("meshkit.gateway.gc")


async def live_blocks(gw) -> set[str]:
    live: set[str] = set()
    for root in await gw.store.pinned_roots():
        stack = [parse_cid(root)]
        while stack:
            cid = stack.pop()
            name = cid_str(cid)
            if name in live:
                continue
            live.add(name)
            try:
                if codec_of(cid) == DAG_CBOR:  # follow its links; raw segments are leaves
                    stack.extend(await gw.provider.links(cid, await gw.provider.get(cid)))
            except MissingBlockError:
                continue
    return live


async def collect_garbage(gw, now: int | None = None) -> dict:
    """One round; returns {"charges": dropped, "blocks": deleted, "bytes": refunded}."""
    now = int(time.time()) if now is None else now
    started = await gw.store.pin_state()
    live = await live_blocks(gw)
    candidates = await gw.store.expired_charges(now - gw.config.gc_grace)
    dropped = deleted = refunded = 0
    for charge in candidates:
        if charge["cid"] in live:
            continue
        if await gw.store.pin_state() != started:
            log.info("a pin landed during collection: the rest waits for the next round")
            break
        if not await gw.store.drop_charge(charge["identity"], charge["cid"], charge["size"]):
            continue
        dropped += 1
        refunded += charge["size"]
        if await gw.store.charge_count(charge["cid"]) == 0:
            await gw.provider.delete(parse_cid(charge["cid"]))
            deleted += 1
    if dropped:
        log.info("garbage collection: %d charges dropped, %d blocks deleted", dropped, deleted)
    return {"charges": dropped, "blocks": deleted, "bytes": refunded}
