"""Writes tests/vectors/app-data-v1.json: FORMAT.md section 12's app messages and app records
on fixed inputs, as success cases (what an open must give) and failure cases (the error code
it must give). tests/clients/test_app_data_vectors.py reads it, on CPython and in Chromium.

The "random" inputs (content keys, nonce prefixes, HPKE ephemeral keys) are fixed here, and
Ed25519 signatures are deterministic, so running this again gives the same bytes; change
the format, FORMAT.md and this file together.
    .venv/bin/python scripts/make_app_data_vectors.py
"""

import asyncio
import json
import pathlib

from meshkit_web.clients import app_data
from meshkit_web.core import codec, envelope
from meshkit_web.core.cid import DAG_CBOR, cid_bytes, cid_str
from meshkit_web.core.envelope import Block
from meshkit_web.core.identity import make_identity
from meshkit_web.core.signing import sign_map
from meshkit_web.crypto.nacl_backend import NaclBackend

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors" / "app-data-v1.json"
T0 = 1_700_000_000
PEOPLE = {"alice": ("11" * 32, "12" * 32), "bob": ("21" * 32, "22" * 32), "carol": ("31" * 32, "32" * 32)}
ACCOUNT = "mkaccountaaaaaaaaaaaaaaaaaaaaaaaaa"  # a scope is text: any account id (this one is made up)


class FixedBackend(NaclBackend):
    """Injects the 'random' values: content key, nonce prefix, then one ephemeral a recipient."""

    def __init__(self, randoms, ephemerals):
        super().__init__()
        self._randoms, self._ephemerals = list(randoms), list(ephemerals)

    async def random_bytes(self, n):
        return self._randoms.pop(0)

    async def x25519_generate(self):
        return await self.x25519_import_private(self._ephemerals.pop(0))


async def person(b, name):
    sig_seed, enc_scalar = (bytes.fromhex(h) for h in PEOPLE[name])
    sig_private, sig_key = await b.ed25519_import_private(sig_seed)
    enc_private, enc_key = await b.x25519_import_private(enc_scalar)
    return await make_identity(b, name, T0, sig_private, sig_key, enc_private, enc_key)


def fixed(inputs: dict) -> FixedBackend:
    return FixedBackend([bytes.fromhex(inputs["content_key"]), bytes.fromhex(inputs["nonce_prefix"])],
                        [bytes.fromhex(e) for e in inputs["ephemerals"]])


async def make_message(inputs: dict) -> bytes:
    b = fixed(inputs)
    sender = await person(b, inputs["from"])
    recipients = [(await person(b, name)).public for name in inputs["recipients"]]
    data = inputs["text"].encode() if "text" in inputs else bytes.fromhex(inputs["data"])
    _, car = await app_data.seal_message(b, sender, recipients, kind=inputs["kind"], data=data, to=inputs["to"],
                                         now=inputs["created"], text="text" in inputs)
    return car


async def make_record(inputs: dict) -> bytes:
    b = fixed(inputs)
    signer = await person(b, inputs["from"])
    recipients = [(await person(b, name)).public for name in inputs["recipients"]]
    data = inputs["text"].encode() if "text" in inputs else bytes.fromhex(inputs["data"])
    _, car = await app_data.seal_record(b, signer, recipients, scope=inputs["scope"], name=inputs["name"],
                                        version=inputs["version"], data=data, now=inputs["created"],
                                        text="text" in inputs)
    return car


def frames(car: bytes) -> tuple[bytes, dict]:
    return app_data.read_car(car, 1 << 20)


async def resealed(b, car: bytes, plaintext: bytes, recipients) -> bytes:
    """A message CAR whose envelope holds ``plaintext`` (anything), sealed by alice."""
    alice = await person(b, "alice")
    blocks = [blk async for blk in envelope.seal(b, [plaintext], sender=alice, recipients=recipients, now=T0,
                                                 include_sender=False)]
    return app_data.car_bytes(blocks[-1].cid, blocks)


async def forged(b, car: bytes, claimed: str, signer: str, claimed_key: bool) -> bytes:
    root, blocks = frames(car)
    header = codec.decode_map(blocks[root], "header")
    header.pop("sig")
    who, by = await person(b, claimed), await person(b, signer)
    header["sender"] = {"id": who.id, "key": (who if claimed_key else by).public.sig_key}
    data = codec.encode(await sign_map(b, by.sig_private, "envelope", header))
    new_root = cid_bytes(DAG_CBOR, data)
    return app_data.car_bytes(new_root, [Block(new_root, data)] + [Block(c, d) for c, d in blocks.items() if c != root])


