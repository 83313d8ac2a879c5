"""People, not devices, in the Python API: after Alice recovers on a new device (its own
name in the account), Bob's inbox, describe and a send link's visitor name "Alice Martin"
and her account's fingerprint, not the device; her contacts arrive on the new device with
their account; access groups recipients per person; a removed device's earlier file still
says who sent it, as a former device."""

from meshkit_web import MeshKit
from meshkit_web.testing import run


def test_files_and_contacts_name_the_person(meshkit_gateway, tmp_path):
    url = meshkit_gateway.url

    async def go():
        async with MeshKit.connect(url, home=tmp_path / "alice") as laptop, \
                MeshKit.connect(url, home=tmp_path / "bob") as bob:
            a = await laptop.identity.create("Alice Martin", device_name="laptop")
            b = await bob.identity.create("bob", device_name="bob's desk")
            assert [d.name for d in await bob.devices.list("bob")] == ["bob's desk"]
            bob_record = await bob.identity.record("bob")
            del bob_record["account"]  # a record that names no account: the gateway's hint, checked
            added = await laptop.contacts.add(bob_record)
            assert (added.account, added.account_name, added.fingerprint) == (b.account, "bob", b.account_fingerprint)

        async with MeshKit.connect(url, home=tmp_path / "alice-phone") as phone:
            p = await phone.identity.recover("alice-phone", a.recovery_phrase, device_name="Pixel")
            assert {d.name for d in await phone.devices.list("alice-phone")} == {"laptop", "Pixel"}
            await phone.library("alice-phone")  # contacts another device added arrive, with their account
            (contact,) = await phone.contacts.list()
            assert (contact.id, contact.account, contact.fingerprint, contact.account_fingerprint) == (
                b.id, b.account, b.account_fingerprint, b.account_fingerprint)
            sealed = await phone.seal(b"from the phone", from_="alice-phone", to="bob", name="note.txt")
            link = await phone.send_links.create(sealed.root, from_="alice-phone", opens=2)
            access = await phone.access(sealed.root, as_="alice-phone")
            people = {r.account for r in access.recipients}
            assert people == {a.account, b.account}  # every device and recovery key has its person
            assert {r.account_name for r in access.recipients} == {"Alice Martin", "bob"}

        async with MeshKit.connect(url, home=tmp_path / "bob") as bob, \
                MeshKit.connect(url, home=tmp_path / "visitor") as visitor:
            (row,) = [m for m in await bob.inbox("bob") if m.root == sealed.root]
            assert row.sender == p.id  # the device...
            assert (row.sender_name, row.sender_account, row.sender_fingerprint) == (  # ...and who it is
                "Alice Martin", a.account, a.account_fingerprint)
            told = await bob.describe(sealed.root, as_="bob")
            assert (told.sender_name, told.sender_account, told.sender_fingerprint, told.sender_former_device) == (
                "Alice Martin", a.account, a.account_fingerprint, False)
            seen = await visitor.send_links.describe(link.link)  # no identity, nothing kept: from the chain
            assert (seen.sender, seen.sender_name, seen.sender_fingerprint) == (p.id, "Alice Martin",
                                                                                a.account_fingerprint)

        async with MeshKit.connect(url, home=tmp_path / "alice") as laptop:
            await laptop.devices.remove("Alice Martin", p.id)
        async with MeshKit.connect(url, home=tmp_path / "bob") as bob:
            told = await bob.describe(sealed.root, as_="bob")
            assert (told.sender_name, told.sender_account, told.sender_former_device) == (
                "Alice Martin", a.account, True)
    run(go())
