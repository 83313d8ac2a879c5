"""App messages and app records (FORMAT.md section 12) against a gateway that lies
(tests/support/malicious_gateway.py) and users who forge: who a message is from is its
signature's word, never the gateway's; a message acknowledged never shows again; a record is
never rolled back, forked, moved from another name, or accepted from a key the account does not
certify now; every size is bounded before anything is sent or buffered."""

import json
import os

import pytest

from meshkit_web.clients import accounts, app_data
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec
from meshkit_web.core.cid import DAG_CBOR, cid_bytes
from meshkit_web.core.envelope import Block
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.identity import create_identity
from meshkit_web.core.signing import sign_map

from support.aio import run
from support.constants import NOW
from support.linking import link_device
from support.malicious_gateway import Reply

JSON = [(b"content-type", b"application/json")]


async def client(url, backend, name):
    c = GatewayClient(url, backend, await create_identity(backend, name, NOW))
    await c.publish()
    return c


async def fails(code: str, coro):
    with pytest.raises(MeshKitError) as caught:
        await coro
    assert caught.value.code == code, caught.value
    return caught.value


def serve(body: bytes, headers=JSON, status: int = 200):
    async def action(_body, _forward):
        return Reply(status, list(headers), body)
    return action


def with_body(body: bytes):
    """The real reply (its headers: the gateway's sender and kind) with another body."""
    async def action(_body, forward):
        reply = await forward()
        reply.body = body
        return reply
    return action


async def resigned(backend, car: bytes, signer, claimed, *, claimed_key: bool) -> bytes:
    """A message whose header says it is from ``claimed`` (with ``claimed``'s key, or the
    signer's), signed by ``signer``: a forgery."""
    root, blocks = app_data.read_car(car, app_data.MAX_MESSAGE_SIZE)
    header = codec.decode_map(blocks[root], "header")
    header.pop("sig")
    header["sender"] = {"id": claimed.id, "key": claimed.sig_key if claimed_key else signer.public.sig_key}
    data = codec.encode(await sign_map(backend, signer.sig_private, "envelope", header))
    new_root = cid_bytes(DAG_CBOR, data)
    return app_data.car_bytes(new_root, [Block(new_root, data)] + [Block(c, d) for c, d in blocks.items() if c != root])


