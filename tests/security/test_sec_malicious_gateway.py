"""Class 1 of the security review: state a client takes from the gateway is authenticated
and fresh. Each test puts the real gateway behind a proxy that lies (tests/support/
malicious_gateway.py) or lets a hostile user act, with the clients unmodified."""

import asyncio
import json

import pytest

from meshkit_web.clients import accounts
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec
from meshkit_web.core.account import (AccountChainError, certify_device, device_consent, make_account_record)
from meshkit_web.core.cid import cid_str
from meshkit_web.core.errors import LinkError, MeshKitError
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.constants import NOW
from support.linking import link_device


async def client(url, backend, name):
    c = GatewayClient(url, backend, await create_identity(backend, name, NOW))
    await c.publish()
    return c


# --- 1. a new device joins the account the user confirmed, and no other ---------------------

def test_an_onlooker_who_saw_the_link_cannot_take_the_new_device(malicious_gateway, backend):
    """Mallory saw the QR code (she knows the nonce) and offers her account first; the phone
    answers both offers, the user types the code Alice's laptop shows: the phone joins Alice's
    account, and Mallory's device is told no."""
    url = malicious_gateway.url

    async def go():
        laptop, phone, mallory = [await client(url, backend, n) for n in ("laptop", "phone", "mallory")]
        _, alice = await accounts.create_account(laptop, "alice")
        _, mal = await accounts.create_account(mallory, "alice")  # the same display name
        link = (await accounts.request_link(phone)).link
        mallory_codes = []
        mallory_side = asyncio.ensure_future(accounts.approve_link(mallory, mal, link, show_code=mallory_codes.append,
                                                                   timeout=20))
        await asyncio.sleep(1)  # her offer arrives first
        shown = asyncio.get_running_loop().create_future()
        seen = []

        async def ask(offers):
            seen.append(offers)
            return await shown
        joining = asyncio.ensure_future(accounts.wait_for_link(phone, link, ask_code=ask, timeout=20))
        approved = await accounts.approve_link(laptop, alice, link, show_code=shown.set_result, timeout=20)
        joined = await joining
        assert joined.id == alice.id and approved.device(phone.identity.id) is not None
        assert {o["fingerprint"] for o in seen[0]} <= {alice.fingerprint, mal.fingerprint}
        with pytest.raises(MeshKitError) as refused:
            await mallory_side
        assert refused.value.code == "link_code_mismatch"
        assert (await mallory.fetch_account(mal.id)).device(phone.identity.id) is None
    run(go())


def test_a_gateway_that_forges_an_offer_gets_no_consent(malicious_gateway, backend):
    """The gateway (which never sees the nonce) injects offers from Mallory's account, in the
    old form (the nonce as a bearer value it guessed) and with a made-up MAC: the phone answers
    none of them and joins nothing."""
    url = malicious_gateway.url

    async def go():
        phone, mallory = await client(url, backend, "phone"), await client(url, backend, "mallory")
        _, mal = await accounts.create_account(mallory, "mallory")
        link = (await accounts.request_link(phone)).link
        tag, _ = accounts._link_keys(b"\x00" * 16)
        for body in ({"account": mal.id, "nonce": link.split(".")[-1]},  # as the old protocol had it
                     {"link": tag, "account": mal.id, "approver": mallory.identity.id, "mac": "A" * 43}):
            await mallory.request("POST", f"/v1/mailbox/{phone.identity.id}?kind=link-offer",
                                  body=json.dumps(body).encode())
        asked = []
        with pytest.raises(LinkError):
            await accounts.wait_for_link(phone, link, ask_code=asked.append, timeout=4)
        assert asked == []  # the user was never asked: no offer was authentic
        assert not [row for row in await mallory.inbox(notices=False) if row["kind"] == "link-challenge"]
    run(go())


# --- 3. a stolen device does not survive its removal ------------------------------------------

