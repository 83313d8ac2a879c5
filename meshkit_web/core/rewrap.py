"""Re-wrapping an envelope (FORMAT.md 3.8, issue 26): a new header for the same segments,
each recipient's content key wrapped again to that recipient's current keys (X-Wing where
their verified record lists an X-Wing key), WITHOUT re-encrypting anything.

A header is signed and content-addressed, so a re-wrap is a new envelope: a new root CID
whose header keeps ``segment_size``, ``size``, ``nonce_prefix``, ``commitment``, ``created``,
the segment links (or index) and the sealed metadata byte for byte, lists the same recipient
ids in the same order, and is signed by the identity that re-wrapped it (its ``sender``).
The old root is left as it was (its entries still open for whoever holds the old keys).
Pure: no I/O beyond ``get_block``.
"""

from . import codec
from .backend import CryptoBackend
from .cid import DAG_CBOR, cid_bytes
from .envelope import (KIND, MAX_HEADER_SIZE, Block, read_header, unwrap_content_key, wrap_content_key)
from .errors import LimitExceededError, NotARecipientError
from .hpke import KEM_XWING
from .identity import Identity, PublicIdentity
from .signing import sign_map


async def rewrap_envelope(backend: CryptoBackend, root: bytes, get_block, me: Identity,
                          current: dict[str, PublicIdentity]) -> tuple[Block, list]:
    """(the new header block, its entries): ``me`` must be a header recipient (its entry gives
    the content key). ``current``: {recipient id: the verified record to wrap to now}; a
    recipient not in it keeps its entry as it was (a removed device, an id not found), and so
    does an X-Wing entry whose recipient would now get a classic one (a record or a runtime
    without X-Wing never downgrades an entry)."""
    header = await read_header(backend, root, get_block)
    mine = next((e for e in header.recipients if e.recipient == me.id), None)
    if mine is None:
        raise NotARecipientError(f"{me.id} is not in the header: only a recipient re-wraps an envelope")
    content_key = await unwrap_content_key(backend, me, mine, header.commitment)
    entries = []
    for entry in header.recipients:
        public = current.get(entry.recipient)
        new = await wrap_content_key(backend, content_key, header.commitment, public) \
            if public is not None and public.id == entry.recipient else entry
        entries.append(entry if entry.kem == KEM_XWING and new.kem != KEM_XWING else new)  # never weaker
    # the header read (and checked against its CID) above: fetched again, the gateway could
    # answer other bytes, and those would be signed here
    obj = {key: value for key, value in header.raw.items() if key != "sig"}
    obj["recipients"] = [e.to_map() for e in entries]
    obj["sender"] = {"id": me.id, "key": me.public.sig_key}
    data = codec.encode(await sign_map(backend, me.sig_private, KIND, obj))
    if len(data) > MAX_HEADER_SIZE:
        raise LimitExceededError("with post-quantum entries this header would exceed its size limit: "
                                 "share with some recipients instead")
    block = Block(cid_bytes(DAG_CBOR, data), data)
    blocks = {block.cid: data}

    async def fetch(cid: bytes) -> bytes:  # the new header from here, the rest as before
        return blocks[cid] if cid in blocks else await get_block(cid)
    await read_header(backend, block.cid, fetch)  # fail closed: it must read as any header
    return block, entries
