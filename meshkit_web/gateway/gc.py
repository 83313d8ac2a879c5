"""Garbage collection: blocks nobody keeps, and old mailbox messages.

Blocks. Mark: for every identity, the blocks its own pins reach (headers are read,
segments are leaves). Sweep: each (identity, block) charge older than the grace period
whose block no pin OF THAT IDENTITY reaches is dropped, and its bytes are given back: what
an owner unpinned stops costing it even while someone else's pin keeps the blocks (that
pinner was charged for them when it pinned, routes/pins.py). A block nobody is charged for
and no pin reaches is deleted from the provider. A pin made or removed while a round runs
ends that round's sweep without dropping anything more (the mark could be stale); the next
round sees it.

Released blocks. An identity may give back at once what its blocks cost instead of waiting
for the grace (``release_charges``: a refused or discarded upload, a deleted envelope): its
own charges on blocks none of its own pins reaches are dropped then, as a round would drop
them later. A block nobody is charged for any more is left to the next round, which deletes
it unless some pin reaches it by then.

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
RELEASED_PAGE = 10_000       # released blocks looked at per page, RELEASED_PAGES pages per round
RELEASED_PAGES = 10
RELEASE_TRIES = 3            # a release that keeps seeing pins move leaves the rest to the grace


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
    deleted += await _delete_released(gw, live, started)
    return _report(dropped, deleted, refunded)


async def _delete_released(gw, live: set[str], started: tuple) -> int:
    """Blocks whose last charge was released early: deleted if nobody is charged for them
    and no pin reaches them; forgotten either way (a charge made since ends as any other)."""
    deleted = 0
    for _ in range(RELEASED_PAGES):
        page = await gw.store.released(RELEASED_PAGE)
        for cid in page:
            if await gw.store.pin_state() != started:
                return deleted  # the mark could be stale: the next round goes on
            if cid not in live and await gw.store.charge_count(cid) == 0:
                await gw.provider.delete(parse_cid(cid))
                deleted += 1
        if page:
            await gw.store.forget_released(page)
        if len(page) < RELEASED_PAGE:
            break
    return deleted


async def release_charges(gw, identity: str, cids: list[str]) -> dict:
    """Drop now ``identity``'s charges on ``cids`` that none of its own pins reaches (what a
    round would drop after the grace): {"blocks": charges dropped, "bytes": given back,
    "kept": charges its pins keep}. Never anyone else's charge; a block nobody is charged for
    any more is deleted by the next round (``_delete_released``). A pin made or removed
    meanwhile makes it look at the caller's pins again; past RELEASE_TRIES the rest waits
    for the grace."""
    mine = await gw.store.charge_sizes(identity, sorted(set(cids)))
    if not mine:  # nothing of it is charged to the caller: its pins need no walk
        return {"blocks": 0, "bytes": 0, "kept": 0}
    dropped = refunded = 0
    kept: set[str] = set()
    left = sorted(mine)
    for _ in range(RELEASE_TRIES):
        state, kept = await gw.store.pin_state(), await _own_pinned(gw, identity)
        while left and await gw.store.pin_state() == state:
            cid = left.pop()
            if cid in kept or not await gw.store.drop_charge(identity, cid, mine[cid]):
                continue
            dropped += 1
            refunded += mine[cid]
            if await gw.store.charge_count(cid) == 0:
                await gw.store.mark_released(cid)
        if not left:
            break
    return {"blocks": dropped, "bytes": refunded, "kept": sum(1 for cid in mine if cid in kept)}


async def _own_pinned(gw, identity: str) -> set[str]:
    """The blocks ``identity``'s own pins reach."""
    found: set[str] = set()
    for pin in await gw.store.list_pins(identity):
        found |= await reachable(gw, pin["root"])
    return found


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
