"""Sealing into and opening from an in-memory block map (CPython, PyNaCl)."""

from meshkit_web.core.envelope import open_envelope, seal

from support.constants import NOW


async def seal_to_blocks(backend, data: bytes, sender, recipients, segment_size=1024, **kw):
    blocks = [b async for b in seal(backend, [data], sender=sender, recipients=recipients, now=NOW,
                                    segment_size=segment_size, **kw)]
    return blocks[-1].cid, {b.cid: b.data for b in blocks}, blocks


def flip(data: bytes, index: int) -> bytes:
    """The bytes with one bit of data[index] flipped: always other bytes (a fixed byte is not)."""
    index %= len(data)
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def getter(store: dict):
    async def get(cid):
        from meshkit_web.core.errors import MissingBlockError
        try:
            return store[cid]
        except KeyError:
            raise MissingBlockError("missing") from None
    return get


async def open_all(backend, root, store, identity, **kw):
    """Open an envelope, collecting plaintext segment by segment (what a caller would have seen)."""
    opened = await open_envelope(backend, root, getter(store), identity, **kw)
    received = []
    try:
        async for chunk in opened.plaintext():
            received.append(chunk)
    except Exception as exc:
        exc.received = received
        raise
    return b"".join(received)


def entry_kems(gateway: str, root: str) -> dict:
    """Recipient id -> the HPKE KEM of its entry (FORMAT.md 3.4), read from the header the
    gateway serves for ``root``."""
    import httpx
    from meshkit_web.core.cid import parse_cid
    from meshkit_web.core.envelope import parse_header
    header = parse_header(parse_cid(root), httpx.get(f"{gateway}/ipfs/{root}?format=raw").content)
    return {entry.recipient: entry.kem for entry in header.recipients}
