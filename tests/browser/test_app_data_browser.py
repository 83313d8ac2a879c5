"""App messages and app records in real Chromium (Pyodide + WebCrypto + IndexedDB), three
browser contexts: Alice's laptop and phone (one account, linked by link + code) and Bob. Bob
messages Alice's account: both of her devices read it, proven from Bob's device of Bob's
account, and acknowledge it once; Alice's two devices share a record with compare-and-swap."""

from support.browser import call
from support.linking import browser_link

LIST = "return await meshkit.messages.list(arg.as, {kind: arg.kind, all: !!arg.all});"
READ = """const m = await meshkit.messages.read(arg.as, arg.id);
  return {...m, data: Array.from(m.data), bytes: m.data instanceof Uint8Array};"""
GET = """const r = await meshkit.records.get(arg.as, arg.name);
  return r === null ? "null" : {...r, data: Array.from(r.data), bytes: r.data instanceof Uint8Array};"""
PUT = """const data = arg.bytes ? new Uint8Array(arg.bytes) : arg.text;
  const options = arg.expected === undefined ? {} : {expectedVersion: arg.expected};
  return await meshkit.records.put(arg.as, arg.name, data, options);"""


def test_messages_between_browsers_and_a_record_shared_by_two_devices(profiles):
    laptop, phone, bob = profiles(3)
    alice = call(laptop, "return await meshkit.identity.create('alice-laptop', {deviceName: 'alice-laptop'});")
    assert "error" not in alice, alice
    request = call(phone, "return await meshkit.devices.requestLink({deviceName: 'alice-phone'});")
    _, linked = browser_link(phone, laptop, "alice-laptop", request["link"])
    assert linked["account"] == alice["account"], linked
    bobs = call(bob, "return await meshkit.identity.create('bob');")

    # Bob to Alice's account (its id), then to one of her devices (which means her account)
    sent = call(bob, "return await meshkit.messages.send(arg.to, 'hello alice', {from: 'bob', kind: 'app-chat'});",
                {"to": alice["account"]})
    assert sorted(p["device"] for p in sent["posted"]) == sorted([alice["id"], linked["id"]]), sent
    raw = call(bob, "return await meshkit.messages.send(arg.to, new Uint8Array([0, 1, 2, 250]), "
                    "{from: 'bob', kind: 'app-chat'});", {"to": linked["id"]})
    assert raw["to"] == alice["account"] and len(raw["posted"]) == 2
    for page, name in ((laptop, "alice-laptop"), (phone, "alice-phone")):
        listed = sorted(call(page, LIST, {"as": name, "kind": "app-chat"}), key=lambda m: m["type"] == "bytes")
        assert [(m["cid"], m["sender"], m.get("senderAccount"), m["type"]) for m in listed] == [
            (sent["cid"], bobs["id"], bobs["account"], "text"), (raw["cid"], bobs["id"], bobs["account"], "bytes")]
        text = call(page, READ, {"as": name, "id": listed[0]["id"]})
        assert (text["text"], text["bytes"], text["kind"], text["to"]) == ("hello alice", True, "app-chat",
                                                                           alice["account"])
        data = call(page, READ, {"as": name, "id": listed[1]["id"]})
        assert data["data"] == [0, 1, 2, 250] and data.get("text") is None
    first = next(m for m in call(laptop, LIST, {"as": "alice-laptop"}) if m["cid"] == sent["cid"])
    assert call(laptop, "return await meshkit.messages.ack(arg.as, arg.id);",
                {"as": "alice-laptop", "id": first["id"]})["acked"] is True
    assert [m["cid"] for m in call(laptop, LIST, {"as": "alice-laptop"})] == [raw["cid"]]
    assert sorted((m["cid"], m["acked"]) for m in call(laptop, LIST, {"as": "alice-laptop", "all": True})) == sorted(
        [(sent["cid"], True), (raw["cid"], False)])
    assert len(call(phone, LIST, {"as": "alice-phone"})) == 2  # each device acknowledges its own copy
    for kind in ("share", "link-offer", "App-chat"):
        refused = call(bob, "return await meshkit.messages.send(arg.to, 'x', {from: 'bob', kind: arg.kind});",
                       {"to": alice["account"], "kind": kind})
        assert refused["error"] == "invalid_argument", refused
    too_big = call(bob, "return await meshkit.messages.send(arg.to, new Uint8Array(49153), {from: 'bob'});",
                   {"to": alice["account"]})
    assert too_big["error"] == "limit_exceeded", too_big

    # a record both of Alice's devices read and write, compare-and-swap between them
    assert call(phone, GET, {"as": "alice-phone", "name": "settings"}) == "null"
    put = call(laptop, PUT, {"as": "alice-laptop", "name": "settings", "text": '{"theme":"dark"}'})
    assert (put["version"], put["updatedBy"]) == (1, alice["id"]), put
    got = call(phone, GET, {"as": "alice-phone", "name": "settings"})
    assert (got["version"], got["text"], got["updatedBy"], got["updatedByName"], got["bytes"]) == (
        1, '{"theme":"dark"}', alice["id"], "alice-laptop", True)
    mine = call(phone, PUT, {"as": "alice-phone", "name": "settings", "bytes": [9, 8, 7], "expected": 1})
    assert mine["version"] == 2, mine
    lost = call(laptop, PUT, {"as": "alice-laptop", "name": "settings", "text": "late", "expected": 1})
    assert lost["error"] == "conflict", lost
    got = call(laptop, GET, {"as": "alice-laptop", "name": "settings"})
    assert (got["version"], got["data"], got["type"], got["updatedBy"]) == (2, [9, 8, 7], "bytes", linked["id"])
    assert call(laptop, PUT, {"as": "alice-laptop", "name": "settings", "text": "now"})["version"] == 3
    assert call(phone, GET, {"as": "alice-phone", "name": "settings"})["text"] == "now"
    assert call(bob, GET, {"as": "bob", "name": "settings"}) == "null"  # Bob's account has its own
    bad = call(laptop, PUT, {"as": "alice-laptop", "name": "Library", "text": "x"})
    assert bad["error"] == "invalid_argument", bad
