"""What an identity keeps at its gateway, and deleting a file: the one implementation the
Python API (kit/api.py) and the browser runtime (browser/runtime.py) call."""

from ..core.cid import cid_str
from ..core.errors import EnvelopeFormatError, MissingMetadataError
from . import accounts
from .gateway import GatewayClient

USAGE_FIELDS = ("stored", "storage_quota", "pinned", "pin_quota")


async def usage(client: GatewayClient) -> dict:
    """{stored, storage_quota, pinned, pin_quota, gc_grace} (bytes; gc_grace: seconds an
    unpinned block still counts, None if the gateway does not say), from GET /v1/usage. A
    value that is no whole number >= 0 is malformed (a usage meter never shows garbage)."""
    room = await client.usage()
    if not isinstance(room, dict):
        raise EnvelopeFormatError("the gateway's usage is not an object")
    found = {}
    for name in USAGE_FIELDS + ("gc_grace",):
        value = room.get(name)
        if value is None and name in ("pinned", "pin_quota", "gc_grace"):  # older gateways leave them out
            found[name] = 0 if name != "gc_grace" else None
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            found[name] = value
        else:
            raise EnvelopeFormatError(f"the gateway's usage has no whole number for {name}")
    return found


async def delete_envelope(client: GatewayClient, record, root: bytes) -> dict:
    """Delete an envelope for the account of ``record`` (None: a bare identity): every share
    and send link of it that any current device of the account made is revoked (what was
    opened stays opened), this identity's pin of it removed, what its blocks cost this
    identity's storage quota given back at once (the gateway collects blocks nobody else
    keeps), and it leaves the account's library on every device (its links' entries too).
    {root, unpinned (False: there was no pin), in_library (None: no account; False: not
    yet), revoked (capsules), released (bytes given back)}."""
    try:
        revoked = await client.revoke(root, account=record is not None)
    except MissingMetadataError:
        revoked = []
    try:
        await client.unpin(root)
        unpinned = True
    except MissingMetadataError:
        unpinned = False
    released = await client.release_root(root)
    # last: the room given back pays for the library's change
    in_library = None if record is None else await accounts.forget_envelope(client, record, cid_str(root))
    return {"root": cid_str(root), "unpinned": unpinned, "in_library": in_library, "revoked": revoked,
            "released": int(released.get("bytes") or 0) if isinstance(released, dict) else 0}
