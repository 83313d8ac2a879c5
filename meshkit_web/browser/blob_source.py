"""A Blob (a picked File) as a seal's source, its bytes kept on the JS side.

Core's ``seal`` asks a source with ``segments(size)`` for its segments (core.pipeline.
segments_of). Here they are zero-copy views (Uint8Array.subarray) of large Blob slices,
handed to the WebCrypto backend as they are: the plaintext never crosses into Python's
heap, saving three copies of every byte. Large slices because Chromium reads a Blob
through its browser process: measured on these machines, 1 MiB slices read at ~200 MiB/s,
16 MiB slices at ~900 MiB/s. One slice is read ahead while the one before is sealed."""

import asyncio

from ..core.errors import StagingInterruptedError

SLICE_TARGET = 16 << 20  # bytes per Blob read, rounded down to whole segments


class JsBytes:
    """Bytes that stay in JS (``array``: a Uint8Array); Python only passes them on.
    ``len()`` works; ``bytes()`` copies them into Python (for a backend that needs that)."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __len__(self) -> int:
        return int(self.array.length)

    def __bytes__(self) -> bytes:
        return self.array.to_bytes()


class BlobSource:
    def __init__(self, blob, slice_target: int = SLICE_TARGET):
        self.blob = blob
        self.size = int(blob.size)
        self.slice_target = slice_target

    async def _read(self, offset: int, length: int):
        from .ffi import JsException, js
        try:
            return js.Uint8Array.new(await self.blob.slice(offset, min(offset + length, self.size)).arrayBuffer())
        except JsException:  # NotReadableError: the file was changed or removed on disk
            raise StagingInterruptedError("the file could not be read (changed or removed while encrypting?)") from None

    async def segments(self, segment_size: int):
        """Exactly ``segment_size`` bytes each (the last may be shorter); nothing for an empty Blob."""
        length = max(1, self.slice_target // segment_size) * segment_size
        ahead = asyncio.ensure_future(self._read(0, length)) if self.size else None
        offset = 0
        try:
            while ahead is not None:
                array = await ahead
                got = int(array.length)
                if got != min(length, self.size - offset):  # the file changed on disk under us
                    raise StagingInterruptedError("the file changed while it was being encrypted: encrypt it again")
                offset += got
                ahead = asyncio.ensure_future(self._read(offset, length)) if offset < self.size else None
                for start in range(0, got, segment_size):
                    yield JsBytes(array.subarray(start, min(start + segment_size, got)))
        finally:
            if ahead is not None:
                ahead.cancel()
