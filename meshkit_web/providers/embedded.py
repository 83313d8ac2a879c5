"""The embedded provider: blocks as files on local disk, so one command runs everything.

    DATA/blocks/<2 chars>/<cid>   one file per block, written to a temp name then renamed
    DATA/pins/<cid>               a marker per pinned root
    DATA/checkpoint               when the store was last known durable (see ``checkpoint``)

Durability: nothing is acknowledged before it is on disk. A group of blocks is written
(temp file, rename), then made durable with ONE ``syncfs`` of the store's filesystem (file
data and directory entries alike; where syncfs is missing, each file and directory is
fsynced), before the put returns. Pin markers likewise. A file already at a block's path is
trusted only if it holds exactly the block's bytes: a torn file left by a crash is replaced.

Writes are atomic renames of content-addressed files, so several gateway processes can
share one directory. Unpinning drops the marker; the gateway's collector (gateway/gc.py)
deletes blocks nobody pinned once their grace period is over; gateway/check.py repairs the
store after a crash.
"""

import asyncio
import ctypes
import ctypes.util
import os
import tempfile
import threading
import time

from ..core.cid import cid_str, parse_cid
from ..core.errors import MissingBlockError, StorageFullError
from .base import BlockProvider

TEMP_PREFIX = ".put-"
CHECKPOINT_MARGIN = 2.0  # seconds: mtime granularity and clock steps around a checkpoint


