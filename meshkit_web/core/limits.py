"""The largest block an envelope can legally have, by codec: what any reader of untrusted
blocks (a gateway reply, a CAR frame) may buffer before it gives up with LimitExceededError.
And what a stored block or message costs a storage quota (``charged_size``), the one rule
the gateway charges by and clients estimate with."""

from .cid import DAG_CBOR
from .envelope import (DEFAULT_SEGMENT_SIZE, MAX_HEADER_SIZE, MAX_SEGMENT_SIZE, MIN_SEGMENT_SIZE, index_block_count,
                       sealed_size, segment_count)
from .hpke import TAG_LEN

MAX_SEGMENT_BLOCK = MAX_SEGMENT_SIZE + TAG_LEN  # a sealed segment of the largest size (raw)
MIN_SEGMENT_BLOCK = MIN_SEGMENT_SIZE + TAG_LEN  # a whole sealed segment of the smallest size (a last one may be shorter)
MAX_BLOCK_SIZE = max(MAX_SEGMENT_BLOCK, MAX_HEADER_SIZE)
# JSON and CBOR replies (records, capsules, listings, a sync record's 1 MiB as base64): 1 MiB + a margin
MAX_REPLY_SIZE = (1 << 20) * 3 // 2


def block_limit(cid: bytes, segment_limit: int = MAX_SEGMENT_BLOCK) -> int:
    """Bytes a block with this CID may have: a header (DAG-CBOR) or a sealed segment (raw:
    ``segment_limit``, by default the largest sealed segment; a gateway passes its
    configured ``max_block_size``)."""
    return MAX_HEADER_SIZE if len(cid) > 1 and cid[1] == DAG_CBOR else segment_limit


# --- what storage costs: one rule for the gateway's charges and the client's estimate ----------

# A stored block costs the gateway a file, an inode, at least one 4 KiB disk block and a row,
# and a message a row and its index entries, whatever their length: each is charged at least
# this much against its owner's storage quota (docs/GATEWAY.md, "Storage, quotas").
MIN_CHARGE = 4096


def charged_size(size: int) -> int:
    """What storing one block or message of ``size`` bytes costs its owner's quota."""
    return max(int(size), MIN_CHARGE)


def charged_envelope_size(size: int, recipients: int, segment_size: int | None = None) -> int:
    """An upper bound of what uploading an envelope of ``size`` plaintext bytes costs the
    uploader's storage quota: ``sealed_size`` with every block charged by ``charged_size``."""
    segment_size = segment_size or DEFAULT_SEGMENT_SIZE
    count = segment_count(size, segment_size)
    last = size - (count - 1) * segment_size
    segments = (count - 1) * charged_size(segment_size + TAG_LEN) + charged_size(last + TAG_LEN)
    header = sealed_size(size, recipients, segment_size) - size - count * TAG_LEN  # header and index links
    return segments + charged_size(header) + index_block_count(count) * MIN_CHARGE
