"""App messages and app records (FORMAT.md section 12) on CPython through a real gateway:
messages between accounts (every current device gets one, each verifies, acknowledges once),
records that follow an account (compare-and-swap between two devices, a device that joined
later reads after another device wrote it again), names kept apart from the library's, and
every size bounded before anything is sent."""

import os

import pytest

from meshkit_web.clients import accounts, app_data
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.constants import NOW
from support.linking import link_device


async def device(url, backend, name, keeper=None):
    client = GatewayClient(url, backend, await create_identity(backend, name, NOW))
    await client.publish()
    if keeper is not None:
        client.app_data_keeper = keeper
    return client


async def fails(code: str, coro):
    with pytest.raises(MeshKitError) as caught:
        await coro
    assert caught.value.code == code, caught.value
    return caught.value


def test_messages_reach_every_device_of_an_account_verify_and_are_acknowledged_once(fresh_gateway, backend,
                                                                                     tmp_path):
    url = fresh_gateway
    raw = os.urandom(3000)

    async def go():
        alice = await device(url, backend, "alice")
        _, alice_account = await accounts.create_account(alice, "alice")
        keeper = app_data.DirectoryKeeper(str(tmp_path / "bob-home" / "app-data"))
        laptop, phone = await device(url, backend, "bob-laptop", keeper), await device(url, backend, "bob-phone")
        _, bob = await accounts.create_account(laptop, "bob")
        bob, _ = await link_device(laptop, bob, phone)

        # to the account (by its id) and to one of its devices (rule 4: the account): both devices
        reach = await app_data.reach_of(alice, bob.id)
        sent = await app_data.send_message(alice, reach, "hi bob", kind="app-chat")
        assert sent["account"] and sorted(p["device"] for p in sent["posted"]) == sorted(
            [laptop.identity.id, phone.identity.id]) and not sent["failed"]
        sent2 = await app_data.send_message(alice, await app_data.reach_of(alice, phone.identity.id), raw,
                                            kind="app-files")
        assert sent2["to"] == bob.id and len(sent2["posted"]) == 2

        for reader in (laptop, phone):
            listed = sorted(await app_data.list_messages(reader), key=lambda m: m["kind"])  # sent in one second
            assert [(m["kind"], m["sender"], m["type"], m["size"]) for m in listed] == [
                ("app-chat", alice.identity.id, "text", 6), ("app-files", alice.identity.id, "bytes", 3000)]
            assert {m["cid"] for m in listed} == {sent["cid"], sent2["cid"]} and not any(m["acked"] for m in listed)
            assert [m["kind"] for m in await app_data.list_messages(reader, kind="app-files")] == ["app-files"]
            assert await app_data.list_messages(reader, kind=["app-nothing"]) == []
            text = await app_data.read_message(reader, listed[0]["id"])
            assert text["text"] == "hi bob" and text["data"] == b"hi bob" and text["to"] == bob.id
            data = await app_data.read_message(reader, listed[1]["id"])
            assert data["data"] == raw and "text" not in data

        # acknowledged on the laptop: gone there (not on the phone), and remembered in its keeper
        first = next(m for m in await app_data.list_messages(laptop) if m["cid"] == sent["cid"])
        assert (await app_data.ack_message(laptop, first["id"]))["cid"] == sent["cid"]
        assert [m["cid"] for m in await app_data.list_messages(laptop)] == [sent2["cid"]]
        assert len(await app_data.list_messages(phone)) == 2
        later = GatewayClient(url, backend, laptop.identity)  # a new process of the same home
        later.app_data_keeper = app_data.DirectoryKeeper(str(tmp_path / "bob-home" / "app-data"))
        every = await app_data.list_messages(later, include_acked=True)
        assert sorted((m["cid"], m["acked"]) for m in every) == sorted([(sent["cid"], True), (sent2["cid"], False)])
        assert (await app_data.read_message(later, first["id"]))["acked"] is True

        # bounds and kinds, refused before anything is sealed or sent
        assert len((await app_data.send_message(alice, reach, os.urandom(app_data.MAX_MESSAGE_DATA)))["posted"]) == 2
        await fails("limit_exceeded", app_data.send_message(alice, reach, os.urandom(app_data.MAX_MESSAGE_DATA + 1)))
        for kind in ("share", "sealed", "link-offer", "message", "App-chat", "app-", "app-" + "x" * 29, "app_chat"):
            await fails("invalid_argument", app_data.send_message(alice, reach, "x", kind=kind))
        await fails("invalid_argument", app_data.send_message(alice, reach, 12))
        await fails("unknown_identity", app_data.reach_of(alice, "nobody"))
        for client in (alice, laptop, phone, later):
            await client.close()
    run(go())


