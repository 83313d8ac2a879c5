"""People, not devices, on the command line: `contact add` names the person's account and
its fingerprint (even from a record that names no account), `identity create --device-name`
names the device apart from the person, and after Alice recovers on another machine, Bob's
`inbox` names "Alice Martin", not her new device; the contact arrives there with its account."""

import json
import re

from support.meshkit_cli import meshkit


def _create(home, name, gateway, tmp_path, *extra):
    kit = tmp_path / f"{home.name}-kit.txt"
    made = meshkit(home, "identity", "create", name, "--gateway", gateway, "--phrase-file", kit, *extra)
    account, fingerprint = re.search(r"account (mk[a-z2-7]{32}) created, fingerprint (\S+);", made.stderr).groups()
    phrase = re.search(r"recovery phrase \(24 words\):\n(.+)\n", kit.read_text()).group(1)
    return account, fingerprint.rstrip(";"), phrase


def test_the_cli_names_people_not_devices(fresh_gateway, tmp_path):
    gateway = fresh_gateway
    alice, phone, bob = tmp_path / "alice", tmp_path / "phone", tmp_path / "bob"
    a_account, a_fingerprint, phrase = _create(alice, "Alice Martin", gateway, tmp_path, "--device-name", "laptop")
    b_account, b_fingerprint, _ = _create(bob, "Bob Stone", gateway, tmp_path, "--device-name", "desk")
    device_list = meshkit(bob, "device", "list", "--as", "Bob Stone", "--gateway", gateway).stdout
    assert "\tdesk\t" in device_list and "Bob Stone" not in device_list  # the device's own name
    _, b_id, b_device_fingerprint = meshkit(bob, "identity", "list").stdout.strip().split("\t")

    record = json.loads(meshkit(bob, "identity", "show", "Bob Stone").stdout)
    del record["account"]  # an older record, naming no account: the gateway's hint, checked through the chain
    (tmp_path / "bob.json").write_text(json.dumps(record))
    added = meshkit(alice, "contact", "add", tmp_path / "bob.json", "--gateway", gateway).stdout
    assert f"a device of 'Bob Stone''s account {b_account}" in added, added
    assert f"account fingerprint {b_fingerprint}" in added and b_device_fingerprint not in added

    recovered = meshkit(phone, "identity", "recover", "alice-phone", "--device-name", "Pixel", "--gateway", gateway,
                        stdin=phrase + "\n")
    assert recovered.stdout.strip() == a_account
    library = meshkit(phone, "library", "--as", "alice-phone", "--gateway", gateway).stdout
    assert f"{b_id}\tcontact\t-\t-\tBob Stone (fingerprint {b_fingerprint})" in library, library
    note = tmp_path / "note.txt"
    note.write_text("from the phone")
    root = meshkit(phone, "seal", note, "--from", "alice-phone", "--to", b_account, "--gateway",
                   gateway).stdout.split()[-1]
    inbox = meshkit(bob, "inbox", "--as", "Bob Stone", "--gateway", gateway).stdout
    (line,) = [line for line in inbox.splitlines() if root in line]
    assert line.split("\t")[2] == "Alice Martin", inbox
