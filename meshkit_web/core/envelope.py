"""Envelope v1: HPKE-wrapped content key, segmented AES-256-GCM payload, signed DAG-CBOR header.

Layout (docs/FORMAT.md is the byte-exact spec):

* every sealed segment is a raw block (CIDv1 raw sha2-256);
* the header is a DAG-CBOR block linking the segments in order; its CID is the root.

Sealing streams: segments are sealed and yielded as the plaintext arrives, the header
comes last. Opening streams: every block is checked against its CID BEFORE decryption,
and plaintext is yielded one authenticated segment at a time.
"""

import asyncio
import hmac
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Protocol

from . import codec, kdf, pipeline
from .backend import CryptoBackend
from .cid import (DAG_CBOR, RAW, cid_bytes, cid_from_digest, cid_str, digest_of, is_supported, to_link,
                  verify_block)
from .errors import (CIDMismatchError, EnvelopeFormatError, InvalidArgumentError, KeyUnwrapError, LimitExceededError,
                     NotARecipientError, SegmentAuthenticationError, TruncatedEnvelopeError, UnsupportedVersionError)
from .hpke import ENC_LENS, KEM_X25519_SHA256, KEM_XWING, TAG_LEN, Suite
from .identity import Identity, PublicIdentity
from .metadata import MAX_META, FileMetadata, make_metadata, metadata_key, open_metadata, seal_metadata
from .signing import KEY_LEN, check_identity_key, sign_map, verify_map

KIND = "envelope"
SUITE_V1 = 1  # HPKE(X25519, HKDF-SHA256, AES-256-GCM) + HKDF-SHA256 + segmented AES-256-GCM + Ed25519
# A sealed default segment is exactly 1 MiB: the largest block every IPFS stack takes (FORMAT.md 3.1)
DEFAULT_SEGMENT_SIZE = (1 << 20) - TAG_LEN
MIN_SEGMENT_SIZE = 64
MAX_SEGMENT_SIZE = (2 << 20) - TAG_LEN  # a sealed segment fits a 2 MiB block (Kubo's default limit)
MAX_HEADER_SIZE = 1 << 20
MAX_RECIPIENTS = 1024
NONCE_PREFIX_LEN = 7
CONTENT_KEY_LEN = 32
WRAPPED_KEY_LEN = CONTENT_KEY_LEN + TAG_LEN

PAYLOAD_KEY_INFO = b"meshkit-web/v1 payload-key"
COMMITMENT_INFO = b"meshkit-web/v1 key-commitment"
WRAP_INFO = b"meshkit-web/v1 content-key"

# Encoded sizes in the header (docs/FORMAT.md): a link is a 41-byte CBOR item (tag 42,
# bytes(37) = 0x00 + 36-byte CID); a recipient entry is at most 145 bytes: its id is at most
# 43 characters (an account's recovery key, "<34-character account id>.recovery"). The fixed
# fields and signature fit well within the reserve.
LINK_ENCODED_LEN = 41
RECIPIENT_ENCODED_LEN = 145
# an X-Wing entry: enc is 1120 bytes (3 + 1120 encoded, not 2 + 32) and "kem": 0x647A adds 7
HYBRID_RECIPIENT_ENCODED_LEN = RECIPIENT_ENCODED_LEN - 34 + 1123 + 7
HEADER_RESERVE = 2048

# The segment index (FORMAT.md 3.5): up to INLINE_SEGMENTS links sit in the header itself;
# past that the header links index blocks of INDEX_FANOUT segment links each, so a header
# stays small (a 4 GiB file's is ~170 KiB) and the largest file is ~100 TiB, not ~25 GiB.
INLINE_SEGMENTS = 4096
INDEX_FANOUT = 4096
INDEX_KIND = "segment-index"
MAX_INDEX_BLOCK_SIZE = INDEX_FANOUT * LINK_ENCODED_LEN + 64


def recipients_encoded_len(recipient_count: int, hybrid: int = 0) -> int:
    """At most how many bytes the recipient entries take, ``hybrid`` of them X-Wing ones."""
    return RECIPIENT_ENCODED_LEN * (recipient_count - hybrid) + HYBRID_RECIPIENT_ENCODED_LEN * hybrid


