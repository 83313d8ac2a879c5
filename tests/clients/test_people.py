"""People, not devices (clients.accounts.People): a device id is named by its person, the
account whose chain verified here certified it (a device removed since included, marked as a
former device), never by what a gateway says unchecked; the account is kept against rollback;
contacts arrive on another device of the account with their account; the device's name in
the account is asked apart from the person's."""

import json

from meshkit_web.clients import accounts
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.constants import NOW
from support.linking import link_device


class Keeper:
    """Where a client keeps the accounts it verified (sync, as the CLI's home does)."""

    def __init__(self):
        self.kept = {}

    def known_account(self, ident):
        return self.kept.get(ident) or next((k for k in self.kept.values() if k.means(ident)), None)

    def save_known_account(self, kept):
        self.kept[kept.record.id] = kept


async def client(gateway, backend, name):
    c = GatewayClient(gateway, backend, await create_identity(backend, name, NOW))
    await c.publish()
    return c


def test_a_device_is_named_by_its_person_removed_or_not(fresh_gateway, backend):
    async def go():
        laptop, phone, bob = [await client(fresh_gateway, backend, n) for n in ("Alice Martin", "alice-phone", "bob")]
        _, record = await accounts.create_account(laptop, "Alice Martin", device_name="Firefox on Linux")
        # the person's name is the account's; the device's is what the account lists
        assert record.name == "Alice Martin" and record.device(laptop.identity.id).device.name == "Firefox on Linux"
        record, _ = await link_device(laptop, record, phone)
        keeper = Keeper()
        people = accounts.People(keeper)
        person = await people.person(bob, phone.identity.id)
        assert (person.account, person.name, person.fingerprint) == (record.id, "Alice Martin", record.fingerprint)
        assert (person.device_name, person.former) == ("alice-phone", False)
        assert keeper.kept[record.id].record.version == record.version  # kept: never rolled back after
        # the account's recovery key is the same person; a plain identity is nobody's
        assert (await people.person(bob, record.id + ".recovery")).account == record.id
        assert await people.person(bob, bob.identity.id) is None
        # the phone is removed: what it sent before still says who sent it, as a former device
        record = await accounts.remove_devices(laptop, record, [phone.identity.id])
        fresh = accounts.People()  # nothing kept: the whole chain is checked from the gateway's records
        former = await fresh.person(bob, phone.identity.id)
        assert (former.account, former.name, former.former, former.device_name) == (
            record.id, "Alice Martin", True, None)
        found = await fresh.people(bob, [laptop.identity.id, phone.identity.id, "not an id"])
        assert found[laptop.identity.id].device_name == "Firefox on Linux" and found["not an id"] is None
        for prefix, keys in (("sender", ("senderAccount", "senderName", "senderFingerprint")),
                             ("", ("account", "accountName", "accountFingerprint"))):
            fields = accounts.person_fields(former, prefix)
            assert [fields[k] for k in keys] == [record.id, "Alice Martin", record.fingerprint]
    run(go())


def test_a_lying_hint_names_nobody(malicious_gateway, backend):
    """A gateway that says a device is in an account whose chain never certified it gets no
    name shown: the person is unknown, not the claimed one."""
    async def go():
        url = malicious_gateway.url
        victim, mallory, bob = [await client(url, backend, n) for n in ("victim", "mallory", "bob")]
        _, record = await accounts.create_account(mallory, "Your Bank")
        malicious_gateway.on("GET", rf"^/v1/accounts/of/{victim.identity.id}$", malicious_gateway.answer(
            200, json.dumps({"account": record.id, "removed": True}).encode()))
        keeper = Keeper()
        people = accounts.People(keeper)
        assert await people.person(bob, victim.identity.id) is None
        assert (await people.people(bob, [victim.identity.id]))[victim.identity.id] is None
        assert accounts.person_fields(None, "sender") == {"senderAccount": None, "senderName": None,
                                                          "senderFingerprint": None, "senderFormerDevice": False}
        assert keeper.kept == {}  # nothing kept from the lie
    run(go())


def test_contacts_reach_the_other_device_with_their_account(fresh_gateway, backend):
    async def go():
        laptop, phone = await client(fresh_gateway, backend, "alice"), await client(fresh_gateway, backend, "phone")
        bob_laptop = await client(fresh_gateway, backend, "bob")
        _, alice = await accounts.create_account(laptop, "alice")
        _, bob = await accounts.create_account(bob_laptop, "Bob Stone")
        alice, _ = await link_device(laptop, alice, phone)
        # the laptop added Bob (his account checked there) and kept it in the library with it
        await accounts.remember_contact(laptop, alice, bob_laptop.identity.public, bob.id)
        library, _ = await accounts.load_library(phone, alice)
        keeper, added = Keeper(), []
        found = await accounts.adopt_contacts(phone, library, accounts.People(keeper), local=[], taken=set(),
                                              add=added.append)
        assert [p.id for p in found] == [p.id for p in added] == [bob_laptop.identity.id]
        kept = keeper.known_account(bob_laptop.identity.id)
        assert (kept.record.id, kept.record.fingerprint, kept.record.name) == (bob.id, bob.fingerprint, "Bob Stone")
    run(go())
