"""The one interface the gateway uses to store and fetch blocks, whatever the provider.

Providers store bytes under CIDs; they are not trusted for integrity (the gateway checks
every put, clients check every get), nor for confidentiality (they only see ciphertext).
"""

from abc import ABC, abstractmethod
from typing import AsyncIterator

from ..core import car, dag
from ..core.cid import DAG_CBOR, cid_str, codec_of
from ..core.errors import MissingBlockError


class BlockProvider(ABC):
    name = "abstract"

    async def start(self) -> None:
        """Open connections; raise UnavailableError if the provider cannot be reached."""

    async def close(self) -> None:
        pass

    @abstractmethod
    async def put(self, cid: bytes, data: bytes) -> None:
        """Store a block the caller has already checked against its CID (idempotent)."""

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

    async def walk(self, root: bytes) -> AsyncIterator[tuple[bytes, bytes]]:
        """Every (cid, data) of the DAG under ``root``, depth first, each block once."""
        seen: set[bytes] = set()
        stack = [root]
        while stack:
            cid = stack.pop()
            if cid in seen:
                continue
            seen.add(cid)
            data = await self.get(cid)
            yield cid, data
            stack.extend(reversed(dag.links(cid, data)))

    async def dag_size(self, root: bytes) -> int:
        """Total bytes of a complete DAG; MissingBlockError names the first absent block.
        Only DAG-CBOR blocks are read (raw blocks are leaves: their size is enough)."""
        total, seen, stack = 0, set(), [root]
        while stack:
            cid = stack.pop()
            if cid in seen:
                continue
            seen.add(cid)
            if codec_of(cid) == DAG_CBOR:
                data = await self.get(cid)
                total += len(data)
                stack.extend(dag.links(cid, data))
            else:
                size = await self.size(cid)
                if size is None:
                    raise MissingBlockError(f"block {cid_str(cid)} of {cid_str(root)} is not stored")
                total += size
        return total

    async def check_complete(self, root: bytes) -> None:
        await self.dag_size(root)

    async def export_car(self, root: bytes) -> AsyncIterator[bytes]:
        """The DAG as a CARv1 stream (root in the header, blocks depth first, no duplicates).

        Fails with MissingBlockError before the first byte if the root itself is absent.
        """
        if await self.size(root) is None:
            raise MissingBlockError("root block is not stored here")
        yield car.encode_header([root])
        async for cid, data in self.walk(root):
            yield car.frame_prefix(cid, len(data))
            yield data
