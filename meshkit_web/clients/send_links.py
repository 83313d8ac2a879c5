"""Send links (core/send_link.py) over a gateway: make one for an envelope, open one.
Shared by the browser runtime and the CLI; the transport is the caller's client class."""

import secrets

from ..core.cid import cid_str
from ..core.envelope import OpenedEnvelope
from ..core.send_link import link_identity, parse_send_link, send_fragment
from .gateway import GatewayClient


async def create_send_link(client: GatewayClient, root: bytes, *, expires: int | None = None,
                           opens: int | None = None) -> tuple[str, str]:
    """Share ``root`` with a new throwaway identity and return (the link's fragment, the
    capsule's CID). The secret is in the fragment only: keep it out of logs."""
    secret = secrets.token_bytes(32)
    link = await link_identity(client.backend, secret)
    async with type(client)(client.base_url, client.backend, link) as as_link:
        await as_link.publish()  # its public record, so the gateway can sign it in
    capsule = await client.share(root, link.public, expires=expires, opens=opens)
    return send_fragment(root, secret), cid_str(capsule.cid)


async def open_send_link(client_class, base_url: str, backend, text: str) -> tuple[OpenedEnvelope, GatewayClient]:
    """Open what a send link points at, as its throwaway identity: the gateway releases the
    share (counting it against its opens) and the envelope is verified as any other.
    Returns the opened envelope and the client (to fetch its segments; close it after)."""
    root, secret = parse_send_link(text)
    identity = await link_identity(backend, secret)
    client = client_class(base_url, backend, identity)
    try:
        return await client.open(root), client
    except BaseException:
        await client.close()
        raise
