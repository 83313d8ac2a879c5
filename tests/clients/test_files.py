"""Managing files through a real gateway, the one implementation the Python API and the
browser call (clients/storage.py, clients/send_links.py): send links listed from the
account's library on every device, with the gateway's counts; deleting on one device ends the
links made on another; a usage that is no number is malformed."""

import pytest

from meshkit_web.clients import accounts
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.clients.send_links import _link_state, create_send_link, list_send_links, open_send_link
from meshkit_web.clients.storage import delete_envelope, usage
from meshkit_web.core.cid import cid_str
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.hpke import KEM_X25519_SHA256, KEM_XWING
from meshkit_web.core.identity import create_identity
from meshkit_web.core.library import Library, library_from_bytes, merge

from support.aio import run
from support.constants import NOW
from support.linking import link_device


async def client(gateway, backend, name):
    c = GatewayClient(gateway, backend, await create_identity(backend, name, NOW))
    await c.publish()
    return c


async def make_link(device, record, root, opens):
    fragment, capsule = await create_send_link(device, root, opens=opens)
    assert await accounts.remember_link(device, record, cid_str(root), capsule, opens=opens, expires=None,
                                        created=await device.gateway_now())
    return "https://app.example/#" + fragment, capsule


def test_send_links_are_listed_on_every_device_and_a_delete_there_ends_them(fresh_gateway, backend):
    async def go():
        laptop, phone, bob = [await client(fresh_gateway, backend, n) for n in ("laptop", "phone", "bob")]
        _, record = await accounts.create_account(laptop, "alice")
        record, _ = await link_device(laptop, record, phone)
        root = await laptop.seal_upload([b"a file with links"], recipients=accounts.account_recipients(record))
        assert await accounts.remember_sealed(laptop, record, cid_str(root), "f.txt", 17)
        once, once_capsule = await make_link(laptop, record, root, 1)
        _, open_capsule = await make_link(laptop, record, root, None)
        person = await laptop.share(root, bob.identity.public)

        # the phone lists the laptop's links (not bob's share); the limited one used: used_up
        opened, holder = await open_send_link(GatewayClient, fresh_gateway, backend, once)
        assert b"".join([c async for c in opened.plaintext()]) == b"a file with links"
        await holder.close()
        links = {link["capsule"]: link for link in await list_send_links(phone, record, root)}
        assert set(links) == {once_capsule, open_capsule} and cid_str(person.cid) not in links
        assert (links[once_capsule]["opens"], links[once_capsule]["opens_used"], links[once_capsule]["state"]) == (
            1, 1, "used_up")
        assert (links[open_capsule]["opens"], links[open_capsule]["opens_used"], links[open_capsule]["state"]) == (
            None, None, "live")
        assert await accounts.link_capsules(phone, record) == {once_capsule, open_capsule}

        # deleted on the phone: the laptop's links and share end too, and it leaves the library
        done = await delete_envelope(phone, record, root)
        assert set(done["revoked"]) == {once_capsule, open_capsule, cid_str(person.cid)}
        assert done["in_library"] is True
        with pytest.raises(MeshKitError) as refused:
            await bob.open(root)
        assert refused.value.code == "revoked"
        library, _ = await accounts.load_library(laptop, record)
        assert cid_str(root) not in library.items("envelope") and not library.items("link")
        assert await list_send_links(laptop, record, root) == []
        for c in (laptop, phone, bob):
            await c.close()
    run(go())


def test_the_gateway_is_believed_for_states_and_counts_only():
    """Which shares are links, their limit and expiry are the library's; the gateway's row
    gives revoked and opens left, clamped to the limit; a link it does not list is revoked."""
    mine = {"root": "bafyroot", "opens": 3, "expires": 2000, "created": 1000}
    row = {"cid": "c", "revoked": False, "expires": 9999, "opens_left": 99, "state": "live"}
    assert _link_state("c", mine, row, "bafyroot", 1500)["opens_used"] == 0  # more left than allowed: none used
    assert _link_state("c", mine, {**row, "opens_left": -4}, "bafyroot", 1500)["state"] == "used_up"
    assert _link_state("c", mine, row, "bafyroot", 2500)["state"] == "expired"  # the library's expiry, not the row's
    assert _link_state("c", mine, None, "bafyroot", 1500)["state"] == "revoked"
    told = _link_state("c", mine, {**row, "opens_left": None}, "bafyroot", 1500)
    assert (told["opens"], told["opens_used"], told["state"]) == (3, None, "live")


