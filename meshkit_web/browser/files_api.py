"""Managing my files in the browser runtime: ``meshkit.usage / unpin / delete``
(sdk/meshkit.js). The gateway steps are clients/storage.py's, the same as the Python API's
and the CLI's; here a file still in the outbox is discarded too (its staged blocks leave
IndexedDB and what of it landed is given back), and it leaves this browser's list."""

from ..clients.storage import delete_envelope, usage
from ..core.cid import cid_str
from . import jsapi as arg
from .jsapi import api


class FileMethods:
    """Mixed into browser.runtime.Runtime (self._client, self.store, self.outbox, self._account)."""

    @api
    async def usage(self, as_name) -> dict:
        """What ``as`` stores at the gateway against its quotas (bytes; gcGrace: seconds an
        unpinned block still counts unless released)."""
        room = await usage(await self._client(arg.text(as_name, "usage's as")))
        return {"stored": room["stored"], "storageQuota": room["storage_quota"], "pinned": room["pinned"],
                "pinQuota": room["pin_quota"], "gcGrace": room["gc_grace"]}

    @api
    async def unpin(self, root, as_name) -> dict:
        """Remove my pin of ``root`` (missing_metadata: there is none): it stops counting
        against the pin quota now, its blocks against storage after the gateway's grace."""
        client = await self._client(arg.text(as_name, "unpin's as"))
        binary = arg.cid(root)
        await client.unpin(binary)
        return {"root": cid_str(binary), "unpinned": True}

    @api
    async def delete(self, root, as_name) -> dict:
        """Delete a file of mine everywhere (clients.storage.delete_envelope): its shares and
        send links revoked, unpinned, out of the account's library (every device), its blocks
        given back at once. An outbox job of it is discarded first (its staged blocks leave
        this browser; what landed is given back), and it leaves this browser's list."""
        name = arg.text(as_name, "delete's as")
        binary = arg.cid(root)
        client = await self._client(name)
        text = cid_str(binary)
        discarded = []
        for job in await self.outbox.jobs():
            if job.get("root") == text and job.get("owner_id") == client.identity.id and job["state"] != "done":
                discarded.append((await self.outbox.discard(job["id"]))["id"])
        known, _ = await self.store.load_account(name)
        done = await delete_envelope(client, await self._account(name) if known is not None else None, binary)
        await self.store.db.delete("envelopes", f"{client.identity.id} {text}")
        return {"root": text, "unpinned": done["unpinned"], "inLibrary": done["in_library"],
                "revoked": done["revoked"], "released": done["released"], "discarded": discarded}