def _load_syncfs():
    """libc's syncfs(2) (Linux), or None where it is missing."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


_SYNCFS = _load_syncfs()


class EmbeddedProvider(BlockProvider):
    name = "embedded"

    def __init__(self, directory: str, *, durable: bool = True, min_free: int = 0):
        self.directory = os.path.abspath(directory)
        self._blocks = os.path.join(self.directory, "blocks")
        self._pins = os.path.join(self.directory, "pins")
        self._checkpoint = os.path.join(self.directory, "checkpoint")
        self.durable = durable  # False only for the benchmark's before/after row
        self.min_free = min_free  # bytes of free space a put must leave on the disk
        self._writing = 0         # bytes of puts in flight in this process (not yet on the disk)
        self._writing_lock = threading.Lock()

    async def start(self) -> None:
        for path in (self.directory, self._blocks, self._pins):
            os.makedirs(path, mode=0o700, exist_ok=True)

    def _path(self, cid: bytes) -> str:
        name = cid_str(cid)  # only CIDs that passed parse_cid reach here: [a-z2-7]
        return os.path.join(self._blocks, name[-2:], name)

    # --- writing, durably --------------------------------------------------------------
    @staticmethod
    def _holds(path: str, data: bytes) -> bool:
        """Whether ``path`` already holds exactly ``data`` (a crash can leave an empty or
        torn file under the right name: that one is rewritten, never trusted)."""
        try:
            if os.stat(path).st_size != len(data):
                return False
            with open(path, "rb") as f:
                if f.read() != data:
                    return False
            os.utime(path)  # put again now: the crash check and the collector see it as young
            return True
        except FileNotFoundError:
            return False

    def _write_one(self, cid: bytes, data: bytes) -> str:
        path = self._path(cid)
        if self._holds(path, data):
            return path
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=f"{TEMP_PREFIX}{os.getpid()}-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                if self.durable and _SYNCFS is None:
                    os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return path

    def _sync(self, paths: list[str]) -> None:
        """Make the files at ``paths`` and their directory entries durable: one syncfs for
        the whole group, or (without syncfs) an fsync of each distinct directory (the files
        themselves were fsynced as they were written)."""
        if not self.durable or not paths:
            return
        if _SYNCFS is not None:
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                if _SYNCFS(fd) != 0:
                    code = ctypes.get_errno()
                    raise OSError(code, os.strerror(code))
            finally:
                os.close(fd)
            return
        for directory in sorted({os.path.dirname(p) for p in paths} | {self._blocks, self._pins}):
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _take_room(self, size: int) -> None:
        """Count ``size`` bytes as being written, or refuse a put that would leave less than
        ``min_free`` on the disk with the puts in flight (the floor keeps room for the
        database: logins and reads go on while blocks are refused)."""
        with self._writing_lock:
            if self.min_free:
                disk = os.statvfs(self.directory)
                if disk.f_bavail * disk.f_frsize - self._writing - size < self.min_free:
                    raise StorageFullError(f"the gateway's disk is full (it keeps {self.min_free >> 20} MiB "
                                           "free): nothing was stored")
            self._writing += size

    def _write_group(self, blocks: list[tuple[bytes, bytes]]) -> None:
        size = sum(len(data) for _, data in blocks)
        self._take_room(size)
        try:  # a full disk (ENOSPC) is storage_full at the gateway (gateway/http.py OS_FAULTS)
            self._sync([self._write_one(cid, data) for cid, data in blocks])
        finally:
            with self._writing_lock:
                self._writing -= size

    async def put(self, cid: bytes, data: bytes) -> None:
        await self.put_many([(cid, data)])

    async def put_many(self, blocks: list[tuple[bytes, bytes]]) -> None:
        await asyncio.to_thread(self._write_group, blocks)

    # --- reading -----------------------------------------------------------------------
    def _read(self, cid: bytes) -> bytes:
        try:
            with open(self._path(cid), "rb") as f:
                return f.read()
        except FileNotFoundError:
            raise MissingBlockError(f"block {cid_str(cid)} is not stored") from None

    async def get(self, cid: bytes) -> bytes:
        return await asyncio.to_thread(self._read, cid)

    async def size(self, cid: bytes) -> int | None:
        try:
            return os.stat(self._path(cid)).st_size
        except FileNotFoundError:
            return None

    # --- pins --------------------------------------------------------------------------
    def marker_path(self, root: bytes) -> str:
        return os.path.join(self._pins, cid_str(root))

    def _mark(self, root: bytes) -> None:
        open(self.marker_path(root), "a").close()
        os.utime(self.marker_path(root))  # pinned now, whenever the marker was first made
        self._sync([self.marker_path(root)])

    async def pin(self, root: bytes) -> None:
        await self.dag_size(root)  # every block must be present, as with Kubo's recursive pin
        await asyncio.to_thread(self._mark, root)

    async def unpin(self, root: bytes) -> None:
        try:
            os.unlink(self.marker_path(root))
        except FileNotFoundError:
            pass

    async def delete(self, cid: bytes) -> None:
        try:
            os.unlink(self._path(cid))
        except FileNotFoundError:
            pass

    def is_pinned(self, root: bytes) -> bool:
        return os.path.exists(self.marker_path(root))

    def pinned_roots(self) -> list[bytes]:
        """Every root with a pin marker (the check reconciles them with the pin records)."""
        return [parse_cid(name) for name in sorted(os.listdir(self._pins)) if not name.startswith(".")]

    # --- the crash check's view of the store ---------------------------------------------
    def shards(self) -> list[str]:
        return sorted(e.path for e in os.scandir(self._blocks) if e.is_dir(follow_symlinks=False))

    @staticmethod
    def entries_of(shard: str) -> list[tuple[str, str, os.stat_result]]:
        """Every file of one shard directory: (path, name, stat), blocks and leftover temp files."""
        return [(e.path, e.name, e.stat(follow_symlinks=False)) for e in os.scandir(shard)
                if e.is_file(follow_symlinks=False)]

    def checkpoint(self) -> float | None:
        """The time before which every file in the store is known durable (None: never checked)."""
        try:
            with open(self._checkpoint) as f:
                when = float(f.read().strip())
        except (FileNotFoundError, ValueError):
            return None
        return when - CHECKPOINT_MARGIN if when <= time.time() else None  # a clock stepped back: trust none

    def write_checkpoint(self, before: float | None = None) -> None:
        """After a sync: everything written before ``before`` (default: now) is on disk, so
        the next check need only look at files changed since."""
        now = time.time() if before is None else min(before, time.time())  # the time first, then the sync
        self._sync([self._checkpoint])
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(f"{now:.3f}\n")
            os.replace(tmp, self._checkpoint)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._sync([self._checkpoint])
