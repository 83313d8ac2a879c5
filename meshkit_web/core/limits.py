"""The largest block an envelope can legally have, by codec: what any reader of untrusted
blocks (a gateway reply, a CAR frame) may buffer before it gives up with LimitExceededError."""

from .cid import DAG_CBOR
from .envelope import MAX_HEADER_SIZE, MAX_SEGMENT_SIZE
from .hpke import TAG_LEN

MAX_SEGMENT_BLOCK = MAX_SEGMENT_SIZE + TAG_LEN  # a sealed segment of the largest size (raw)
MAX_BLOCK_SIZE = max(MAX_SEGMENT_BLOCK, MAX_HEADER_SIZE)
# JSON and CBOR replies (records, capsules, listings, a sync record's 1 MiB as base64): 1 MiB + a margin
MAX_REPLY_SIZE = (1 << 20) * 3 // 2


def block_limit(cid: bytes) -> int:
    """Bytes a block with this CID may have: a header (DAG-CBOR) or a sealed segment (raw)."""
    return MAX_HEADER_SIZE if len(cid) > 1 and cid[1] == DAG_CBOR else MAX_SEGMENT_BLOCK
