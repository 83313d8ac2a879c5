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


@dataclass
class _Scan:
    """What the check saw, and the oldest thing it left alone as possibly in flight (the
    checkpoint it writes never passes that: the next check looks at it again)."""
    now: float
    settled: bool
    since: float | None
    oldest_left: float = float("inf")

    def in_flight(self, mtime: float) -> bool:
        """Young enough to be another live process's put or pin: left alone for now."""
        young = not self.settled and self.now - mtime <= IN_FLIGHT
        if young:
            self.oldest_left = min(self.oldest_left, mtime)
        return young


def _verify_shard(entries, scan: _Scan):
    """(temp files to remove, good blocks [(cid, path)], torn [(path, name, stat)], unknown
    names) of one shard directory; runs in a worker thread (reads and hashes files)."""
    temps, good, torn, unknown = [], [], [], []
    for path, name, stat in entries:
        if name.startswith(TEMP_PREFIX):
            if not scan.in_flight(stat.st_mtime):
                temps.append(path)
            continue
        try:
            binary = parse_cid(name)
        except MeshKitError:
            unknown.append(name)
            continue
        if scan.since is not None and stat.st_mtime < scan.since:
            continue  # durable before the checkpoint: known good
        with open(path, "rb") as f:
            data = f.read()
        if cid_bytes(codec_of(binary), data) != binary:
            torn.append((path, name, stat))
        elif not scan.in_flight(stat.st_mtime):
            good.append((binary, path))
    return temps, good, torn, unknown


def _remove(path: str, seen: os.stat_result | None = None, scan: _Scan | None = None) -> bool:
    """Unlink ``path``; with ``seen``: only if it is still that file, unchanged (a put may
    have renamed good bytes over it meanwhile); with ``scan``: only if it is not young."""
    try:
        now = os.stat(path)
        if seen is not None and (now.st_ino, now.st_mtime_ns) != (seen.st_ino, seen.st_mtime_ns):
            return False
        if scan is not None and scan.in_flight(now.st_mtime):
            return False
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False


async def _check_blocks(gw, provider: EmbeddedProvider, report: CheckReport, scan: _Scan) -> None:
    uncharged: list[tuple[bytes, str]] = []  # whole blocks nobody pays for: removed unless a pin keeps them
    for shard in provider.shards():
        entries = await asyncio.to_thread(provider.entries_of, shard)
        temps, good, torn, unknown = await asyncio.to_thread(_verify_shard, entries, scan)
        report.blocks_checked += len(good) + len(torn)
        report.temp_removed += sum(_remove(path) for path in temps)
        report.unknown += unknown
        for path, name, stat in torn:
            if _remove(path, stat):
                report.torn.append(name)
                log.warning("removed a torn block: %s", name)
                report.charges_dropped += await _drop_charges(gw, name)  # whenever they were made
        for binary, path in good:
            if await gw.store.charge_count(cid_str(binary)) == 0:
                uncharged.append((binary, path))
    if uncharged:  # walking every pin's DAG only when something may be stray
        live, _ = await live_blocks(gw)
        for binary, path in uncharged:
            if cid_str(binary) not in live and await gw.store.charge_count(cid_str(binary)) == 0 \
                    and _remove(path, scan=scan):  # re-stat: a put of it again just now keeps it
                report.orphans_removed += 1


async def _drop_charges(gw, cid: str) -> int:
    """Every charge for a block that is not stored (given back): how many."""
    dropped = 0
    for charge in await gw.store.charges_for(cid):
        dropped += await gw.store.drop_charge(charge["identity"], cid, charge["size"])
    return dropped


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
                report.charges_dropped += await gw.store.drop_charge(charge["identity"], charge["cid"], charge["size"])


async def _check_pins(gw, provider: EmbeddedProvider, report: CheckReport, scan: _Scan) -> None:
    """Pin records and the provider's markers agree: a record whose marker is missing never
    completed (the pin was not acknowledged, or an unpin was cut short), so it is dropped."""
    marked = {cid_str(root) for root in provider.pinned_roots()}
    recorded: set[str] = set()
    for identity, pins in (await gw.store.pins_with_times()).items():
        for root, created in pins:
            recorded.add(root)
            if root in marked or scan.in_flight(created) or provider.is_pinned(parse_cid(root)):
                continue
            await gw.store.remove_pin(identity, root)
            report.pins_dropped.append(root)
    for root in sorted(marked - recorded):
        try:
            mtime = os.stat(provider.marker_path(parse_cid(root))).st_mtime
        except FileNotFoundError:
            continue
        # read again just before: a pin recorded since the listing above keeps its marker
        if not scan.in_flight(mtime) and await gw.store.pin_count(root) == 0:
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
    scan = _Scan(now=time.time(), settled=settled, since=None if full else provider.checkpoint())
    report.scope = "every block" if scan.since is None else "blocks written since the last checkpoint"
    await _check_blocks(gw, provider, report, scan)
    await _check_pins(gw, provider, report, scan)
    await _check_charges(gw, report, scan.since)
    try:  # what was left as in flight is looked at again next time
        await asyncio.to_thread(provider.write_checkpoint, min(scan.now, scan.oldest_left))
    except OSError as exc:  # a full disk: the next check looks further back, that is all
        log.warning("no checkpoint written (%s)", type(exc).__name__)
    return report
