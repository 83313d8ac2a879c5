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
                           opens: int | None = None) -> tuple[str, str]:
    """Share ``root`` with a new throwaway identity and return (the link's fragment, the
    capsule's CID). The secret is in the fragment only: keep it out of logs. The fragment
    also carries the envelope's metadata key, so the link's holder can see what the file is
    before spending an open (it opens the metadata, nothing else)."""
    opened = await client.open(root)  # I can open it (else sharing fails below): its metadata key
    secret = secrets.token_bytes(32)
    link = await link_identity(client.backend, secret)
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