def test_records_follow_the_account_compare_and_swap_and_reach_a_device_that_joined_later(fresh_gateway, backend):
    url = fresh_gateway

    async def go():
        laptop, phone = await device(url, backend, "laptop"), await device(url, backend, "phone")
        _, record = await accounts.create_account(laptop, "alice")
        assert await app_data.get_record(laptop, record, "settings") is None
        first = await app_data.put_record(laptop, record, "settings", '{"theme": "dark"}')
        assert (first["version"], first["updatedBy"], first["type"]) == (1, laptop.identity.id, "text")
        await fails("conflict", app_data.put_record(laptop, record, "settings", "again", expected_version=0))
        await accounts.save_library(laptop, record, lambda lib: lib.put("contact:mkx", {"name": "x"}, NOW))

        record, _ = await link_device(laptop, record, phone)
        # sealed before the phone joined: it cannot open it until a device of the account
        # that can reads it (and writes it again, sealed to the current devices)
        await fails("not_recipient", app_data.get_record(phone, record, "settings"))
        healed = await app_data.get_record(laptop, record, "settings")
        assert healed["version"] == 2 and healed["text"] == '{"theme": "dark"}'
        got = await app_data.get_record(phone, record, "settings")
        assert (got["version"], got["text"], got["updatedBy"], got["updatedByName"]) == (
            2, '{"theme": "dark"}', laptop.identity.id, "laptop")

        # compare-and-swap between the two devices: the second writer of version 3 loses
        mine = await app_data.put_record(phone, record, "settings", b"\x00phone", expected_version=2)
        assert mine["version"] == 3 and mine["updatedBy"] == phone.identity.id
        lost = await fails("conflict", app_data.put_record(laptop, record, "settings", "laptop", expected_version=2))
        assert "version 3" in lost.message
        got = await app_data.get_record(laptop, record, "settings")
        assert (got["version"], got["data"], got["type"], got["updatedBy"]) == (3, b"\x00phone", "bytes",
                                                                               phone.identity.id)
        # without expectedVersion: the newest this device accepted
        assert (await app_data.put_record(laptop, record, "settings", "laptop"))["version"] == 4
        await fails("conflict", app_data.put_record(phone, record, "settings", "phone"))  # it last saw 3
        assert (await app_data.get_record(phone, record, "settings"))["text"] == "laptop"

        # app names never reach MeshKit's own records: "library" is app.library, the library is untouched
        await app_data.put_record(laptop, record, "library", "an app's own library")
        library, _ = await accounts.load_library(phone, record)
        assert "contact:mkx" in library.entries
        assert (await app_data.get_record(phone, record, "library"))["text"] == "an app's own library"
        for name in ("Library", "", "a/b", "x" * 65, ".hidden", "app:x", None):
            await fails("invalid_argument", app_data.put_record(laptop, record, name, "x"))
            await fails("invalid_argument", app_data.get_record(laptop, record, name))
        await fails("limit_exceeded", app_data.put_record(laptop, record, "big",
                                                          os.urandom(app_data.MAX_RECORD_DATA + 1)))
        assert (await app_data.put_record(laptop, record, "big", os.urandom(app_data.MAX_RECORD_DATA)))["version"] == 1
        await fails("invalid_argument", app_data.put_record(laptop, record, "settings", "x", expected_version=-1))

        # an identity without an account keeps records for itself alone
        solo = await device(url, backend, "solo")
        assert (await app_data.put_record(solo, None, "notes", "mine"))["version"] == 1
        assert (await app_data.get_record(solo, None, "notes"))["text"] == "mine"
        for client in (laptop, phone, solo):
            await client.close()
    run(go())


def test_acknowledged_messages_are_bounded_with_a_horizon():
    acked = app_data.Acked({})
    for i in range(app_data.MAX_ACKED + 10):
        acked.add(f"bafy{i}", 1000 + i, now=2000)
    assert len(acked.roots) == app_data.MAX_ACKED and acked.horizon == 1009
    assert acked.has("bafy0", 1000) and acked.has("never-seen", 1009)  # let go of, or older: acknowledged
    assert not acked.has("never-seen", 1010) and acked.has("bafy10", 1010)
    # a sender who dates her messages far ahead cannot make the horizon hide what comes later
    ahead = app_data.Acked({})
    now = 1_800_000_000
    for i in range(app_data.MAX_ACKED + 1):
        ahead.add(f"bafyfuture{i}", 4_000_000_000, now=now)
    assert ahead.horizon == now + app_data.ACK_SLACK and not ahead.has("bafynext", now + 2 * app_data.ACK_SLACK)
    run(_reload(acked, app_data.Acked({})))


async def _reload(acked, again):
    keeper = app_data.MemoryKeeper()
    await keeper.save_app_state("acked me", acked.to_bytes())
    loaded = await app_data.acked_state(keeper, "me")
    assert loaded.roots == acked.roots and loaded.horizon == acked.horizon
    await keeper.save_app_state("acked me", b"\xff not cbor")
    damaged = await app_data.acked_state(keeper, "me")  # damaged: nothing older than now shows again
    assert damaged.horizon > 1_700_000_000 and damaged.has("anything", 1_700_000_000)
