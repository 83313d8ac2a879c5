"""CARv1 framing (https://ipld.io/specs/transport/car/carv1/), pure functions.

A CARv1 is ``varint(len) || dag-cbor({"roots": [...], "version": 1})`` followed by
frames ``varint(len(cid) + len(data)) || cid || data``.
"""

from multiformats import varint

from . import codec
from .cid import is_supported, parse_cid, to_link
from .envelope import max_index_blocks
from .errors import EnvelopeFormatError, LimitExceededError
from .limits import MAX_BLOCK_SIZE, block_limit

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
