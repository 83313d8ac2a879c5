"""The one interface the gateway uses to store and fetch blocks, whatever the provider.

Providers store bytes under CIDs; they are not trusted for integrity (the gateway checks
every put, clients check every get), nor for confidentiality (they only see ciphertext).
"""

import asyncio
from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from typing import AsyncIterator

from ..core import car, dag
from ..core.cid import DAG_CBOR, cid_str, codec_of
from ..core.envelope import MAX_HEADER_SIZE, max_index_blocks
from ..core.errors import LimitExceededError, MeshKitError, MissingBlockError, UnavailableError

LINKS_CACHE_SIZE = 1_000_000  # links remembered per provider (~40 MiB at most)
DECODE_QUEUE = 8              # callers that may wait for the decode slot
INLINE_DECODE = 16 << 10      # bytes of DAG-CBOR decoded on the event loop itself (~1 ms): no queue


@dataclass
class WalkBudget:
    """How much of a DAG one operation may walk. The defaults hold the largest legal
    envelope of the inline form (FORMAT.md 3.5: a header of up to MAX_HEADER_SIZE bytes
    linking its segments, ~25 GiB) with room. Kept at that: a tree-form envelope past it is
    refused here until the bound follows the bytes an identity has stored (issue 14)."""
    max_blocks: int = 2 * max_index_blocks(1) + 16
    max_cbor_bytes: int = 4 * MAX_HEADER_SIZE
    blocks: int = 0
    cbor_bytes: int = 0

    def block(self) -> None:
        self.blocks += 1
        if self.blocks > self.max_blocks:
            raise LimitExceededError(f"the DAG has more than {self.max_blocks} blocks")

    def cbor(self, size: int) -> None:
        self.cbor_bytes += size
        if self.cbor_bytes > self.max_cbor_bytes:
            raise LimitExceededError(f"the DAG has more than {self.max_cbor_bytes} bytes of DAG-CBOR")


class BlockProvider(ABC):
    name = "abstract"

    async def start(self) -> None:
        """Open connections; raise UnavailableError if the provider cannot be reached."""

    async def close(self) -> None:
        pass

    @abstractmethod
    async def put(self, cid: bytes, data: bytes) -> None:
        """Store a block the caller has already checked against its CID (idempotent)."""

    async def put_many(self, blocks: list[tuple[bytes, bytes]]) -> None:
        """Store checked blocks; returns once all of them are durable (a provider that syncs
        batches them: one sync for the group, not one per block)."""
        await asyncio.gather(*(self.put(cid, data) for cid, data in blocks))

    @abstractmethod
    async def get(self, cid: bytes) -> bytes:
        """The block's bytes; MissingBlockError if absent."""

    @abstractmethod
    async def size(self, cid: bytes) -> int | None:
        """The block's size, or None if absent (HEAD, quotas)."""

    @abstractmethod
    async def pin(self, root: bytes) -> None:
        """Pin a complete DAG recursively (MissingBlockError if any block is absent)."""

    @abstractmethod
    async def unpin(self, root: bytes) -> None: ...

    @abstractmethod
    async def delete(self, cid: bytes) -> None:
        """Drop one block (garbage collection); absent is fine."""

    # --- walking DAGs, bounded and off the event loop ------------------------------------
    # Decoding DAG-CBOR is pure-Python CPU work (a 1 MiB header: seconds). It runs in a
    # worker thread, one decode at a time per provider, with at most DECODE_QUEUE callers
    # waiting (more: UnavailableError at once, never an unbounded queue); results are cached
    # by CID, failures too (a CID's bytes never change), so the same block is never decoded
    # twice. The gateway decodes every DAG-CBOR block when it is put, so what is stored has
    # already been decoded once and cached.
    _links_cached = 0
    _decode_slot: asyncio.Semaphore | None = None
    _decode_waiting = 0

    async def decode_off_loop(self, function, *args):
        """``function(*args)`` in a worker thread, in this provider's one decode slot."""
        if self._decode_slot is None:
            self._decode_slot = asyncio.Semaphore(1)
        if self._decode_waiting >= DECODE_QUEUE:
            busy = UnavailableError("the gateway is busy decoding; try again shortly")
            busy.retry_after = 1  # shed, briefly: clients pace on Retry-After
            raise busy
        self._decode_waiting += 1
        try:
            async with self._decode_slot:
                return await asyncio.to_thread(function, *args)
        finally:
            self._decode_waiting -= 1

    async def links(self, cid: bytes, data: bytes) -> tuple[bytes, ...]:
        if codec_of(cid) != DAG_CBOR:
            return ()
        cache = self.__dict__.setdefault("_links_cache", OrderedDict())
        found = cache.get(cid)
        if found is None:
            try:
                found = tuple(dag.links(cid, data) if len(data) <= INLINE_DECODE
                              else await self.decode_off_loop(dag.links, cid, data))
            except MeshKitError as exc:
                found = exc  # remembered: a bad block costs one decode, not one per read
            cache[cid] = found
            self._links_cached += (len(found) if isinstance(found, tuple) else 0) + 1
            while self._links_cached > LINKS_CACHE_SIZE and cache:
                gone = cache.popitem(last=False)[1]
                self._links_cached -= (len(gone) if isinstance(gone, tuple) else 0) + 1
        else:
            cache.move_to_end(cid)
        if isinstance(found, MeshKitError):
            raise type(found)(found.message)
        return found

    async def walk(self, root: bytes, budget: "WalkBudget | None" = None) -> AsyncIterator[tuple[bytes, bytes]]:
        """Every (cid, data) of the DAG under ``root``, depth first, each block once, within
        ``budget`` (LimitExceededError past it)."""
        budget = budget or WalkBudget()

        async def load(cid: bytes) -> bytes:
            budget.block()
            data = await self.get(cid)
            if codec_of(cid) == DAG_CBOR:
                budget.cbor(len(data))
            return data
        async for block in dag.walk(root, load, self.links):
            yield block

    async def dag_size(self, root: bytes, budget: "WalkBudget | None" = None) -> int:
        """Total bytes of a complete DAG; MissingBlockError names the first absent block."""
        return sum(size for _, size in await self.dag_blocks(root, budget))

    async def dag_blocks(self, root: bytes, budget: "WalkBudget | None" = None) -> list[tuple[bytes, int]]:
        """Every ``(cid, size)`` of a complete DAG, each once; MissingBlockError names the first
        absent block. Only DAG-CBOR blocks are read (raw blocks are leaves: their size is enough)."""
        budget = budget or WalkBudget()

        async def load(cid: bytes) -> bytes | int:
            budget.block()
            if codec_of(cid) == DAG_CBOR:
                data = await self.get(cid)
                budget.cbor(len(data))
                return data
            size = await self.size(cid)
            if size is None:
                raise MissingBlockError(f"block {cid_str(cid)} of {cid_str(root)} is not stored")
            return size
        # links of a raw block: none, whatever was loaded (its size)
        return [(cid, loaded if isinstance(loaded, int) else len(loaded))
                async for cid, loaded in dag.walk(root, load, self.links)]

    async def check_complete(self, root: bytes, budget: "WalkBudget | None" = None) -> None:
        await self.dag_size(root, budget)

    async def export_car(self, root: bytes, budget: "WalkBudget | None" = None) -> AsyncIterator[bytes]:
        """The DAG as a CARv1 stream (root in the header, blocks depth first, no duplicates).

        Fails with MissingBlockError before the first byte if the root itself is absent.
        """
        if await self.size(root) is None:
            raise MissingBlockError("root block is not stored here")
        async for part in car.encode_stream([root], self.walk(root, budget)):
            yield part