async def main() -> None:
    b = NaclBackend()
    alice, bob, carol = [await person(b, n) for n in ("alice", "bob", "carol")]
    hello = {"from": "alice", "recipients": ["bob"], "to": bob.id, "kind": "app-chat", "text": "hello bob",
             "created": T0, "content_key": bytes(range(100, 132)).hex(), "nonce_prefix": "d0d1d2d3d4d5d6",
             "ephemerals": ["77" * 32]}
    raw = {"from": "alice", "recipients": ["bob", "carol"], "to": ACCOUNT, "kind": "app-files",
           "data": bytes(range(256)).hex(), "created": T0 + 1, "content_key": bytes(range(132, 164)).hex(),
           "nonce_prefix": "e0e1e2e3e4e5e6", "ephemerals": ["78" * 32, "79" * 32]}
    settings = {"from": "alice", "recipients": ["bob"], "scope": ACCOUNT, "name": "settings", "version": 3,
                "text": '{"theme":"dark"}', "created": T0 + 2, "content_key": bytes(range(164, 196)).hex(),
                "nonce_prefix": "f0f1f2f3f4f5f6", "ephemerals": ["7a" * 32]}
    hello_car, raw_car, settings_car = await make_message(hello), await make_message(raw), await make_record(settings)
    root, blocks = frames(hello_car)

    def message(case, car, opener, **expect):
        return {"case": case, "car": car.hex(), "as": opener, **expect}

    ok_hello = {"cid": cid_str(root), "sender": alice.id, "created": T0, "kind": "app-chat", "to": bob.id,
                "text": True, "data": b"hello bob".hex()}
    ok_raw = {"cid": cid_str(frames(raw_car)[0]), "sender": alice.id, "created": T0 + 1, "kind": "app-files",
              "to": ACCOUNT, "text": False, "data": bytes(range(256)).hex()}
    segment = next(c for c in blocks if c != root)
    flipped = bytearray(blocks[segment])
    flipped[2] ^= 1
    extra = Block(cid_bytes(DAG_CBOR, codec.encode({"extra": 1})), codec.encode({"extra": 1}))
    messages = [
        message("a text message: bob opens", hello_car, "bob", expect=ok_hello),
        message("bytes to two recipients: bob opens", raw_car, "bob", expect=ok_raw),
        message("bytes to two recipients: carol opens", raw_car, "carol", expect=ok_raw),
        message("carol is not a recipient", hello_car, "carol", error="not_recipient"),
        message("the sender is not a recipient (a message is not kept by its sender)", hello_car, "alice",
                error="not_recipient"),
        message("a segment's bytes changed", app_data.car_bytes(root, [Block(root, blocks[root]),
                                                                       Block(segment, bytes(flipped))]),
                "bob", error="cid_mismatch"),
        message("the segment missing", app_data.car_bytes(root, [Block(root, blocks[root])]), "bob",
                error="missing_block"),
        message("a block the envelope does not link", app_data.car_bytes(root, [Block(root, blocks[root]),
                                                                                Block(segment, blocks[segment]),
                                                                                extra]), "bob", error="malformed"),
        message("a header naming alice with alice's key, signed by carol", await forged(b, hello_car, "alice", "carol",
                                                                                          True), "bob",
                error="bad_signature"),
        message("a header naming alice with carol's key", await forged(b, hello_car, "alice", "carol", False), "bob",
                error="identity_mismatch"),
        message("an envelope whose plaintext is not a message", await resealed(
            FixedBackend([bytes([1]) * 32, bytes([1]) * 7], [b"\x7b" * 32]), hello_car, b"hello bob",
            [bob.public]), "bob",
                error="malformed"),
        message("a message with a key nobody reads", await resealed(
            FixedBackend([bytes([2]) * 32, bytes([2]) * 7], [b"\x7b" * 32]), hello_car, codec.encode(
                {"meshkit": "message", "v": 1, "kind": "app-chat", "to": bob.id, "data": b"x", "text": False,
                 "extra": 1}), [bob.public]), "bob", error="malformed"),
        message("text that is not UTF-8", await resealed(
            FixedBackend([bytes([3]) * 32, bytes([3]) * 7], [b"\x7b" * 32]), hello_car, codec.encode(
                {"meshkit": "message", "v": 1, "kind": "app-chat", "to": bob.id, "data": b"\xff\xfe", "text": True}),
            [bob.public]), "bob", error="malformed"),
        message("not a CAR", bytes(blocks[root]), "bob", error="malformed"),
    ]
    srec = frames(settings_car)[0]
    ok_settings = {"cid": cid_str(srec), "signer": alice.id, "created": T0 + 2, "version": 3, "text": True,
                   "data": settings["text"].encode().hex()}
    records = [
        {"case": "version 3 of settings: bob opens", "car": settings_car.hex(), "as": "bob", "scope": ACCOUNT,
         "name": "settings", "expect": ok_settings},
        {"case": "read as another name", "car": settings_car.hex(), "as": "bob", "scope": ACCOUNT, "name": "other",
         "error": "malformed"},
        {"case": "read as another account's", "car": settings_car.hex(), "as": "bob", "scope": bob.id,
         "name": "settings", "error": "malformed"},
        {"case": "a message is not a record", "car": hello_car.hex(), "as": "bob", "scope": ACCOUNT,
         "name": "settings", "error": "malformed"},
        {"case": "carol is not a recipient", "car": settings_car.hex(), "as": "carol", "scope": ACCOUNT,
         "name": "settings", "error": "not_recipient"},
    ]
    OUT.write_text(json.dumps({
        "about": "FORMAT.md section 12: app messages (12.1) and app records (12.3) on fixed inputs. A message "
                 "case opens 'car' as 'as' (open_message); a record case opens it as the record 'name' of "
                 "'scope' (open_record). Each gives 'expect' (data in hex) or fails with 'error' (a MeshKitError "
                 "code). 'inputs' reproduce the first cars byte for byte with the injected randoms.",
        "people": {name: {"sig_seed": s, "enc_scalar": e} for name, (s, e) in PEOPLE.items()},
        "created": T0,
        "inputs": {"message": hello, "message2": raw, "record": settings},
        "messages": messages,
        "records": records,
    }, indent=1) + "\n")
    print(f"wrote {OUT} ({len(messages)} message cases, {len(records)} record cases); hello: {len(hello_car)} bytes, "
          f"root {cid_str(root)}")


asyncio.run(main())
