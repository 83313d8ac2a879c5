"""CARv1 framing (https://ipld.io/specs/transport/car/carv1/), pure functions.

A CARv1 is ``varint(len) || dag-cbor({"roots": [...], "version": 1})`` followed by
frames ``varint(len(cid) + len(data)) || cid || data``.
"""

from multiformats import varint

from . import codec
from .cid import parse_cid, to_link
from .errors import EnvelopeFormatError

MAX_HEADER_LEN = 1 << 16
MAX_FRAME_LEN = 8 << 20


def encode_header(roots: list[bytes]) -> bytes:
    body = codec.encode({"roots": [to_link(r) for r in roots], "version": 1})
    return varint.encode(len(body)) + body


def frame_prefix(cid: bytes, data_len: int) -> bytes:
    """Everything of a block's frame but its data (so large data is never copied)."""
    return varint.encode(len(cid) + data_len) + cid


def decode_header(body: bytes) -> list[bytes]:
    obj = codec.decode_map(body, "CAR header")
    roots = obj.get("roots")
    if obj.get("version") != 1 or not isinstance(roots, list):
        raise EnvelopeFormatError("not a CARv1 header")
    return [parse_cid(r) for r in roots]


def read_varint(read) -> int | None:
    """Read an unsigned LEB128 varint with ``read(n)``; None at a clean end of input."""
    value, shift = 0, 0
    for position in range(9):
        byte = read(1)
        if not byte:
            if position == 0:
                return None
            raise EnvelopeFormatError("CAR truncated inside a length prefix")
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
        shift += 7
    raise EnvelopeFormatError("CAR length prefix is too long")


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
