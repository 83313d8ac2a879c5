"""CARv1 framing (https://ipld.io/specs/transport/car/carv1/), pure functions.

A CARv1 is ``varint(len) || dag-cbor({"roots": [...], "version": 1})`` followed by
frames ``varint(len(cid) + len(data)) || cid || data``.
"""

from typing import AsyncIterable, AsyncIterator, Iterable, Iterator

from multiformats import varint

from . import codec
from .cid import is_supported, parse_cid, to_link
from .envelope import max_index_blocks
from .errors import EnvelopeFormatError, LimitExceededError
from .limits import MAX_BLOCK_SIZE, block_limit

CAR_MEDIA = "application/vnd.ipld.car"  # https://www.iana.org/assignments/media-types/application/vnd.ipld.car

# A CAR is untrusted input: every size below is what a legal MeshKit CAR can need, so a
# hostile one is refused after work proportional to its (bounded) legal size.
MAX_ROOTS = 64
MAX_HEADER_LEN = 4096          # a header naming MAX_ROOTS roots (~40 bytes each)
# as before the segment index (~25 500 frames, an envelope of ~25 GiB); a CAR of a larger
# tree-form envelope is refused for now (the bound should follow the CAR's size: issue 14)
MAX_BLOCKS = max_index_blocks(1) + 1
MAX_VARINT_LEN = 9             # a varint of up to 63 bits; the values themselves are bounded far lower
CID_LEN = 36                   # the only CIDs an envelope has: CIDv1, raw or dag-cbor, sha2-256


def encode_header(roots: list[bytes]) -> bytes:
    body = codec.encode({"roots": [to_link(r) for r in roots], "version": 1})
    return varint.encode(len(body)) + body


def frame_prefix(cid: bytes, data_len: int) -> bytes:
    """Everything of a block's frame but its data (so large data is never copied)."""
    return varint.encode(len(cid) + data_len) + cid


# --- writing: the one place a CAR is laid out, whoever writes it (a file, a request body, a
# response stream); each frame is two parts, its prefix and the block's data as it was given

def frame(cid: bytes, data: bytes) -> tuple[bytes, bytes]:
    """A block's frame as the two parts to write: its prefix, then ``data`` itself."""
    return frame_prefix(cid, len(data)), data


def encode_parts(roots: list[bytes], blocks: Iterable[tuple[bytes, bytes]]) -> Iterator[bytes]:
    """A CARv1 naming ``roots``, of ``blocks`` ((cid, data), in order) as the parts to write
    one after another: the header, then each frame's prefix and its data."""
    yield encode_header(roots)
    for cid, data in blocks:
        yield from frame(cid, data)


def encode(roots: list[bytes], blocks: Iterable[tuple[bytes, bytes]]) -> bytes:
    """A whole CARv1 (as ``encode_parts``) in one bytes object: for small CARs."""
    return b"".join(encode_parts(roots, blocks))


async def encode_stream(roots: list[bytes], blocks: AsyncIterable[tuple[bytes, bytes]]) -> AsyncIterator[bytes]:
    """As ``encode_parts``, of blocks that come from an async iterable (a DAG walk): the
    header goes first, before the first block is asked for."""
    yield encode_header(roots)
    async for cid, data in blocks:
        for part in frame(cid, data):
            yield part


def decode_header(body: bytes) -> list[bytes]:
    obj = codec.decode_map(body, "CAR header")
    roots = obj.get("roots")
    version = obj.get("version")
    if type(version) is not int or version != 1 or not isinstance(roots, list):  # true and 1.0 are not 1
        raise EnvelopeFormatError("not a CARv1 header")
    if len(roots) > MAX_ROOTS:
        raise LimitExceededError(f"CAR header names more than {MAX_ROOTS} roots")
    return [parse_cid(r) for r in roots]