def test_a_stolen_device_cannot_make_its_devices_vouch_for_each_other(malicious_gateway, backend):
    url = malicious_gateway.url

    async def go():
        laptop, thief = await client(url, backend, "laptop"), await client(url, backend, "stolen-phone")
        _, record = await accounts.create_account(laptop, "alice")
        record, _ = await link_device(laptop, record, thief)
        x, y = await client(url, backend, "thief-x"), await client(url, backend, "thief-y")
        record, _ = await link_device(thief, record, x)
        record, _ = await link_device(thief, record, y)
        # the thief re-certifies y through x, then x through y: "added by" would lead nowhere
        consent = await device_consent(backend, y.identity.sig_private, record.id, y.identity.id,
                                       y.identity.public.pq_key)
        cert = await certify_device(backend, account=record.id, device=y.identity.public, consent=consent, added=NOW,
                                    can_add=True, signer_id=x.identity.id, signer_private=x.identity.sig_private)
        devices = [d for d in record.devices if d.id != y.identity.id] + [cert]
        with pytest.raises(AccountChainError):
            await make_account_record(backend, name=record.name, root_key=record.root_key,
                                      recovery_key=record.recovery_key, version=record.version + 1, prev=record,
                                      devices=devices, removed=list(record.removed), created=record.created,
                                      signer_id=thief.identity.id, signer_private=thief.identity.sig_private)
        # the owner removes the stolen phone: what it added goes with it
        record = await accounts.remove_devices(laptop, record, [thief.identity.id])
        assert [d.id for d in record.devices] == [laptop.identity.id]
        assert {thief.identity.id, x.identity.id, y.identity.id} <= set(record.removed)
    run(go())


# --- 5. who a share comes from is proven by the client ------------------------------------

def test_a_gateway_cannot_say_who_a_share_comes_from(malicious_gateway, backend):
    url = malicious_gateway.url

    async def go():
        alice, bob, mallory = [await client(url, backend, n) for n in ("alice", "bob", "mallory")]
        root = await alice.seal_upload([b"from alice"], recipients=[])
        await alice.share(root, bob.identity.public)
        honest = [r for r in await bob.inbox() if r["kind"] == "share"]
        assert [r["sender"] for r in honest] == [alice.identity.id] and honest[0]["verified"]
        # the gateway names mallory as the sharer, in the listing and in the notice, and hides the proof
        def retold(notice):
            return {k: v for k, v in {**notice, "sharer": mallory.identity.id}.items() if k != "proof"}
        malicious_gateway.on("GET", r"^/v1/mailbox(\?|$)", malicious_gateway.rewrite_json(lambda reply: {
            **reply, "messages": [{**row, "sender": mallory.identity.id, **(
                {"notice": retold(row["notice"])} if isinstance(row.get("notice"), dict) else {})}
                for row in reply["messages"]]}))
        malicious_gateway.on("GET", r"^/v1/mailbox/[^/?]+", malicious_gateway.rewrite_json(retold))
        fresh = GatewayClient(url, backend, bob.identity)  # nothing remembered from before
        lied = [r for r in await fresh.inbox() if r["kind"] == "share"]
        assert [r["sender"] for r in lied] == [alice.identity.id]  # proven from the proof it looked up
        assert lied[0]["share"]["sharer"] == alice.identity.id
        # and when it hides the proofs too, the notice is dropped rather than believed
        malicious_gateway.on("GET", r"^/v1/proofs\?", malicious_gateway.rewrite_json(lambda reply: {"proofs": []}))
        malicious_gateway.rules.insert(0, malicious_gateway.rules.pop())
        third = GatewayClient(url, backend, bob.identity)
        assert [r for r in await third.inbox() if r["kind"] == "share"] == []
        # a sealed envelope from mallory, which the gateway says is from alice: the header says mallory
        malicious_gateway.clear()
        sealed = await mallory.seal_upload([b"to bob"], recipients=[bob.identity.public])
        await mallory.finish_upload(sealed)
        malicious_gateway.on("GET", r"^/v1/mailbox(\?|$)", malicious_gateway.rewrite_json(lambda reply: {
            **reply, "messages": [{**row, "sender": alice.identity.id} for row in reply["messages"]]}))
        rows = [r for r in await GatewayClient(url, backend, bob.identity).inbox() if r["kind"] == "sealed"]
        assert [(r["share"]["root"], r["sender"]) for r in rows] == [(cid_str(sealed), mallory.identity.id)]
    run(go())


# --- 2. the library is the account's own, and never goes back -------------------------------

