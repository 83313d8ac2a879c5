"""Blocks to the gateway: one at a time, in CAR batches, and a whole envelope's blocks in
order with a few requests in flight.

``Upload`` needs only a session's ``request`` (clients/session.py; a test passes a fake in
memory), so its batching, its bound on requests in flight, its landing order and its
fallback for a gateway without batches are tested without a network
(tests/clients/test_upload.py).
"""

import asyncio
import logging
from typing import AsyncIterable, Awaitable, Callable

from ..core import car
from ..core import clock as clocks
from ..core.cid import DAG_CBOR, cid_str
from ..core.proof import SEALED, make_proof

log = logging.getLogger("meshkit.client")

UPLOAD_CONCURRENCY = 3  # upload requests in flight while sealing: bounded memory, overlapped latency
BATCH_BYTES = 4 << 20   # segments sent per request (a CAR to POST /v1/blocks): fewer round trips
BATCH_BLOCKS = 64       # (well inside the gateway's max_batch_blocks)

Block = tuple[int, bytes, bytes]  # (seq, cid, data): seq numbers the envelope's blocks from 0 (or a resume point)
OnLanded = Callable[[int, int], Awaitable[None] | None]


class Upload:
    """How one client's blocks reach its gateway. ``session``: anything with the session's
    ``request`` and ``safe_url`` (and ``backend``/``identity`` for ``finish``). Set
    ``batch_bytes``/``batch_blocks`` to send smaller batches (tests do)."""

    def __init__(self, session, *, batch_bytes: int = BATCH_BYTES, batch_blocks: int = BATCH_BLOCKS,
                 concurrency: int = UPLOAD_CONCURRENCY):
        self.session = session
        self.batch_bytes = batch_bytes
        self.batch_blocks = batch_blocks
        self.concurrency = concurrency
        self.batch_route = True  # False once the gateway has said it has no POST /v1/blocks

    async def put_block(self, cid: bytes, data: bytes) -> None:
        await self.session.request("PUT", f"/v1/blocks/{cid_str(cid)}", body=bytes(data),
                                   content_type="application/octet-stream")

    async def put_batch(self, blocks: list[tuple[bytes, bytes]]) -> None:
        """Several ``(cid, data)`` blocks in one request: a CAR body to POST /v1/blocks, each
        block CID-checked by the gateway as it streams in."""
        if not self.batch_route:
            for cid, data in blocks:
                await self.put_block(cid, data)
            return
        parts = [car.encode_header([blocks[0][0]])]
        for cid, data in blocks:
            parts += (car.frame_prefix(cid, len(data)), data)
        reply = await self.session.request("POST", "/v1/blocks", body=parts, content_type=car.CAR_MEDIA,
                                           ok=(200, 201, 404, 405))
        if reply.status in (404, 405):  # a gateway from before batches: one block per request
            log.info("gateway %s takes no batches (HTTP %d): putting blocks one by one", self.session.safe_url,
                     reply.status)
            self.batch_route = False
            await self.put_batch(blocks)

    async def put_blocks(self, blocks: AsyncIterable[Block], *, on_landed: OnLanded | None = None) -> bytes:
        """Upload ``(seq, cid, data)`` blocks of one envelope in order: segments in batches of
        up to ``batch_bytes``/``batch_blocks`` (one request each, ``concurrency`` in flight);
        a DAG-CBOR block (index, header: the root is last) goes alone once every block before
        it has landed, since it links to them. ``on_landed(seq, mark)`` runs as each block
        lands, every block numbered below ``mark`` having landed: where to resume after a
        crash. Puts are idempotent (content-addressed), so resuming early is harmless.
        Returns the root (the last CID). The first failure is raised and the requests still
        in flight are cancelled."""
        landing = _Landing(on_landed)
        flight = _InFlight(self.concurrency)
        root = None
        batch: list[Block] = []
        size = 0
        try:
            async for seq, cid, data in blocks:
                landing.begin(seq)
                root = cid
                if cid[1] == DAG_CBOR:  # links only to blocks that have landed
                    if batch:
                        await flight.start(self._put_group, batch, landing)
                        batch, size = [], 0
                    await flight.drain()
                    await self._put_group([(seq, cid, data)], landing)
                    continue
                batch.append((seq, cid, data))
                size += len(data)
                if size >= self.batch_bytes or len(batch) >= self.batch_blocks:
                    await flight.start(self._put_group, batch, landing)
                    batch, size = [], 0
            if batch:
                await flight.start(self._put_group, batch, landing)
            await flight.drain()
        finally:
            await flight.cancel()
        return root

    async def _put_group(self, group: list[Block], landing: "_Landing") -> None:
        if len(group) == 1:
            await self.put_block(group[0][1], group[0][2])
        else:
            await self.put_batch([(cid, data) for _, cid, data in group])
        for seq, _, _ in group:
            await landing.landed(seq)

    async def pin(self, root: bytes) -> dict:
        return (await self.session.request("POST", f"/v1/pins/{cid_str(root)}")).json()

    async def finish(self, root: bytes, *, pin: bool = True, proof: bytes | None = None) -> bytes:
        """Pin the root and store a signed 'sealed' proof (``proof``: one made earlier, so
        a retried finish stores the same proof, not a second one). Both are idempotent."""
        if pin:
            await self.pin(root)
        if proof is None:
            proof = (await make_proof(self.session.backend, self.session.identity, SEALED, root,
                                      now=int(clocks.local_now()))).data
        await self.session.request("POST", "/v1/proofs", body=proof, content_type="application/cbor")
        return proof


class _Landing:
    """Which blocks of one envelope have landed: ``mark`` is the first block not known to
    have landed (every one before it has), blocks landed past a gap wait in ``ahead``."""

    def __init__(self, on_landed: OnLanded | None):
        self.on_landed = on_landed
        self.mark: int | None = None
        self.ahead: set[int] = set()

    def begin(self, seq: int) -> None:
        if self.mark is None:
            self.mark = seq  # the first block given: a resumed upload starts past 0

    async def landed(self, seq: int) -> None:
        self.ahead.add(seq)
        while self.mark in self.ahead:
            self.ahead.discard(self.mark)
            self.mark += 1
        if self.on_landed is not None:
            result = self.on_landed(seq, self.mark)
            if result is not None:
                await result


class _InFlight:
    """At most ``limit`` requests running; the first failure among them is raised."""

    def __init__(self, limit: int):
        self.limit = limit
        self.tasks: set[asyncio.Task] = set()

    async def start(self, put, *args) -> None:
        """Run ``put(*args)``, once a place is free (waiting first: no request is made, and
        no batch held in a task, beyond the bound)."""
        if len(self.tasks) >= self.limit:
            done, self.tasks = await asyncio.wait(self.tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        self.tasks.add(asyncio.ensure_future(put(*args)))

    async def drain(self) -> None:
        for task in asyncio.as_completed(self.tasks):
            await task
        self.tasks = set()

    async def cancel(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = set()