def test_a_usage_that_is_no_number_is_malformed():
    class Hostile:
        def __init__(self, answer):
            self.answer = answer

        async def usage(self):
            return self.answer
    good = {"stored": 5, "storage_quota": 10, "pinned": 1, "pin_quota": 4, "gc_grace": 60}
    assert run(usage(Hostile(good))) == good
    assert run(usage(Hostile({"stored": 5, "storage_quota": 10})))["pin_quota"] == 0  # an older gateway
    for bad in ({**good, "stored": "5"}, {**good, "storage_quota": -1}, {**good, "pinned": True}, [], None):
        with pytest.raises(MeshKitError) as refused:
            run(usage(Hostile(bad)))
        assert refused.value.code == "malformed", bad


def test_a_library_keeps_entries_of_a_kind_a_newer_version_writes():
    newer = Library("mkacct")
    newer.entries["album:x1"] = {"t": 5, "value": {"name": "holidays"}}
    newer.put("link:bafycap", {"root": "bafyroot", "opens": None, "expires": None, "created": 5}, 5)
    read = library_from_bytes(newer.to_bytes(), "mkacct")
    assert set(read.entries) == {"album:x1", "link:bafycap"}
    assert set(merge(read, Library("mkacct")).entries) == {"album:x1", "link:bafycap"}  # a fold keeps it
    with pytest.raises(MeshKitError):
        Library("mkacct").put("album:x2", {}, 1)  # this version writes only its own kinds


def test_share_rows_a_gateway_garbles_are_dropped():
    from meshkit_web.clients.gateway import _share_row
    good = {"cid": "bafyc", "root": "bafyr", "recipient": "mkb", "sharer": "mka", "revoked": False,
            "expires": None, "opens_left": 2, "created": 1}
    assert _share_row(good, "bafyr")
    for bad in ({**good, "root": "bafyother"}, {**good, "revoked": "no"}, {**good, "opens_left": "2"},
                {**good, "expires": 1.5}, {k: v for k, v in good.items() if k != "sharer"}, [good], None):
        assert not _share_row(bad, "bafyr"), bad


def test_a_send_link_wraps_classic_unless_asked_and_a_runtime_without_x_wing_opens_it(fresh_gateway, backend):
    """The holder of a link may be in any browser: by default its share is X25519 (Firefox and
    WebKit have no X-Wing); a post-quantum link wraps with X-Wing and opens where X-Wing is."""
    class NoXWing(type(backend)):
        def pq_support(self):
            return {"keys": False, "seed": False, "encapsulate": False}

    async def go():
        alice = await client(fresh_gateway, backend, "alice")
        root = await alice.seal_upload([b"for anyone"], recipients=[])
        kems = {}
        for post_quantum in (False, True):
            fragment, capsule = await create_send_link(alice, root, post_quantum=post_quantum)
            link = "https://app.example/#" + fragment
            opened, holder = await open_send_link(GatewayClient, fresh_gateway, backend, link)
            assert b"".join([c async for c in opened.plaintext()]) == b"for anyone"
            kems[post_quantum] = (await holder.release(capsule, root)).wrapped_key.kem
            await holder.close()
            if not post_quantum:  # a holder without X-Wing opens the default link
                opened, holder = await open_send_link(GatewayClient, fresh_gateway, NoXWing(), link)
                assert b"".join([c async for c in opened.plaintext()]) == b"for anyone"
                await holder.close()
        assert kems == {False: KEM_X25519_SHA256, True: KEM_XWING}
        await alice.close()
    run(go())
