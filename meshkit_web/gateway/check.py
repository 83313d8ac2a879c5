"""The crash check: after a crash or a power cut, make the store say only what is true.

What it does (docs/GATEWAY.md, "After a crash"):
- blocks whose bytes do not hash to their CID (a write cut short) are removed and reported;
  a client's next put of the block stores it again;
- temp files of puts that never finished are removed;
- bytes nobody is charged for and no pin keeps (a put killed between its write and its
  charge) are removed; charges for blocks that are not stored are dropped and given back
  (a charge and its usage counter change in one transaction, so they never disagree):
  charges follow stored bytes;
- pin records whose pin never completed (no marker: the pin was never acknowledged) are
  dropped, and markers without a record are removed.

``meshkit serve`` runs it at every start, over what changed since the store's last
checkpoint; ``meshkit serve --check`` runs it over everything, with no gateway serving the
data directory (so nothing can be in flight). While other processes may be serving, only
leftovers older than ``IN_FLIGHT`` are touched: a put or pin of a live replica is never undone.
"""

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field

from ..core.cid import cid_bytes, codec_of, cid_str, parse_cid
from ..core.errors import MeshKitError
from ..providers.embedded import TEMP_PREFIX, EmbeddedProvider
from .gc import live_blocks

log = logging.getLogger("meshkit.gateway.check")

IN_FLIGHT = 120      # seconds: a put or pin of another live process finishes well within this
CHARGES_PAGE = 10_000


@dataclass
class CheckReport:
    scope: str = "since the last checkpoint"
    blocks_checked: int = 0
    torn: list[str] = field(default_factory=list)       # removed: bytes that do not hash to their CID
    unknown: list[str] = field(default_factory=list)    # files that are not blocks: left, named
    temp_removed: int = 0
    orphans_removed: int = 0
    charges_dropped: int = 0
    pins_dropped: list[str] = field(default_factory=list)
    markers_removed: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        said = [f"checked {self.blocks_checked} blocks ({self.scope})"]
        said += [f"removed a torn block (its bytes do not hash to its CID): {cid}" for cid in self.torn]
        said += [f"left a file that is not a block: {name}" for name in self.unknown[:20]]
        counts = {"unfinished temp files removed": self.temp_removed,
                  "uncharged, unpinned blocks removed": self.orphans_removed,
                  "charges for missing blocks dropped (and given back)": self.charges_dropped}
        said += [f"{what}: {n}" for what, n in counts.items() if n]
        said += [f"dropped a pin that never completed: {root}" for root in self.pins_dropped]
        said += [f"removed a pin marker without a pin record: {root}" for root in self.markers_removed]
        return said


def _verify_shard(entries, since: float | None, settled: bool, now: float):
    """(temp files to remove, good blocks [(cid, mtime)], torn [(path, name)], unknown names)
    of one shard directory; runs in a worker thread (reads and hashes files)."""
    temps, good, torn, unknown = [], [], [], []
    for path, name, stat in entries:
        if name.startswith(TEMP_PREFIX):
            if settled or now - stat.st_mtime > IN_FLIGHT:
                temps.append(path)
            continue
        try:
            binary = parse_cid(name)
        except MeshKitError:
            unknown.append(name)
            continue
        if since is not None and stat.st_mtime < since:
            continue  # durable before the checkpoint: known good
        with open(path, "rb") as f:
            data = f.read()
        if cid_bytes(codec_of(binary), data) != binary:
            torn.append((path, name))
        else:
            good.append((binary, stat.st_mtime))
    return temps, good, torn, unknown


def _remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


async def _check_blocks(gw, provider: EmbeddedProvider, report: CheckReport, since, settled: bool) -> None:
    now = time.time()
    uncharged: list[bytes] = []  # whole blocks nobody pays for: removed unless a pin keeps them
    for shard in provider.shards():
        entries = await asyncio.to_thread(provider.entries_of, shard)
        temps, good, torn, unknown = await asyncio.to_thread(_verify_shard, entries, since, settled, now)
        report.blocks_checked += len(good) + len(torn)
        report.temp_removed += sum(map(_remove, temps))
        report.unknown += unknown
        for path, name in torn:
            if _remove(path):
                report.torn.append(name)
                log.warning("removed a torn block: %s", name)
        for binary, mtime in good:
            if (settled or now - mtime > IN_FLIGHT) and await gw.store.charge_count(cid_str(binary)) == 0:
                uncharged.append(binary)
    if uncharged:  # walking every pin's DAG only when something may be stray
        live, _ = await live_blocks(gw)
        for binary in uncharged:
            if cid_str(binary) not in live and await gw.store.charge_count(cid_str(binary)) == 0:
                await provider.delete(binary)
                report.orphans_removed += 1


async def _check_charges(gw, report: CheckReport, since) -> None:
    """Charges whose block is not stored are dropped (refunded)."""
    after = None
    first = 0 if since is None else int(since)
    while True:
        page = await gw.store.charges_since(first, CHARGES_PAGE, after)
        if not page:
            break
        after = (page[-1]["created"], page[-1]["identity"], page[-1]["cid"])
        for charge in page:
            if await gw.provider.size(parse_cid(charge["cid"])) is None:
                if await gw.store.drop_charge(charge["identity"], charge["cid"], charge["size"]):
                    report.charges_dropped += 1


async def _check_pins(gw, provider: EmbeddedProvider, report: CheckReport, settled: bool) -> None:
    """Pin records and the provider's markers agree: a record whose marker is missing never
    completed (the pin was not acknowledged, or an unpin was cut short), so it is dropped."""
    now = time.time()
    marked = {cid_str(root) for root in provider.pinned_roots()}
    recorded: set[str] = set()
    for identity, pins in (await gw.store.pins_with_times()).items():
        for root, created in pins:
            recorded.add(root)
            if root in marked or (not settled and now - created <= IN_FLIGHT):
                continue
            await gw.store.remove_pin(identity, root)
            report.pins_dropped.append(root)
    for root in sorted(marked - recorded):
        try:
            mtime = os.stat(provider.marker_path(parse_cid(root))).st_mtime
        except FileNotFoundError:
            continue
        if settled or now - mtime > IN_FLIGHT:
            await provider.unpin(parse_cid(root))
            report.markers_removed.append(root)


async def check_store(gw, *, full: bool = False, settled: bool = False) -> CheckReport:
    """One check of ``gw``'s store. ``full``: every block, else those changed since the last
    checkpoint. ``settled``: no other process serves this data directory (``serve --check``)."""
    provider = gw.provider
    report = CheckReport()
    if not isinstance(provider, EmbeddedProvider):  # Kubo keeps its own blockstore durable
        report.scope = f"{provider.name} keeps the blocks: charges only"
        if full:
            await _check_charges(gw, report, None)
        return report
    since = None if full else provider.checkpoint()
    report.scope = "every block" if since is None else "blocks written since the last checkpoint"
    await _check_blocks(gw, provider, report, since, settled)
    await _check_pins(gw, provider, report, settled)
    await _check_charges(gw, report, since)
    await asyncio.to_thread(provider.write_checkpoint)
    return report

