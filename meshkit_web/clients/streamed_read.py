"""A whole envelope read from one streamed CAR (the trustless gateway's
``GET /ipfs/{root}?format=car&dag-scope=all``) instead of a request per block.

Only scheduling: the gateway is trusted with nothing more than before. Each block the
stream brings is handed to Core under the CID its frame claims, and Core checks that CID
against the bytes before decrypting, as for a block fetched alone. A gateway walks the DAG
depth first (header, then its links in order), which is the order a whole read asks for
the blocks in. Should the stream not bring the block asked for within a few frames, break
off, be refused or be malformed, the read goes on block by block (``get_block``): nothing
is lost but speed. At most READ_AHEAD blocks are held, whatever the stream sends.
"""

import asyncio
import logging
from collections import OrderedDict

from ..core.car import CAR_MEDIA, CarStream
from ..core.cid import cid_str
from ..core.errors import EnvelopeFormatError, MeshKitError

log = logging.getLogger("meshkit.client")

READ_AHEAD = 8  # frames read past a missing one before the stream is given up; blocks held at most
IDLE_CLOSE_S = 10.0  # a read paused this long (a paused player, a stalled download) lets go of
# its connection: a browser has ~6 per host, shared by every tab and the worker


class StreamedRead:
    """A block getter for one in-order read of the DAG under ``root`` (callable; aclose() after)."""

    def __init__(self, client, root: bytes, *, max_blocks: int, read_ahead: int = READ_AHEAD):
        self._client = client
        self._root = root
        self._max_blocks = max_blocks  # the envelope's own count: a longer CAR is cut off there
        self._read_ahead = read_ahead
        self._held: OrderedDict[bytes, bytes] = OrderedDict()  # arrived before they were asked for
        self._lock = asyncio.Lock()  # one reader of the stream at a time
        self._stream = None
        self._frames = None
        self._given_up = False
        self._idle = None  # the timer that closes a paused read's stream
        self._used = 0.0   # when a block was last asked for (the loop's clock)
        self._closing = None

    async def __call__(self, cid: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        self._used = loop.time()
        try:
            async with self._lock:
                data = self._held.pop(cid, None)
                if data is None and not self._given_up:
                    data = await self._from_stream(cid)
        finally:
            self._used = loop.time()
            if self._idle is None and self._stream is not None and not self._given_up:
                self._idle = loop.call_later(IDLE_CLOSE_S, self._when_idle)  # one timer per read
        return data if data is not None else await self._client.get_block(cid)

    def _when_idle(self) -> None:
        """The timer: closes the stream once no block was asked for in IDLE_CLOSE_S."""
        self._idle = None
        if self._given_up or self._stream is None:
            return
        loop = asyncio.get_running_loop()
        quiet = loop.time() - self._used
        if self._lock.locked() or quiet < IDLE_CLOSE_S:  # in use: look again when it could be idle
            self._idle = loop.call_later(IDLE_CLOSE_S - min(quiet, IDLE_CLOSE_S - 0.01), self._when_idle)
            return
        log.info("streamed read of %s paused for %.0f s: block by block from here", cid_str(self._root),
                 IDLE_CLOSE_S)
        self._given_up = True  # now, before any await: no caller starts on the stream again
        self._closing = asyncio.ensure_future(self._close_when_free())

    async def _close_when_free(self) -> None:
        async with self._lock:
            self._held.clear()
            await self.aclose()

    async def _from_stream(self, cid: bytes) -> bytes | None:
        reason = None
        try:
            if self._frames is None:
                await self._open()
            for _ in range(self._read_ahead + 1):
                got, data = await self._frames.__anext__()
                if got == cid:
                    return data
                self._held[got] = data
                if len(self._held) > self._read_ahead:
                    self._held.popitem(last=False)  # never asked for (an index block read alone)
            reason = f"block {cid_str(cid)} not among the next {self._read_ahead + 1} frames"
        except StopAsyncIteration:
            reason = f"the stream ended before block {cid_str(cid)}"
        except MeshKitError as exc:
            reason = str(exc)
        except BaseException:  # cancelled mid-frame: the stream's position is lost
            self._given_up = True
            raise
        log.info("streamed read of %s: %s; block by block from here", cid_str(self._root), reason)
        await self._give_up()
        return None

    async def _open(self) -> None:
        self._stream = await self._client.stream_get(
            f"/ipfs/{cid_str(self._root)}?format=car&dag-scope=all&dups=n", accept=CAR_MEDIA)
        if self._stream.status != 200 or not self._stream.media_type.startswith(CAR_MEDIA):
            raise MeshKitError(f"gateway answered HTTP {self._stream.status} ({self._stream.media_type[:60]!r})")
        car = CarStream(self._stream.chunks)
        if await car.header() != [self._root]:
            raise EnvelopeFormatError("the CAR's root is not the one asked for")
        self._frames = car.blocks(self._max_blocks).__aiter__()

    async def _give_up(self) -> None:
        self._given_up = True
        self._held.clear()
        await self.aclose()

    async def aclose(self) -> None:
        """Let go of the stream (a read that ends, or gives up); later calls go block by block."""
        self._given_up = True
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        frames, stream, self._frames, self._stream = self._frames, self._stream, None, None
        try:
            if frames is not None:
                await frames.aclose()
        finally:
            if stream is not None:
                await stream.aclose()