def test_a_library_sealed_by_a_stranger_is_not_the_accounts(malicious_gateway, backend):
    """Anyone can seal to an account (its keys are public). Mallory seals a library naming her
    key "bob" to Alice's account and the gateway points Alice's sync record at it: ignored."""
    from meshkit_web.core.library import Library
    url = malicious_gateway.url

    async def go():
        laptop, mallory = await client(url, backend, "laptop"), await client(url, backend, "mallory")
        _, record = await accounts.create_account(laptop, "alice")
        await accounts.save_library(laptop, record, lambda lib: lib.put("envelope:bafyreal", {"name": "mine"}, NOW))
        forged = Library(record.id)
        forged.put(f"contact:{mallory.identity.id}", {"record": mallory.identity.public.to_bytes()}, NOW + 10)
        forged.remove("envelope:bafyreal", NOW + 10)
        root = await mallory.seal_upload([forged.to_bytes()], recipients=accounts.account_recipients(record))
        pointer = accounts._pointer_bytes(root, [])
        for form in (pointer, cid_str(root).encode()):  # as a pointer, and as the older plain CID
            malicious_gateway.on("GET", r"^/v1/account-sync/library$", malicious_gateway.answer(
                200, json.dumps({"version": 7, "data": codec.b64e(form), "updated": NOW}).encode()))
            fresh = GatewayClient(url, backend, laptop.identity)  # remembers nothing yet
            library, _ = await accounts.load_library(fresh, record)
            assert library.items("contact") == {} and "envelope:bafyreal" not in library.tombstones
            malicious_gateway.clear()
    run(go())


def test_a_rolled_back_library_loses_nothing_this_device_saw(malicious_gateway, backend):
    url = malicious_gateway.url

    async def go():
        laptop = await client(url, backend, "laptop")
        _, record = await accounts.create_account(laptop, "alice")
        await accounts.save_library(laptop, record, lambda lib: lib.put("envelope:bafyone", {"name": "one"}, NOW))
        old = await malicious_gateway.record("GET", "/v1/account-sync/library",
                                            headers={"authorization": f"Bearer {await laptop.token()}"})
        await accounts.save_library(laptop, record, lambda lib: lib.put("envelope:bafytwo", {"name": "two"}, NOW))
        assert set((await accounts.load_library(laptop, record))[0].items("envelope")) == {"bafyone", "bafytwo"}
        malicious_gateway.on("GET", r"^/v1/account-sync/library$", malicious_gateway.replay(old))
        library, _ = await accounts.load_library(laptop, record)  # the gateway serves the older pointer
        assert set(library.items("envelope")) == {"bafyone", "bafytwo"}
        # an entry the gateway drops from what it serves (404: "no library") stays too
        malicious_gateway.clear()
        malicious_gateway.on("GET", r"^/v1/account-sync/library$", malicious_gateway.answer(404))
        assert set((await accounts.load_library(laptop, record))[0].items("envelope")) == {"bafyone", "bafytwo"}
    run(go())


def test_what_a_device_saw_of_its_library_outlives_the_process(malicious_gateway, backend, tmp_path):
    """The same for a device that starts again (the CLI: every command is a new process; the
    app: a reload): what it verified is kept in its home (or IndexedDB) and merged first."""
    from meshkit_web.stores.filestore import FileStore
    url = malicious_gateway.url

    async def go():
        home = FileStore(str(tmp_path / "home"), backend)
        laptop = await client(url, backend, "laptop")
        laptop.library_keeper = home
        _, record = await accounts.create_account(laptop, "alice")
        await accounts.save_library(laptop, record, lambda lib: lib.put("envelope:bafyone", {"name": "one"}, NOW))
        old = await malicious_gateway.record("GET", "/v1/account-sync/library",
                                             headers={"authorization": f"Bearer {await laptop.token()}"})
        for i in range(70):  # more than one kept part's worth: the kept parts are folded on the way
            await accounts.save_library(laptop, record, lambda lib: lib.put(f"envelope:bafy{i}", {"name": str(i)}, NOW))
        malicious_gateway.on("GET", r"^/v1/account-sync/library$", malicious_gateway.replay(old))
        again = GatewayClient(url, backend, laptop.identity)  # the next process, the same home
        again.library_keeper = home
        library, _ = await accounts.load_library(again, record)
        assert len(library.items("envelope")) == 71
        assert len(await home.library_parts(record.id)) <= accounts.MAX_KEPT_PARTS
    run(go())


def test_one_library_edit_costs_the_same_at_any_size(fresh_gateway, backend):
    """Finding 11: a save appends one small change record; it neither reads nor re-seals the
    whole library (counted in bytes uploaded, which do not depend on the library's size)."""
    async def go():
        laptop = await client(fresh_gateway, backend, "laptop")
        _, record = await accounts.create_account(laptop, "alice")
        sizes = []
        original = laptop.put_blocks

        async def counted(blocks, **kw):
            async def tally():
                async for seq, cid, data in blocks:
                    sizes[-1] += len(data)
                    yield seq, cid, data
            return await original(tally(), **kw)
        laptop.put_blocks = counted
        for count in (0, 5000):
            if count:
                await accounts.save_library(laptop, record, lambda lib: [
                    lib.put(f"envelope:bafy{i}", {"name": f"file {i}.txt", "size": i}, NOW) for i in range(count)],
                    compact=True)
            fresh = GatewayClient(fresh_gateway, backend, laptop.identity)  # a new process, as the CLI is
            fresh.put_blocks = counted
            sizes.append(0)
            await accounts.save_library(fresh, record, lambda lib: lib.put("envelope:bafynew", {"name": "n"}, NOW))
        assert sizes[1] < sizes[0] + 512, sizes  # the same few hundred bytes either way
        library, _ = await accounts.load_library(GatewayClient(fresh_gateway, backend, laptop.identity), record)
        assert len(library.items("envelope")) == 5001
    run(go())


