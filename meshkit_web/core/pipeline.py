"""Scheduling for the envelope code: how many segments are in flight, never what is done
to them. ``core/envelope`` reads as the spec (segment, nonce, seal, link); the overlap of
reading, sealing, hashing and storing lives here, bounded so memory stays a few segments
whatever the size of the file."""

import asyncio
from collections import deque
from typing import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def chunks(source: AsyncIterable[bytes] | Iterable[bytes]) -> AsyncIterator[bytes]:
    if hasattr(source, "__aiter__"):
        async for chunk in source:
            yield chunk
    else:
        for chunk in source:
            yield chunk


async def rechunk(source: AsyncIterable[bytes] | Iterable[bytes], size: int) -> AsyncIterator[bytes]:
    """Re-cut arbitrary chunks into pieces of exactly ``size`` bytes (the last may be
    shorter; empty input gives nothing). Each byte is copied once: whole pieces are cut
    straight out of a large chunk, only a piece spanning chunks is assembled."""
    partial = bytearray()
    async for chunk in chunks(source):
        if type(chunk) is bytes and not partial and len(chunk) == size:
            yield chunk  # already a piece: no copy
            continue
        pieces = []
        # the view is released before the next chunk is asked for: a producer may then
        # resize or close its buffer (a reused bytearray, an mmap)
        with memoryview(chunk) as whole, whole.cast("B") as view:
            pos = 0
            if partial:
                pos = min(len(view), size - len(partial))
                partial += view[:pos]
                if len(partial) == size:
                    pieces.append(bytes(partial))
                    partial.clear()
            if not partial:
                while len(view) - pos >= size:
                    pieces.append(bytes(view[pos:pos + size]))
                    pos += size
                partial += view[pos:]
        for piece in pieces:
            yield piece
    if partial:
        yield bytes(partial)


def segments_of(source, size: int) -> AsyncIterator:
    """The plaintext segments of a seal's source: a source with its own ``segments(size)``
    cuts them itself (the browser's Blob reader, whose bytes stay on the JS side); any
    other iterable of byte chunks is re-cut here."""
    cut = getattr(source, "segments", None)
    return cut(size) if callable(cut) else rechunk(source, size)


async def numbered_with_last(items: AsyncIterable[T], empty: T) -> AsyncIterator[tuple[int, T, bool]]:
    """``(index, item, is_last)`` for each item, holding one back until the next shows
    whether it is the last; no items at all gives ``(0, empty, True)``."""
    index, pending, have = 0, None, False
    async for item in items:
        if have:
            yield index, pending, False
            index += 1
        pending, have = item, True
    yield index, (pending if have else empty), True


async def ordered_map(work: Callable[[T], Awaitable[R]], items: AsyncIterable[T], depth: int) -> AsyncIterator[R]:
    """``work(item)`` for every item with up to ``depth`` running at once, results in input
    order. An item's error is raised when iteration reaches it; leaving early (an error, a
    consumer that stops) cancels and collects whatever is still running."""
    running: deque[asyncio.Future] = deque()
    try:
        async for item in items:
            running.append(asyncio.ensure_future(work(item)))
            await asyncio.sleep(0)  # let it start before the caller's synchronous work
            if len(running) >= depth:
                yield await running.popleft()
        while running:
            yield await running.popleft()
    finally:
        for task in running:
            task.cancel()
        for task in running:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
