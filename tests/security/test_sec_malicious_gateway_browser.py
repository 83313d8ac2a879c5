"""Class 1 of the security review in the app (real Chromium, the real gateway behind the
lying proxy of tests/support/malicious_gateway.py, which also serves the app): what the page
shows comes from what the page verified, not from the gateway's word."""

import json

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.browser import call, ready
from support.constants import NOW
from support.malicious_gateway import lying_app  # noqa: F401 (a fixture)


def test_the_app_shows_the_sharer_the_proof_names(lying_app, backend):
    proxy, page = lying_app
    me = call(page, "return await meshkit.identity.create('alice');")
    assert "error" not in me, me

    async def share_from_bob():
        bob = GatewayClient(proxy.url, backend, await create_identity(backend, "bob", NOW))
        mallory = await create_identity(backend, "mallory", NOW)
        await bob.publish()
        root = await bob.seal_upload([b"from bob"], recipients=[])
        await bob.share(root, await bob.resolve(me["id"]))
        return bob.identity.id, mallory.id
    bob_id, mallory_id = run(share_from_bob())
    honest = [r for r in call(page, "return await meshkit.inbox('alice');") if r["kind"] == "share"]
    assert [r["sender"] for r in honest] == [bob_id]
    # the gateway now says mallory shared it, in the listing and the notice, and hides the proofs
    def retold(notice):
        return {k: v for k, v in {**notice, "sharer": mallory_id}.items() if k != "proof"}
    proxy.on("GET", r"^/v1/mailbox(\?.*)?$", proxy.rewrite_json(lambda reply: {**reply, "messages": [
        {**row, "sender": mallory_id, **({"notice": retold(row["notice"])} if isinstance(row.get("notice"), dict)
                                         else {})} for row in reply["messages"]]}))
    proxy.on("GET", r"^/v1/mailbox/[^/?]+", proxy.rewrite_json(retold))
    proxy.on("GET", r"^/v1/proofs\?", proxy.rewrite_json(lambda reply: {"proofs": []}))
    page.reload()
    ready(page)
    shown = call(page, "return await meshkit.inbox('alice', {all: true});")
    assert mallory_id not in json.dumps(shown)  # never shown as the sharer, anywhere in the answer
