"""Send links in the browser runtime: ``meshkit.sendLinks.*`` (static/meshkit.js). The
protocol is clients/send_links.py; here the throwaway identity's keys are WebCrypto keys
that live only as long as this page, and nothing about the link is stored."""

from ..clients.send_links import create_send_link, describe_send_link, open_send_link
from ..core.cid import cid_str, parse_cid
from .ffi import js
from .jsapi import _py, api
from .opened import as_blob, described

class SendLinkMethods:
    """Mixed into browser.runtime.Runtime (self._client, self._new_client, self.backend, self.gateway)."""

    @api
    async def send_link_create(self, root, sender, expires=None, opens=None) -> dict:
        """A link that opens ``root`` for whoever holds it, until ``expires``, at most
        ``opens`` times. The answer's fragment is the secret: show it to the user only."""
        client = await self._client(str(sender))
        when = await client.expiry(None if expires in (None, js.undefined, "") else _py(expires))
        count = None if opens in (None, js.undefined, "", 0) else int(opens)
        fragment, capsule = await create_send_link(client, parse_cid(str(root)), expires=when, opens=count)
        return {"fragment": fragment, "capsule": capsule, "expires": when, "opens": count}

    @api
    async def send_link_describe(self, link) -> dict:
        """What a send link points at ({name, type, size, saveAs, sender, opensLeft}) and
        whether it still opens, without spending one of its opens (nothing is released)."""
        return described(await describe_send_link(self._new_client, self.gateway, self.backend, str(link)))

    @api
    async def send_link_open(self, link, on_progress=None) -> dict:
        """What a send link points at, opened as its throwaway identity (one open of the
        link's), as a Blob once every segment authenticated, with what the file is. Nothing
        of the link (its keys, its content key) is kept after this call."""
        opened, client = await open_send_link(self._new_client, self.gateway, self.backend, str(link))
        try:
            return await as_blob(opened, "", on_progress)
        finally:
            await client.close()

    @api
    async def send_link_revoke(self, capsule, sender) -> dict:
        """Close a send link for good: its share is revoked at the gateway."""
        client = await self._client(str(sender))
        await client.request("DELETE", f"/v1/capsules/{cid_str(parse_cid(str(capsule)))}", ok=(204,))
        return {"revoked": str(capsule)}