def test_a_message_shows_only_with_the_sender_who_signed_it(malicious_gateway, backend):
    gw, url = malicious_gateway, malicious_gateway.url

    async def go():
        alice, bob, mallory, carol = [await client(url, backend, n) for n in ("alice", "bob", "mallory", "carol")]
        _, bob_account = await accounts.create_account(bob, "bob")
        to_bob = await app_data.reach_of(alice, bob.identity.id)
        genuine = await app_data.send_message(alice, to_bob, "lunch at noon?", kind="app-chat")

        # Mallory posts forgeries herself (an honest gateway takes any bytes): a header that
        # names Alice with Alice's key but signed by Mallory; one that names Alice with Mallory's key
        _, hers = await app_data.seal_message(backend, mallory.identity, list(to_bob.identities), kind="app-chat",
                                              data=b"pay mallory", to=bob_account.id, now=NOW)
        for claimed_key in (True, False):
            forged = await resigned(backend, hers, mallory.identity, alice.identity.public, claimed_key=claimed_key)
            await mallory.request("POST", f"/v1/mailbox/{bob.identity.id}?kind=app-chat", body=forged)
        rows = await bob.inbox(notices=False)
        alices = next(r["id"] for r in rows if r["sender"] == alice.identity.id)
        forged_ids = [r["id"] for r in rows if r["sender"] == mallory.identity.id]
        shown = await app_data.list_messages(bob)
        assert [(m["sender"], m["cid"]) for m in shown] == [(alice.identity.id, genuine["cid"])]
        assert bob.app_messages_dropped == 2
        codes = set()
        for forged_id in forged_ids:
            with pytest.raises(MeshKitError) as caught:
                await app_data.read_message(bob, forged_id)
            codes.add(caught.value.code)
        assert codes == {"bad_signature", "identity_mismatch"}

        # the gateway swaps the body of Alice's message for Mallory's (valid, signed by Mallory,
        # sealed to Bob): not shown as Alice's, nor at all (its labels and its signature disagree)
        bob.__dict__.pop("_app_messages", None)
        gw.on("GET", rf"^/v1/mailbox/{alices}$", with_body(hers))
        assert await app_data.list_messages(bob) == []
        wrong = await fails("identity_mismatch", app_data.read_message(bob, alices))
        assert "signer" in wrong.message
        gw.clear()

        # the gateway relabels Alice's message (app-chat -> app-pay): not shown under either label
        bob.__dict__.pop("_app_messages", None)
        gw.on("GET", r"^/v1/mailbox\?", gw.rewrite_json(lambda page: {**page, "messages": [
            {**m, "kind": "app-pay"} for m in page["messages"]]}))
        assert await app_data.list_messages(bob, kind="app-pay") == []
        assert await app_data.list_messages(bob) == []
        gw.clear()

        # bytes that do not match their CIDs, and a message sealed to someone else, slipped in
        _, to_carol = await app_data.seal_message(backend, alice.identity, [carol.identity.public], kind="app-chat",
                                                  data=b"for carol", to=carol.identity.id, now=NOW)
        body = (await bob.request("GET", f"/v1/mailbox/{alices}")).body
        flipped = bytearray(body)
        flipped[-3] ^= 1
        for bad, code in ((bytes(flipped), "cid_mismatch"), (to_carol, "not_recipient")):
            bob.__dict__.pop("_app_messages", None)
            gw.on("GET", rf"^/v1/mailbox/{alices}$", with_body(bad))
            assert await app_data.list_messages(bob) == []
            await fails(code, app_data.read_message(bob, alices))
            gw.clear()
        bob.__dict__.pop("_app_messages", None)
        assert [m["cid"] for m in await app_data.list_messages(bob)] == [genuine["cid"]]
        for c in (alice, bob, mallory, carol):
            await c.close()
    run(go())


def test_an_acknowledged_message_never_shows_again(malicious_gateway, backend):
    gw, url = malicious_gateway, malicious_gateway.url

    async def go():
        alice, bob = [await client(url, backend, n) for n in ("alice", "bob")]
        await app_data.send_message(alice, await app_data.reach_of(alice, bob.identity.id), "once", kind="app-chat")
        [listed] = await app_data.list_messages(bob)
        body = (await bob.request("GET", f"/v1/mailbox/{listed['id']}")).body
        await app_data.ack_message(bob, listed["id"])
        assert await app_data.list_messages(bob) == []
        # the gateway serves it again, as new, under another id (and again with the old one)
        replayed = "00000000-0000-4000-8000-00000000abcd"
        for message_id in (replayed, listed["id"]):
            row = {"id": message_id, "sender": alice.identity.id, "kind": "app-chat", "created": listed["received"],
                   "acked": False, "size": len(body)}
            gw.on("GET", r"^/v1/mailbox\?", gw.rewrite_json(lambda page, row=row: {**page, "messages": [row]}))
            gw.on("GET", rf"^/v1/mailbox/{message_id}$", serve(body, [(b"x-meshkit-sender", alice.identity.id.encode()),
                                                                      (b"x-meshkit-kind", b"app-chat")]))
            bob.__dict__.pop("_app_messages", None)
            assert await app_data.list_messages(bob) == []
            assert [m["acked"] for m in await app_data.list_messages(bob, include_acked=True)] == [True]
            gw.clear()
        for c in (alice, bob):
            await c.close()
    run(go())