# --- 4. a gateway cannot hide that a device belongs to an account ---------------------------

def test_a_contact_link_names_the_account_and_a_gateway_cannot_hide_it(malicious_gateway, backend, tmp_path):
    """Alice's link names her account; Bob adds her through it. The gateway then answers "no
    account" for her device: Bob's seals still reach her account's current devices (and not
    the laptop she removed). A link naming an account that never certified the device adds nothing."""
    from meshkit_web.core.contact_link import contact_fragment
    from support.meshkit_cli import meshkit
    url = malicious_gateway.url

    async def go():
        laptop, phone, mallory = [await client(url, backend, n) for n in ("laptop", "phone", "mallory")]
        _, record = await accounts.create_account(laptop, "alice")
        record, _ = await link_device(laptop, record, phone)
        _, mal = await accounts.create_account(mallory, "mallory")
        bob = tmp_path / "bob"
        meshkit(bob, "identity", "create", "bob")
        lying = "https://app.example/#" + contact_fragment(laptop.identity.public, mal.id)
        refused = meshkit(bob, "contact", "add", lying, "--gateway", url, check=False)
        assert refused.returncode == 1 and "bad_account_chain" in refused.stderr
        assert meshkit(bob, "contact", "list").stdout == ""
        link = "https://app.example/#" + contact_fragment(laptop.identity.public, record.id)
        assert record.fingerprint in meshkit(bob, "contact", "add", link, "--gateway", url).stdout
        # the laptop is stolen and removed; the gateway now hides the account, to keep the laptop served
        record = await accounts.remove_devices(phone, record, [laptop.identity.id])
        malicious_gateway.on("GET", r"^/v1/accounts/of/", malicious_gateway.answer(404))
        note = tmp_path / "note.txt"
        note.write_text("for alice")
        root = meshkit(bob, "seal", note, "--from", "bob", "--to", laptop.identity.id, "--gateway", url,
                       "--no-self").stdout.split()[-1]
        from meshkit_web.core.cid import parse_cid
        from meshkit_web.core.envelope import read_header
        header = await read_header(backend, parse_cid(root), phone.get_block)
        assert {e.recipient for e in header.recipients} == {phone.identity.id, record.recovery_identity().id}
    run(go())


def test_a_device_is_in_one_account_and_nobody_claims_it_by_listing_it(malicious_gateway, backend):
    """Listing a device needs its consent; a device that consented to Mallory's account (its
    user typed her code) cannot be listed by Alice's too; and nobody can write a stranger's
    device into a record, as current or as removed, to lock it out."""
    url = malicious_gateway.url

    async def go():
        laptop, phone, mallory, victim = [await client(url, backend, n) for n in ("laptop", "phone", "mal", "victim")]
        _, alice = await accounts.create_account(laptop, "alice")
        _, mal = await accounts.create_account(mallory, "mallory")
        mal, _ = await link_device(mallory, mal, phone)
        with pytest.raises(MeshKitError) as taken:
            await link_device(laptop, alice, phone, timeout=10)
        assert taken.value.code == "conflict"
        assert (await laptop.fetch_account(alice.id)).device(phone.identity.id) is None
        # the victim's device, written into mallory's record without its consent: refused
        cert = await certify_device(backend, account=mal.id, device=victim.identity.public, consent=b"\x00" * 64,
                                    added=NOW, can_add=True, signer_id=mallory.identity.id,
                                    signer_private=mallory.identity.sig_private)
        with pytest.raises(MeshKitError):
            await make_account_record(backend, name=mal.name, root_key=mal.root_key, recovery_key=mal.recovery_key,
                                      version=mal.version + 1, prev=mal, devices=list(mal.devices) + [cert],
                                      removed=[], created=mal.created, signer_id=mallory.identity.id,
                                      signer_private=mallory.identity.sig_private)
        await victim.token()  # the victim is nobody's device, and signs in
        assert await victim.account_of(victim.identity.id) is None
    run(go())