def max_index_blocks(recipient_count: int, hybrid: int = 0) -> int:
    """How many index links fit in a header of at most MAX_HEADER_SIZE bytes."""
    return (MAX_HEADER_SIZE - HEADER_RESERVE - recipients_encoded_len(recipient_count, hybrid)) // LINK_ENCODED_LEN


def max_segments(recipient_count: int, hybrid: int = 0) -> int:
    """How many segments an envelope with this many recipients (``hybrid`` of them X-Wing) can have."""
    return max_index_blocks(recipient_count, hybrid) * INDEX_FANOUT


# the most X-Wing recipients one header holds (with one segment link beside them)
MAX_HYBRID_RECIPIENTS = (MAX_HEADER_SIZE - HEADER_RESERVE - LINK_ENCODED_LEN) // HYBRID_RECIPIENT_ENCODED_LEN


def index_block_count(segments: int) -> int:
    """0 when the header lists the segments itself, else how many index blocks it links."""
    return 0 if segments <= INLINE_SEGMENTS else -(-segments // INDEX_FANOUT)

log = logging.getLogger("meshkit.core")

BlockGetter = Callable[[bytes], Awaitable[bytes]]
# A getter for one read of every block of an envelope in order (a gateway's streamed CAR):
# made for that read, closed after it. Only scheduling: its blocks are CID-checked as any.
class SequentialReader(Protocol):
    async def __call__(self, cid: bytes) -> bytes: ...
    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Block:
    cid: bytes
    data: bytes

    @property
    def cid_str(self) -> str:
        return cid_str(self.cid)


@dataclass(frozen=True)
class WrappedKey:
    """The content key sealed to one recipient with HPKE (aad = the header's key commitment)."""

    recipient: str
    enc: bytes
    wrapped: bytes
    kem: int = KEM_X25519_SHA256  # the HPKE KEM (FORMAT.md 3.4): written only when not X25519

    def to_map(self) -> dict:
        entry = {"id": self.recipient, "enc": self.enc, "wrapped": self.wrapped}
        if self.kem != KEM_X25519_SHA256:
            entry["kem"] = self.kem
        return entry


@dataclass(frozen=True)
class Header:
    root: bytes
    suite: int
    segment_size: int
    size: int
    nonce_prefix: bytes
    commitment: bytes
    segments: tuple[bytes, ...]  # the segment links, when the header lists them itself
    recipients: tuple[WrappedKey, ...]
    sender_id: str
    sender_key: bytes
    created: int
    raw: dict
    meta: bytes | None = None  # the sealed file metadata (core.metadata), if the sender gave any
    index: tuple[bytes, ...] = ()  # links to the index blocks instead, past INLINE_SEGMENTS

    @property
    def root_str(self) -> str:
        return cid_str(self.root)

    @property
    def count(self) -> int:
        """How many segments the envelope has (fixed by its size and segment size)."""
        return segment_count(self.size, self.segment_size)

    def expected_segment_length(self, index: int) -> int:
        """Sealed length of segment ``index`` (plaintext + tag), fixed by the header."""
        if index < self.count - 1:
            return self.segment_size + TAG_LEN
        return self.size - (self.count - 1) * self.segment_size + TAG_LEN

    def recipient_entry(self, identity_id: str) -> WrappedKey:
        for entry in self.recipients:
            if entry.recipient == identity_id:
                return entry
        raise NotARecipientError(f"{identity_id} is not a recipient of {self.root_str}")


def segment_nonce(prefix: bytes, index: int, last: bool) -> bytes:
    """prefix (7 bytes) || big-endian uint32 counter || last flag (0x01 final, 0x00 otherwise)."""
    return prefix + index.to_bytes(4, "big") + (b"\x01" if last else b"\x00")


def derive_keys(content_key: bytes) -> tuple[bytes, bytes]:
    """(payload key, key commitment) from the envelope's content key."""
    return kdf.hkdf(content_key, PAYLOAD_KEY_INFO), kdf.hkdf(content_key, COMMITMENT_INFO)


def sealed_size(size: int, recipients: int, segment_size: int = DEFAULT_SEGMENT_SIZE) -> int:
    """An upper bound of the bytes an envelope of ``size`` plaintext bytes stores: every
    segment's tag, the header with its links and recipient entries (X-Wing ones, the
    larger), the metadata."""
    count = segment_count(size, segment_size)
    return (size + count * (TAG_LEN + LINK_ENCODED_LEN) + recipients_encoded_len(recipients, recipients)
            + HEADER_RESERVE)


def kem_for(backend: CryptoBackend, recipient: PublicIdentity) -> int:
    """The strongest KEM both sides have: X-Wing when the recipient's verified record lists an
    X-Wing key and this runtime can wrap to it, else X25519 (said by the entry's ``kem``)."""
    if recipient.kem == KEM_XWING and backend.pq_support()["encapsulate"]:
        return KEM_XWING
    return KEM_X25519_SHA256


def segment_count(size: int, segment_size: int) -> int:
    return max(1, -(-size // segment_size))


async def wrap_content_key(backend: CryptoBackend, content_key: bytes, commitment: bytes,
                           recipient: PublicIdentity) -> WrappedKey:
    kem = kem_for(backend, recipient)
    public = recipient.pq_key if kem == KEM_XWING else recipient.enc_key
    enc, wrapped = await Suite(backend, kem_id=kem).seal(public, WRAP_INFO, commitment, content_key)
    return WrappedKey(recipient.id, enc, wrapped, kem)


async def unwrap_content_key(backend: CryptoBackend, identity: Identity, entry: WrappedKey,
                             commitment: bytes) -> bytes:
    """Open a wrapped key and check it against the header's commitment (fail closed)."""
    if entry.kem not in ENC_LENS or len(entry.enc) != ENC_LENS[entry.kem] or len(entry.wrapped) != WRAPPED_KEY_LEN:
        raise KeyUnwrapError("wrapped content key has the wrong length")
    if entry.kem == KEM_XWING:
        if identity.pq_private is None or not identity.public.pq_key:
            raise KeyUnwrapError(f"{identity.id} was sent a post-quantum key but holds no X-Wing key")
        private, public = identity.pq_private, identity.public.pq_key
    else:
        private, public = identity.enc_private, identity.public.enc_key
    content_key = await Suite(backend, kem_id=entry.kem).open(entry.enc, private, public,
                                                              WRAP_INFO, commitment, entry.wrapped)
    if not hmac.compare_digest(derive_keys(content_key)[1], commitment):
        raise KeyUnwrapError("content key does not match the envelope's key commitment")
    return content_key


async def seal(backend: CryptoBackend, source: AsyncIterable[bytes] | Iterable[bytes], *,
               sender: Identity, recipients: list[PublicIdentity], now: int,
               segment_size: int = DEFAULT_SEGMENT_SIZE, include_sender: bool = True,
               metadata: dict | None = None) -> AsyncIterator[Block]:
    """Seal plaintext chunks into blocks: the segments in order, then the header (the root).

    The sender is a recipient too unless ``include_sender`` is false. ``metadata``
    ({name, type, mtime}: what the file is) is sealed into the header (FORMAT.md 3.7), with
    the size as sealed. Memory use is a few segments, whatever the size of the input.
    """
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE:
        raise LimitExceededError(f"segment size must be {MIN_SEGMENT_SIZE}..{MAX_SEGMENT_SIZE} bytes")
    everyone = {r.id: r for r in recipients}
    if include_sender:
        everyone.setdefault(sender.id, sender.public)
    if not everyone:
        raise InvalidArgumentError("an envelope needs at least one recipient")
    if len(everyone) > MAX_RECIPIENTS:
        raise LimitExceededError(f"at most {MAX_RECIPIENTS} recipients")
    hybrid = sum(kem_for(backend, r) == KEM_XWING for r in everyone.values())
    if hybrid > MAX_HYBRID_RECIPIENTS:
        raise LimitExceededError(f"at most {MAX_HYBRID_RECIPIENTS} post-quantum recipients in one header: "
                                 "share with the rest after sealing")
    segment_limit = max_segments(len(everyone), hybrid)

    content_key = await backend.random_bytes(CONTENT_KEY_LEN)
    nonce_prefix = await backend.random_bytes(NONCE_PREFIX_LEN)
    payload_key, commitment = derive_keys(content_key)
    key = await backend.aead_key(payload_key)
    size = 0
    # The recipient wraps (an X-Wing one costs ~0.2 ms) run while the first segments are
    # encrypted off the event loop, not after them
    wrapping = asyncio.ensure_future(asyncio.gather(
        *(wrap_content_key(backend, content_key, commitment, r) for r in everyone.values())))
    wrapping.add_done_callback(lambda task: task.cancelled() or task.exception())  # retrieved, never logged

    async def segments():
        nonlocal size
        async for plaintext in pipeline.segments_of(source, segment_size):
            size += len(plaintext)
            yield plaintext

    async def sealed(item: tuple[int, bytes, bool]) -> Block:
        index, plaintext, last = item
        if index >= segment_limit:
            raise LimitExceededError(f"input exceeds {segment_limit} segments; use a larger segment size")
        if len(plaintext) > segment_size or (not last and len(plaintext) != segment_size):
            # a source that cuts its own segments (pipeline.segments_of) cut one wrongly: never
            # seal an envelope whose segment sizes its readers would not expect
            raise InvalidArgumentError(f"segment {index} is {len(plaintext)} bytes, not {segment_size}")
        data, digest = await backend.seal_segment(key, segment_nonce(nonce_prefix, index, last), plaintext)
        return Block(cid_from_digest(RAW, digest), data)

    # Segments in order, each sealed as soon as the next shows whether it is the last (several
    # in flight: core.pipeline); past INLINE_SEGMENTS, an index block after every INDEX_FANOUT.
    links: list[bytes] = []   # segment links not yet in an index block
    index: list[bytes] = []   # index block links
    numbered = pipeline.numbered_with_last(segments(), b"")
    try:
        async for block in pipeline.ordered_map(sealed, numbered, backend.pipeline_depth):
            yield block
            links.append(block.cid)
            if len(links) > INDEX_FANOUT:  # more than fit inline: the tree form, first the full block
                index_block = make_index_block(links[:INDEX_FANOUT])
                del links[:INDEX_FANOUT]
                index.append(index_block.cid)
                yield index_block
        if index:
            index_block = make_index_block(links)
            index.append(index_block.cid)
            yield index_block
        wrapped = await wrapping
    finally:
        wrapping.cancel()  # a seal given up (bad input, the caller stopped): no wrap left running
    header = {
        "meshkit": KIND, "v": 1, "suite": SUITE_V1, "segment_size": segment_size, "size": size,
        "nonce_prefix": nonce_prefix, "commitment": commitment,
        "recipients": [w.to_map() for w in wrapped],
        "sender": {"id": sender.id, "key": sender.public.sig_key},
        "created": now,
    }
    if index:
        header["index"] = [to_link(link) for link in index]
    else:
        header["segments"] = [to_link(link) for link in links]
    if metadata is not None:
        described = make_metadata(metadata.get("name"), metadata.get("type"), size, metadata.get("mtime"))
        header["meta"] = await seal_metadata(backend, content_key, described)
    data = codec.encode(await sign_map(backend, sender.sig_private, KIND, header))
    if len(data) > MAX_HEADER_SIZE:  # unreachable with the limit above; never emit an unopenable root
        raise LimitExceededError("envelope header would exceed its size limit")
    root = Block(cid_bytes(DAG_CBOR, data), data)
    log.debug("sealed %s: %d bytes, %d segments, %d index blocks, %d recipients", root.cid_str, size,
              segment_count(size, segment_size), len(index), len(wrapped))
    yield root


def make_index_block(links: list[bytes]) -> Block:
    """An index block (FORMAT.md 3.5): INDEX_FANOUT segment links, fewer in the last one."""
    data = codec.encode({"meshkit": INDEX_KIND, "v": 1, "segments": [to_link(link) for link in links]})
    return Block(cid_bytes(DAG_CBOR, data), data)


def _links(values, codec_: int, what: str) -> list[bytes]:
    """An array of links to CIDv1 sha2-256 blocks of one codec (raw segments, dag-cbor index blocks)."""
    if not isinstance(values, list):
        raise EnvelopeFormatError(f"{what} is not an array")
    found = []
    for link in values:
        binary = bytes(link) if hasattr(link, "codec") else None
        if binary is None or not is_supported(binary, codec_):
            raise EnvelopeFormatError(f"{what} links must be {'raw' if codec_ == RAW else 'dag-cbor'} sha2-256 CIDs")
        found.append(binary)
    return found


def parse_index_block(cid: bytes, data: bytes, expected: int) -> list[bytes]:
    """The segment links of an index block (its CID already verified), exactly ``expected``."""
    if len(data) > MAX_INDEX_BLOCK_SIZE:
        raise EnvelopeFormatError("segment index block is too large")
    obj = codec.decode_map(data, "segment index")
    if set(obj) != {"meshkit", "v", "segments"} or obj["meshkit"] != INDEX_KIND or obj["v"] != 1:
        raise EnvelopeFormatError(f"{cid_str(cid)} is not a segment index block")
    links = _links(obj["segments"], RAW, "segment index")
    if len(links) != expected:
        raise EnvelopeFormatError(f"segment index block {cid_str(cid)} has {len(links)} links, not {expected}")
    return links


def parse_wrapped_key(entry) -> WrappedKey:
    """A recipient entry {id, enc, wrapped} from a header or a capsule."""
    if not isinstance(entry, dict):
        raise EnvelopeFormatError("recipient entry is not a map")
    recipient = codec.field(entry, "id", str, "recipient")
    if not recipient:
        raise EnvelopeFormatError("recipient entry has an empty id")
    kem = KEM_X25519_SHA256
    if "kem" in entry:  # written only for X-Wing: an explicit 0x0020 is a second encoding, refused
        kem = codec.field(entry, "kem", int, "recipient")
        if kem != KEM_XWING:
            raise EnvelopeFormatError(f"recipient entry names an unknown KEM 0x{kem & 0xffff:04x}")
    return WrappedKey(recipient, codec.field(entry, "enc", bytes, "recipient", length=ENC_LENS[kem]),
                      codec.field(entry, "wrapped", bytes, "recipient", length=WRAPPED_KEY_LEN), kem)


def parse_header(root: bytes, data: bytes) -> Header:
    """Decode and structurally check a header block (its CID must already be verified)."""
    if not is_supported(root, DAG_CBOR):
        raise EnvelopeFormatError(f"root {cid_str(root)} is not a DAG-CBOR block")
    if len(data) > MAX_HEADER_SIZE:
        raise EnvelopeFormatError("envelope header is too large")
    obj = codec.decode_map(data, "envelope header")
    codec.check_type(obj, KIND)
    if codec.field(obj, "suite", int, KIND) != SUITE_V1:
        raise UnsupportedVersionError("envelope crypto suite is not supported (need suite 1)")
    segment_size = codec.field(obj, "segment_size", int, KIND)
    size = codec.field(obj, "size", int, KIND)
    if not MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE or size < 0:
        raise EnvelopeFormatError("envelope header has an invalid size or segment size")
    count = segment_count(size, segment_size)
    has_index = "index" in obj
    if has_index == (count <= INLINE_SEGMENTS) or ("segments" in obj) == has_index:
        raise EnvelopeFormatError(f"an envelope of {count} segments must have "
                                  + ("'segments' and no 'index'" if count <= INLINE_SEGMENTS else "'index' and no 'segments'"))
    segments, index = (), ()
    if has_index:
        index = tuple(_links(obj["index"], DAG_CBOR, "envelope index"))
        if len(index) != index_block_count(count):
            raise EnvelopeFormatError("envelope header's index does not match its size")
    else:
        segments = tuple(_links(obj["segments"], RAW, "envelope segment"))
        if len(segments) != count:
            raise EnvelopeFormatError("envelope header's segment count does not match its size")
    entries = codec.field(obj, "recipients", list, KIND)
    if not 1 <= len(entries) <= MAX_RECIPIENTS:
        raise EnvelopeFormatError(f"envelope must have 1..{MAX_RECIPIENTS} recipients")
    recipients = [parse_wrapped_key(entry) for entry in entries]
    if len({r.recipient for r in recipients}) != len(recipients):
        raise EnvelopeFormatError("envelope lists a recipient twice")
    sender = codec.field(obj, "sender", dict, KIND)
    meta = codec.field(obj, "meta", bytes, KIND, optional=True)
    if meta is not None and not TAG_LEN <= len(meta) <= MAX_META:
        raise EnvelopeFormatError("envelope metadata has an invalid length")
    return Header(
        root=root, suite=SUITE_V1, segment_size=segment_size, size=size,
        nonce_prefix=codec.field(obj, "nonce_prefix", bytes, KIND, length=NONCE_PREFIX_LEN),
        commitment=codec.field(obj, "commitment", bytes, KIND, length=32),
        segments=segments, index=index, recipients=tuple(recipients),
        sender_id=codec.field(sender, "id", str, "sender"),
        sender_key=codec.field(sender, "key", bytes, "sender", length=KEY_LEN),
        created=codec.field(obj, "created", int, KIND), raw=obj, meta=meta)


async def read_header(backend: CryptoBackend, root: bytes, get_block: BlockGetter) -> Header:
    """Fetch, CID-verify, decode and signature-check an envelope header."""
    data = await get_block(root)
    verify_block(root, data)
    header = parse_header(root, data)
    check_identity_key(header.sender_id, header.sender_key)
    await verify_map(backend, KIND, header.raw, header.sender_key, header.sender_id)
    return header


class OpenedEnvelope:
    """A verified header plus the unwrapped payload key; iterate :meth:`plaintext` for the bytes."""

    INDEX_BLOCKS_KEPT = 2  # index blocks remembered: the one being read and the next

    def __init__(self, backend: CryptoBackend, header: Header, payload_key, get_block: BlockGetter,
                 metadata: FileMetadata | None = None, metadata_key: bytes | None = None):
        self.backend = backend
        self.header = header
        self.metadata = metadata  # what the file is, as its sender sealed it (None: not given)
        self.metadata_key = metadata_key  # opens the metadata only (core.metadata.metadata_key)
        self._key = payload_key
        self._get_block = get_block
        self._index_blocks: OrderedDict[int, asyncio.Future] = OrderedDict()
        # set by a client that can send every block in one stream (clients/streamed_read.py):
        # used by reads of the whole file; ranges and seeks fetch only their own blocks
        self.sequential: Callable[[], SequentialReader] | None = None

    async def _read_index_block(self, number: int) -> list[bytes]:
        cid = self.header.index[number]
        data = await self._get_block(cid)
        verify_block(cid, data)  # before it is decoded
        expected = min(INDEX_FANOUT, self.header.count - number * INDEX_FANOUT)
        return parse_index_block(cid, data, expected)

    async def segment_cid(self, index: int) -> bytes:
        """The link of segment ``index``: from the header, or from its index block (fetched
        once, CID-checked and decoded; the last two are kept)."""
        if not self.header.index:
            return self.header.segments[index]
        number = index // INDEX_FANOUT
        future = self._index_blocks.get(number)
        if future is None or (future.done() and (future.cancelled() or future.exception() is not None)):
            # shared by every read of this envelope (ranges may overlap), so none cancels it;
            # one that failed is fetched again by the next read that needs it
            future = self._index_blocks[number] = asyncio.ensure_future(self._read_index_block(number))
            future.add_done_callback(lambda f: f.cancelled() or f.exception())  # its error is the reader's
            while len(self._index_blocks) > self.INDEX_BLOCKS_KEPT:
                self._index_blocks.popitem(last=False)
        return (await asyncio.shield(future))[index % INDEX_FANOUT]

    async def _segment(self, index: int, get_block: BlockGetter) -> bytes:
        """Segment ``index``'s plaintext: fetched, CID-checked BEFORE decryption, length-
        checked, authenticated (FORMAT.md 4, steps a-d)."""
        cid = await self.segment_cid(index)
        data = await get_block(cid)
        last = index == self.header.count - 1
        matches, plaintext = await self.backend.open_segment(
            self._key, segment_nonce(self.header.nonce_prefix, index, last), data, digest_of(cid))
        if not matches:
            raise CIDMismatchError(f"block {cid_str(cid)} does not match its bytes")
        expected = self.header.expected_segment_length(index)
        if len(data) < expected:
            raise TruncatedEnvelopeError(f"segment {index} ({cid_str(cid)}) is shorter than the header says")
        if len(data) > expected:
            raise SegmentAuthenticationError(f"segment {index} ({cid_str(cid)}) is longer than the header says")
        if plaintext is None:
            await self._diagnose(index, data)
        return plaintext

    async def _diagnose(self, index: int, data: bytes) -> None:
        """Raise the precise error for a segment that failed to authenticate (FORMAT.md 4);
        neither branch releases any plaintext."""
        last = index == self.header.count - 1
        prefix = self.header.nonce_prefix
        if await self.backend.aead_open(self._key, segment_nonce(prefix, index, not last), data, b"") is not None:
            if last:
                raise TruncatedEnvelopeError(
                    f"envelope {self.header.root_str} ends early: segment {index} is not the final segment")
            raise SegmentAuthenticationError(
                f"segment {index} of {self.header.root_str} is a final segment but more follow")
        raise SegmentAuthenticationError(
            f"segment {index} of {self.header.root_str} failed authentication (tampered or reordered)")

    def segments_for(self, start: int, end: int) -> range:
        """The segments holding plaintext bytes [start, end) (FORMAT.md 4: byte ranges)."""
        size, step = self.header.size, self.header.segment_size
        if not 0 <= start <= end <= size:
            raise InvalidArgumentError(f"byte range {start}-{end} is outside the file's {size} bytes")
        if (start, end) == (0, size):
            return range(self.header.count)  # all of them, the final one included
        return range(start // step, (end - 1) // step + 1 if end > start else start // step)

    async def plaintext(self, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Authenticated plaintext of bytes [start, end) (the whole file by default), one
        segment at a time, the next few fetched and opened meanwhile (core.pipeline). Only
        the segments holding the range are fetched and decrypted, each authenticated on its
        own (its index and final flag are in its nonce), so a seek costs one segment, not
        the file before it."""
        end = self.header.size if end is None else end
        indices = self.segments_for(start, end)
        step = self.header.segment_size

        async def wanted():
            for index in indices:
                yield index
        whole = self.sequential is not None and len(indices) > 1 and len(indices) == self.header.count
        get_block = self.sequential() if whole else self._get_block
        opened = pipeline.ordered_map(lambda index: self._segment(index, get_block), wanted(),
                                      self.backend.pipeline_depth)
        try:
            index = indices.start
            async for plain in opened:
                offset = index * step
                index += 1
                yield plain[max(0, start - offset):end - offset] if (start > offset or end < offset + len(plain)) else plain
        finally:
            try:
                await opened.aclose()
            finally:
                if whole:
                    await get_block.aclose()


async def open_envelope(backend: CryptoBackend, root: bytes, get_block: BlockGetter, identity: Identity, *,
                        wrapped_key: WrappedKey | None = None, header: Header | None = None) -> OpenedEnvelope:
    """Verify the header and unwrap the content key for ``identity``.

    ``wrapped_key`` comes from a capsule (a share made after sealing) that the caller has
    already verified (``capsule.verify_capsule`` with root, recipient and time); otherwise
    the header's own recipient entry is used. Either way the unwrapped key must match the
    header's key commitment, so a wrong or forged wrapped key cannot open anything.
    ``header``: what :func:`read_header` (which checks it) gave for this root, so a caller
    that has read it already does not fetch and decode it twice (4096 links: ~0.7 s on CPython).
    """
    if header is None or header.root != root:  # a header the caller read with read_header is used as is
        header = await read_header(backend, root, get_block)
    entry = wrapped_key or header.recipient_entry(identity.id)
    if entry.recipient != identity.id:
        raise NotARecipientError(f"the wrapped key is for {entry.recipient}, not {identity.id}")
    content_key = await unwrap_content_key(backend, identity, entry, header.commitment)
    log.debug("opening %s from %s for %s: %d bytes", header.root_str, header.sender_id, identity.id, header.size)
    payload_key = await backend.aead_key(derive_keys(content_key)[0])
    metadata = (await open_metadata(backend, content_key, header.meta, header.size)
                if header.meta is not None else None)
    meta_key = metadata_key(content_key) if header.meta is not None else None
    return OpenedEnvelope(backend, header, payload_key, get_block, metadata, meta_key)