def test_a_record_is_never_rolled_back_forked_moved_or_taken_from_a_key_the_account_does_not_certify(
        malicious_gateway, backend):
    gw, url = malicious_gateway, malicious_gateway.url
    path = "/v1/account-sync/app.settings"

    async def go():
        laptop, phone, mallory = [await client(url, backend, n) for n in ("laptop", "phone", "mallory")]
        _, record = await accounts.create_account(laptop, "alice")
        record, _ = await link_device(laptop, record, phone)
        await app_data.put_record(laptop, record, "settings", "v1")
        old = (await laptop.request("GET", path)).json()
        await app_data.put_record(laptop, record, "settings", "v2", expected_version=1)
        other = await app_data.put_record(laptop, record, "other", "not the settings")
        other_row = (await laptop.request("GET", "/v1/account-sync/app.other")).json()
        for device in (laptop, phone):
            assert (await app_data.get_record(device, record, "settings"))["text"] == "v2"
        assert other["version"] == 1

        async def refused(code: str, answer, *devices):
            gw.on("GET", rf"^{path}$", answer)
            for device in devices or (laptop, phone):
                await fails(code, app_data.get_record(device, record, "settings"))
            gw.clear()

        # an older version, served as what it is, or as a newer one; none at all
        await refused("rollback", serve(json.dumps(old).encode()))
        await refused("rollback", serve(json.dumps({**old, "version": 3}).encode()))
        await refused("rollback", gw.answer(404))
        # another record of version 2 (a fork), sealed by a device of the account
        _, fork = await app_data.seal_record(backend, phone.identity, record.recipients(), scope=record.id,
                                             name="settings", version=2, data=b"fork", now=NOW)
        await refused("rollback", serve(json.dumps({"version": 2, "data": codec.b64e(fork), "updated": NOW}).encode()))
        # another name's record, and the library's pointer, served for this name
        await refused("malformed", serve(json.dumps({**other_row, "version": 3}).encode()))
        await accounts.save_library(laptop, record, lambda lib: lib.put("contact:mkx", {"name": "x"}, NOW))
        pointer = (await laptop.request("GET", "/v1/account-sync/library")).json()
        await refused("malformed", serve(json.dumps({**pointer, "version": 3}).encode()))
        # version 3 sealed to the account by a key it never certified
        _, foreign = await app_data.seal_record(backend, mallory.identity, record.recipients(), scope=record.id,
                                                name="settings", version=3, data=b"mallory's", now=NOW)
        await refused("bad_account_chain", serve(json.dumps({"version": 3, "data": codec.b64e(foreign),
                                                             "updated": NOW}).encode()))
        assert (await app_data.get_record(laptop, record, "settings"))["text"] == "v2"  # nothing was accepted

        # the phone is removed; it still has its keys, and a gateway that helps it
        record = await accounts.remove_devices(laptop, record, [phone.identity.id])
        _, stolen = await app_data.seal_record(backend, phone.identity, record.recipients(), scope=record.id,
                                               name="settings", version=3, data=b"the thief's", now=NOW)
        await refused("bad_account_chain", serve(json.dumps({"version": 3, "data": codec.b64e(stolen),
                                                             "updated": NOW}).encode()), laptop)
        assert (await app_data.get_record(laptop, record, "settings"))["text"] == "v2"
        for c in (laptop, phone, mallory):
            await c.close()
    run(go())


def test_sizes_are_bounded_before_anything_is_sent_or_buffered(malicious_gateway, backend):
    gw, url = malicious_gateway, malicious_gateway.url

    async def go():
        alice, bob = [await client(url, backend, n) for n in ("alice", "bob")]
        _, record = await accounts.create_account(alice, "alice")
        reach = await app_data.reach_of(alice, bob.identity.id)
        gw.seen.clear()
        await fails("limit_exceeded", app_data.send_message(alice, reach, os.urandom(app_data.MAX_MESSAGE_DATA + 1)))
        await fails("limit_exceeded", app_data.put_record(alice, record, "big",
                                                          os.urandom(app_data.MAX_RECORD_DATA + 1)))
        assert not [s for s in gw.seen if s[0] in ("POST", "PUT")]
        # a gateway that answers a message with far more than a message can be: not buffered, not shown
        await app_data.send_message(alice, reach, "small", kind="app-chat")
        [row] = await bob.inbox(notices=False)
        gw.on("GET", rf"^/v1/mailbox/{row['id']}$", with_body(os.urandom(2 << 20)))
        assert await app_data.list_messages(bob) == []
        await fails("limit_exceeded", app_data.read_message(bob, row["id"]))
        for c in (alice, bob):
            await c.close()
    run(go())
