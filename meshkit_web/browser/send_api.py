"""Send links in the browser runtime: ``meshkit.sendLinks.*`` (static/meshkit.js). The
protocol is clients/send_links.py; here the throwaway identity's keys are WebCrypto keys
that live only as long as this page, and nothing about the link is stored."""

from ..clients import accounts
from ..clients.send_links import create_send_link, describe_send_link, list_send_links, open_send_link
from ..core.cid import cid_str
from . import jsapi as arg
from .jsapi import api
from .opened import as_blob, described

class SendLinkMethods:
    """Mixed into browser.runtime.Runtime (self._client, self._new_client, self.backend, self.gateway,
    self.store, self._account, self._with_sender, self._lookup_client)."""

    @api
    async def send_link_create(self, root, sender, expires=None, opens=None) -> dict:
        """A link that opens ``root`` for whoever holds it, until ``expires``, at most
        ``opens`` times. The answer's fragment is the secret: show it to the user only."""
        client = await self._client(arg.text(sender, "sendLinks.create's from"))
        when = await client.expiry(arg.optional(expires))
        count = arg.number(opens, "sendLinks.create's opens", default=None) or None  # 0: no limit, as left out
        fragment, capsule = await create_send_link(client, arg.cid(root), expires=when, opens=count)
        known, _ = await self.store.load_account(client.identity.name)
        if known is not None:  # in the account's library: listed after a reload, on every device
            await accounts.remember_link(client, await self._account(client.identity.name), cid_str(arg.cid(root)),
                                         capsule, opens=count, expires=when, created=await client.gateway_now())
        return {"fragment": fragment, "capsule": capsule, "expires": when, "opens": count}

    @api
    async def send_link_list(self, root, as_name) -> list:
        """The send links of ``root`` my account made (on any of its devices), newest first:
        {capsule, expires, opens (allowed; null: no limit), opensUsed (null: not counted, for
        a link without a limit), state: "live" | "used_up" | "expired" | "revoked", created}.
        Which shares are links comes from the account's library; states and opens left from
        the gateway (clients.send_links.list_send_links). A bare identity lists none."""
        name = arg.text(as_name, "sendLinks.list's as")
        client = await self._client(name)
        known, _ = await self.store.load_account(name)
        if known is None:
            return []
        return [{"capsule": link["capsule"], "root": link["root"], "expires": link["expires"], "opens": link["opens"],
                 "opensUsed": link["opens_used"], "state": link["state"], "created": link["created"]}
                for link in await list_send_links(client, await self._account(name), arg.cid(root))]

    @api
    async def send_link_describe(self, link) -> dict:
        """What a send link points at ({name, type, size, saveAs, sender, opensLeft}) and
        whether it still opens, without spending one of its opens (nothing is released);
        who sent it: the person (senderAccount, senderName, senderFingerprint), verified
        through the account's chain from the gateway's records (a visitor knows nothing yet)."""
        found = described(await describe_send_link(self._new_client, self.gateway, self.backend,
                                                   arg.text(link, "the link")))
        return await self._with_sender(self._lookup_client(), found)

    @api
    async def send_link_open(self, link, on_progress=None) -> dict:
        """What a send link points at, opened as its throwaway identity (one open of the
        link's), as a Blob once every segment authenticated, with what the file is. Nothing
        of the link (its keys, its content key) is kept after this call."""
        on_progress = arg.callback(on_progress, "sendLinks.open's onProgress")
        opened, client = await open_send_link(self._new_client, self.gateway, self.backend, arg.text(link, "the link"))
        try:
            return await self._with_sender(self._lookup_client(), await as_blob(opened, "", on_progress))
        finally:
            await client.close()

    @api
    async def send_link_revoke(self, capsule, sender) -> dict:
        """Close a send link for good: its share is revoked at the gateway."""
        client = await self._client(arg.text(sender, "sendLinks.revoke's from"))
        capsule = arg.text(capsule, "the link's capsule")
        await client.request("DELETE", f"/v1/capsules/{cid_str(arg.cid(capsule))}", ok=(204,))
        return {"revoked": capsule}
