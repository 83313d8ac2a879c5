"""Send links (core/send_link.py) over a gateway: make one for an envelope, describe one,
open one. Shared by the browser runtime and the CLI: ``new_client(base_url, backend,
identity)`` makes the link holder's client (GatewayClient itself, or one that passes the
runtime's transport)."""

import secrets

from ..core.cid import cid_str
from ..core.envelope import OpenedEnvelope
from ..core.send_link import link_identity, read_send_link, send_fragment
from .gateway import Description, GatewayClient


async def create_send_link(client: GatewayClient, root: bytes, *, expires: int | None = None,
                           opens: int | None = None, post_quantum: bool = False) -> tuple[str, str]:
    """Share ``root`` with a new throwaway identity and return (the link's fragment, the
    capsule's CID). The secret is in the fragment only: keep it out of logs. The fragment
    also carries the envelope's metadata key, so the link's holder can see what the file is
    before spending an open (it opens the metadata, nothing else). ``post_quantum``: the share
    wraps with X-Wing, and only a holder whose runtime has X-Wing (CPython, Chromium) opens it."""
    opened = await client.open(root)  # I can open it (else sharing fails below): its metadata key
    secret = secrets.token_bytes(32)
    # classic unless asked: the holder may open it in a browser without X-Wing (FORMAT.md 5.4)
    link = await link_identity(client.backend, secret, pq=post_quantum)
    async with client.sibling(link) as as_link:
        await as_link.publish()  # its public record, so the gateway can sign it in
    capsule = await client.share(root, link.public, expires=expires, opens=opens)
    return send_fragment(root, secret, opened.metadata_key), cid_str(capsule.cid)


async def _as_link_holder(new_client, base_url: str, backend, text: str):
    link = read_send_link(text)
    return link, new_client(base_url, backend, await link_identity(backend, link.secret))


async def describe_send_link(new_client, base_url: str, backend, text: str) -> Description:
    """What a send link points at (name, type, size, sender; whether it still opens and how
    often), as its throwaway identity, WITHOUT spending one of its opens: the share is only
    looked at, never released, and the metadata is opened with the link's describe key."""
    link, client = await _as_link_holder(new_client, base_url, backend, text)
    async with client:
        return await client.describe(link.root, metadata_key=link.describe_key)


async def open_send_link(new_client, base_url: str, backend, text: str) -> tuple[OpenedEnvelope, GatewayClient]:
    """Open what a send link points at, as its throwaway identity: the gateway releases the
    share (counting it against its opens) and the envelope is verified as any other.
    Returns the opened envelope and the client (to fetch its segments; close it after)."""
    link, client = await _as_link_holder(new_client, base_url, backend, text)
    try:
        return await client.open(link.root), client
    except BaseException:
        await client.close()
        raise


async def list_send_links(client: GatewayClient, record, root: bytes) -> list[dict]:
    """The send links of ``root`` the account of ``record`` made (on any of its devices),
    newest first: {capsule, root, expires, opens (allowed; None: no limit), opens_used (None:
    not counted, for a link without a limit), state ("live" | "used_up" | "expired" |
    "revoked"), created}. Which shares are links, their limit and expiry come from the
    account's library (sealed by its devices: clients.accounts.remember_link); the gateway
    is taken at its word only for what it enforces: revoked, opens left. A link whose share
    the gateway does not list (or lists for another root or sharer) opens no more: "revoked"."""
    from .accounts import load_library
    name = cid_str(root)
    library, _ = await load_library(client, record)
    links = {capsule: value for capsule, value in library.items("link").items() if value.get("root") == name}
    if not links:
        return []
    devices = {d.id for d in record.devices} | set(record.removed)
    rows = {row["cid"]: row for row in await client.shares_made(root, account=True) if row["sharer"] in devices}
    now = client.clock.server_now()
    return sorted((_link_state(capsule, value, rows.get(capsule), name, now) for capsule, value in links.items()),
                  key=lambda link: (-(link["created"] or 0), link["capsule"]))


def _whole(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _link_state(capsule: str, value: dict, row: dict | None, root: str, now: float) -> dict:
    opens, expires = _whole(value.get("opens")), _whole(value.get("expires"))
    left = _whole(row.get("opens_left")) if row is not None else None
    used = opens - min(max(left, 0), opens) if opens is not None and left is not None else None
    if row is None or row["revoked"]:
        state = "revoked"
    elif (expires is not None and expires <= now) or row["state"] == "expired":
        state = "expired"
    elif (opens is not None and used == opens) or row["state"] == "used_up":
        state = "used_up"
    else:
        state = "live"
    return {"capsule": capsule, "root": root, "expires": expires, "opens": opens, "opens_used": used,
            "state": state, "created": _whole(value.get("created"))}