def decode_varint(buf: bytes, pos: int = 0) -> tuple[int, int]:
    """An unsigned LEB128 varint at ``buf[pos:]``: (value, end). At most MAX_VARINT_LEN
    bytes and minimally encoded (one value, one encoding); typed errors otherwise."""
    value = 0
    for i in range(MAX_VARINT_LEN):
        if pos + i >= len(buf):
            raise EnvelopeFormatError("CAR truncated inside a length prefix")
        byte = buf[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if byte == 0 and i > 0:
                raise EnvelopeFormatError("CAR length prefix is not minimally encoded")
            return value, pos + i + 1
    raise EnvelopeFormatError("CAR length prefix is too long")


def read_varint(read) -> int | None:
    """A varint (as :func:`decode_varint`) read with ``read(n)``; None at a clean end of input."""
    taken = b""
    while len(taken) < MAX_VARINT_LEN:
        byte = read(1)
        if not byte:
            if not taken:
                return None
            break
        taken += byte
        if not byte[0] & 0x80:
            break
    return decode_varint(taken)[0]


def check_frame(cid: bytes, frame_len: int) -> int:
    """The data length of a frame ``cid`` starts, within what that block may legally hold."""
    if frame_len > CID_LEN + MAX_BLOCK_SIZE:  # before anything else: a huge varint is just that
        raise LimitExceededError(f"CAR frame length {frame_len} is over the largest legal block")
    if not is_supported(cid):
        raise EnvelopeFormatError("CAR frame does not start with a CIDv1 (raw or dag-cbor, sha2-256)")
    data_len = frame_len - len(cid)
    if data_len <= 0:  # no block of an envelope is empty: an empty frame is filler
        raise EnvelopeFormatError("CAR frame holds no block data")
    limit = block_limit(cid)
    if data_len > limit:
        raise LimitExceededError(f"CAR frame of {data_len} bytes is over the {limit} a block may have")
    return data_len


def split_frame_cid(frame_start: bytes) -> int:
    """Length of the CID at the start of a frame.

    A CIDv0 is a bare sha2-256 multihash (0x12 0x20 + 32 bytes); a CIDv1 is version, codec,
    multihash code and digest length varints followed by the digest.
    """
    if frame_start[:2] == b"\x12\x20":
        return 34
    try:
        pos = 0
        for _ in range(3):  # version, codec, multihash code
            _, n, _ = varint.decode_raw(frame_start[pos:])
            pos += n
        digest_len, n, _ = varint.decode_raw(frame_start[pos:])
        return pos + n + digest_len
    except Exception as exc:
        raise EnvelopeFormatError("CAR frame does not start with a CIDv1") from exc


class CarStream:
    """A CARv1 read as it arrives from an async iterable of byte chunks (a request body, a
    response stream): ``await header()`` gives the roots, then ``blocks(max_blocks)`` yields
    ``(cid, data)`` frame by frame. Nothing is trusted: every length is bounded as in a CAR
    file before it is read, so at most one frame plus one incoming chunk is buffered.
    The data is NOT checked against its CID here: whoever uses a block verifies it."""

    def __init__(self, chunks):
        self._chunks = chunks.__aiter__()
        self._buffer = bytearray()
        self._pos = 0
        self._ended = False

    async def _fill(self, n: int) -> bool:
        """At least ``n`` unread bytes buffered; False if the stream ends first."""
        while len(self._buffer) - self._pos < n:
            if self._ended:
                return False
            try:
                chunk = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._ended = True
                return False
            if self._pos:  # drop what was read (at most a frame prefix is left over)
                del self._buffer[:self._pos]
                self._pos = 0
            self._buffer += chunk
        return True

    def _take(self, n: int) -> bytes:
        data = bytes(self._buffer[self._pos:self._pos + n])
        self._pos += n
        return data

    async def _varint_and_peek(self, extra: int) -> tuple[int, bytes] | None:
        """A length varint and up to ``extra`` bytes after it (not consumed); None at a clean end."""
        if not await self._fill(1):
            return None
        await self._fill(MAX_VARINT_LEN + extra)
        window = bytes(self._buffer[self._pos:self._pos + MAX_VARINT_LEN + extra])
        value, used = decode_varint(window)
        self._pos += used
        return value, window[used:used + extra]

    async def header(self) -> list[bytes]:
        found = await self._varint_and_peek(0)
        if found is None or found[0] == 0:
            raise EnvelopeFormatError("not a CAR (empty)")
        header_len = found[0]
        if header_len > MAX_HEADER_LEN:
            raise LimitExceededError(f"CAR header of {header_len} bytes is over {MAX_HEADER_LEN}")
        if not await self._fill(header_len):
            raise EnvelopeFormatError("CAR truncated inside its header")
        return decode_header(self._take(header_len))

    async def blocks(self, max_blocks: int = MAX_BLOCKS):
        count = 0
        while True:
            found = await self._varint_and_peek(CID_LEN)
            if found is None:
                return
            if count >= max_blocks:
                raise LimitExceededError(f"CAR holds more than {max_blocks} blocks")
            frame_len, cid = found
            data_len = check_frame(cid, frame_len)
            if not await self._fill(frame_len):
                raise EnvelopeFormatError("CAR truncated inside a block")
            self._pos += len(cid)
            yield cid, self._take(data_len)
            count += 1
