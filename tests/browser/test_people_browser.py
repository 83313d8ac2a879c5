"""People, not devices, in real Chromium: Alice recovers on a second device (with its own
name in the account), which seals and makes a send link for Bob; Bob's inbox row,
describe() and the send link's page name "Alice Martin" and her account's fingerprint, not
the device; Bob's contact arrives on Alice's second device with his account's fingerprint;
access() gives each recipient its person; the device named at sign-up is the device's name,
the person's name the account's; once the device is removed, its file still says who sent
it, as a former device. A gateway that names a device after an account whose chain never
certified it gets no name shown."""

import json

import pytest

from support.browser import call, ready
from support.malicious_gateway import lying_app  # noqa: F401 (a fixture)

SEAL_TO = """
  const file = new File([new TextEncoder().encode("from the phone")], "note.txt");
  return await meshkit.seal(file, {from: arg.as, to: arg.to, mode: "direct"});"""


@pytest.fixture
def devices(profiles):
    return profiles(3)


def test_bob_sees_alice_not_her_device(devices):
    laptop, phone, bob = devices
    alice = call(laptop, "return await meshkit.identity.create('Alice Martin', {deviceName: 'laptop'});")
    assert "error" not in alice, alice
    made = call(bob, "return await meshkit.identity.create('bob');")
    # sign-up: the name is the person's (the account's); the device's is its own, from the platform by default
    assert [d["name"] for d in call(laptop, "return await meshkit.devices.list('Alice Martin');")] == ["laptop"]
    assert [d["name"] for d in call(bob, "return await meshkit.devices.list('bob');")] == ["Chrome on Linux"]
    assert call(bob, "return await meshkit.identity.create('x', {deviceName: 'a/b'});")["error"] == "invalid_argument"
    # Alice adds Bob on her laptop (his account checked there)
    added = call(laptop, "return await meshkit.contacts.add(arg);",
                 call(bob, "return await meshkit.identity.record('bob');"))
    assert added["accountFingerprint"] == made["accountFingerprint"], added

    # her second device: recovered from the phrase, named apart
    second = call(phone, "return await meshkit.identity.recover('alice-phone', arg, {deviceName: 'Pixel'});",
                  alice["recoveryPhrase"])
    assert second["account"] == alice["account"], second
    assert {d["name"] for d in call(phone, "return await meshkit.devices.list('alice-phone');")} == {"laptop", "Pixel"}
    # Bob's contact arrived there from the library with his ACCOUNT's fingerprint, as on the laptop
    (contact,) = call(phone, "return await meshkit.contacts.list();")
    assert (contact["id"], contact["account"], contact["accountFingerprint"], contact["accountName"]) == (
        made["id"], made["account"], made["accountFingerprint"], "bob"), contact

    sealed = call(phone, SEAL_TO, {"as": "alice-phone", "to": [made["account"]]})
    assert sealed["status"] == "uploaded", sealed
    link = call(phone, "return await meshkit.sendLinks.create(arg, {from: 'alice-phone'});", sealed["root"])
    who = {"account": alice["account"], "name": "Alice Martin", "fingerprint": alice["accountFingerprint"]}

    def person(answer, prefix="sender"):
        return {"account": answer[prefix + "Account"], "name": answer[prefix + "Name"],
                "fingerprint": answer[prefix + "Fingerprint"]}

    rows = [r for r in call(bob, "return await meshkit.inbox('bob');") if (r.get("share") or {}).get("root")
            == sealed["root"]]
    assert [r["sender"] for r in rows] == [second["id"]], rows  # the device...
    assert person(rows[0]) == who and rows[0]["senderFormerDevice"] is False  # ...and who it is
    told = call(bob, "return await meshkit.describe(arg, {as: 'bob'});", sealed["root"])
    assert (told["sender"], person(told)) == (second["id"], who), told
    opened = call(bob, "const o = await meshkit.open(arg, {as: 'bob'}); delete o.blob; return o;", sealed["root"])
    assert person(opened) == who
    # a visitor of the send link (Bob's browser here, the link knows nothing of him) sees the same
    visited = call(bob, "return await meshkit.sendLinks.describe(arg);", link["link"])
    assert person(visited) == who, visited
    # access: every recipient with its person, to group them
    access = call(phone, "return await meshkit.access(arg, {as: 'alice-phone'});", sealed["root"])
    groups = {}
    for r in access["recipients"]:
        groups.setdefault(r["account"], set()).add(r["accountName"])
    assert groups == {alice["account"]: {"Alice Martin"}, made["account"]: {"bob"}}, access

    # the phone is removed: what it sealed before still names Alice, as a former device
    removed = call(laptop, "return await meshkit.devices.remove('Alice Martin', arg);", second["id"])
    assert "error" not in removed, removed
    ready(bob)  # a new page: nothing cached from before
    told = call(bob, "return await meshkit.describe(arg, {as: 'bob'});", sealed["root"])
    assert person(told) == who and told["senderFormerDevice"] is True, told




def test_a_gateway_cannot_name_a_device_after_someone_else(lying_app, backend):
    """A device the verified chain never certified, said by the gateway to be "Your Bank"'s:
    no person is shown for it, never the claimed name."""
    from meshkit_web.clients import accounts
    from meshkit_web.clients.gateway import GatewayClient
    from meshkit_web.core.identity import create_identity
    from support.aio import run
    from support.constants import NOW
    proxy, page = lying_app
    me = call(page, "return await meshkit.identity.create('alice');")
    assert "error" not in me, me

    async def share_from_bob():
        bob = GatewayClient(proxy.url, backend, await create_identity(backend, "bob", NOW))
        bank = GatewayClient(proxy.url, backend, await create_identity(backend, "teller", NOW))
        await bob.publish()
        await bank.publish()
        _, record = await accounts.create_account(bank, "Your Bank")
        root = await bob.seal_upload([b"from bob"], recipients=[])
        await bob.share(root, await bob.resolve(me["id"]))
        carol = GatewayClient(proxy.url, backend, await create_identity(backend, "carol-laptop", NOW))
        await carol.publish()
        _, honest = await accounts.create_account(carol, "Carol Ng")  # an account the chain does name
        await carol.share(await carol.seal_upload([b"from carol"], recipients=[]), await carol.resolve(me["id"]))
        return bob.identity.id, record, root, carol.identity.id, honest
    bob_id, bank, root, carol_id, carol = run(share_from_bob())
    proxy.on("GET", rf"^/v1/accounts/of/{bob_id}$", proxy.answer(
        200, json.dumps({"account": bank.id, "removed": True}).encode()))
    shares = [r for r in call(page, "return await meshkit.inbox('alice');") if r["kind"] == "share"]
    (honest,) = [r for r in shares if r["sender"] == carol_id]
    assert (honest["senderName"], honest["senderFingerprint"]) == ("Carol Ng", carol.fingerprint), honest
    rows = [r for r in shares if r["sender"] == bob_id]
    assert len(rows) == 1, shares
    from meshkit_web.core.cid import cid_str
    told = call(page, "return await meshkit.describe(arg, {as: 'alice'});", cid_str(root))
    for answer in rows + [told]:
        assert answer.get("senderAccount") is None and answer.get("senderName") is None, answer
        assert "Your Bank" not in json.dumps(answer) and bank.fingerprint not in json.dumps(answer)
    assert ("GET", f"/v1/accounts/of/{bob_id}") in proxy.seen  # the lie was told, and not believed
