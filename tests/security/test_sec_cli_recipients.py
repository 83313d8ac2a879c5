"""Item 2 in the CLI: a contact whose record is named with someone else's id (or with my own
identity's name, or with another contact's name) captures nothing addressed to them; such a
record is refused on import; the expiry rule is Core's."""

import json
import os
import time

import pytest

from meshkit_web.core.envelope import read_header
from meshkit_web.crypto.nacl_backend import NaclBackend
from meshkit_web.stores.carfile import CarReader

from support.aio import run
from support.sec_cli import cli_json, forged_record


def header_recipients(car_path) -> set[str]:
    with CarReader(str(car_path)) as reader:
        header = run(read_header(NaclBackend(), reader.roots[0], reader.get_block))
    return {entry.recipient for entry in header.recipients}


def plant_legacy_contact(cli, record: dict) -> None:
    """A contact file as an older version (before the id-like name rule) would have left it."""
    contacts = cli.home / "contacts"
    contacts.mkdir(parents=True, exist_ok=True)
    (contacts / (record["id"] + ".json")).write_text(json.dumps(record))


@pytest.fixture
def victim(cli, tmp_path):
    """Someone else, in their own home: their public record."""
    home = tmp_path / "victim-home"
    record = cli_json(cli, "identity", "create", "victim", home_dir=home)
    record["home"] = home
    return record


@pytest.mark.parametrize("shape", ["exact", "upper", "spaced", "first-upper"])
def test_importing_a_record_named_like_an_id_is_refused(cli, backend, victim, tmp_path, shape):
    name = {"exact": victim["id"], "upper": victim["id"].upper(), "spaced": f" {victim['id']} ",
            "first-upper": "MK" + victim["id"][2:]}[shape]
    path = tmp_path / "mallory.json"
    path.write_text(json.dumps(forged_record(backend, name)))
    refused = cli("contact", "add", path, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1] == (
        "meshkit: malformed: identity record has an invalid name: identity name must not look like an identity id")
    assert not (cli.home / "contacts").exists() or not os.listdir(cli.home / "contacts")


def test_contact_named_with_an_id_captures_no_seal_to_that_id(cli, backend, victim, tmp_path):
    cli("identity", "create", "alice")
    mallory = forged_record(backend, victim["id"])
    plant_legacy_contact(cli, mallory)
    plain = tmp_path / "plain.txt"
    plain.write_text("for the victim only")

    # the victim is not known here: offline, that is an unknown id, not the contact named with it
    refused = cli("seal", plain, "--from", "alice", "--to", victim["id"], "--car", tmp_path / "x.car", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1].startswith("meshkit: unknown_identity:")
    assert not (tmp_path / "x.car").exists()

    # once the victim is a contact, the id means the victim
    record_file = tmp_path / "victim.json"
    record_file.write_text(json.dumps({k: v for k, v in victim.items() if k != "home"}))
    cli("contact", "add", record_file)
    sealed = cli("seal", plain, "--from", "alice", "--to", victim["id"], "--car", tmp_path / "e.car")
    alice_id = cli_json(cli, "identity", "show", "alice")["id"]
    assert header_recipients(tmp_path / "e.car") == {alice_id, victim["id"]}
    assert f"ignoring contact file {mallory['id']}.json" in sealed.stderr  # said, not silently dropped
    assert mallory["id"] not in cli("contact", "list").stdout


def test_contact_named_like_my_identity_or_another_contact_captures_nothing(cli, backend, tmp_path):
    me = cli_json(cli, "identity", "create", "alice")
    bob_home = tmp_path / "bob-home"
    bob = cli_json(cli, "identity", "create", "bob", home_dir=bob_home)
    for name, record in (("bob", bob), ("alice-shadow", forged_record(backend, "alice")),
                         ("bob-twin", forged_record(backend, "bob"))):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(record))
        cli("contact", "add", path)
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    # my own name means me, not the contact who took it
    cli("seal", plain, "--from", "alice", "--to", "alice", "--no-self", "--car", tmp_path / "me.car")
    assert header_recipients(tmp_path / "me.car") == {me["id"]}
    # two contacts called bob: the name is refused, the id works
    ambiguous = cli("seal", plain, "--from", "alice", "--to", "bob", "--car", tmp_path / "b.car", check=False)
    assert ambiguous.returncode == 1
    assert ambiguous.stderr.strip().splitlines()[-1] == "meshkit: invalid_argument: several contacts are named 'bob': use the id"
    cli("seal", plain, "--from", "alice", "--to", bob["id"], "--no-self", "--car", tmp_path / "b.car")
    assert header_recipients(tmp_path / "b.car") == {bob["id"]}


def test_share_to_an_id_goes_to_that_id_through_the_directory(cli, backend, victim, gateway, tmp_path):
    url = gateway.url
    cli("identity", "publish", "victim", "--gateway", url, home_dir=victim["home"])
    cli("identity", "create", "alice")
    plant_legacy_contact(cli, forged_record(backend, victim["id"]))
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(5000))
    root = cli("seal", plain, "--from", "alice", "--to", "alice", "--gateway", url).stdout.strip().splitlines()[-1]

    # Core's expiry rule: a bare number is a Unix time, so "3600" is in 1970
    past = cli("share", root, "--from", "alice", "--to", victim["id"], "--expires", "3600", "--gateway", url, check=False)
    assert past.returncode == 1 and past.stderr.strip().splitlines()[-1].startswith(
        "meshkit: invalid_argument: expiry '3600' is not in the future")
    shared = cli("share", root, "--from", "alice", "--to", victim["id"], "--expires", "1h", "--gateway", url)
    assert f"({victim['id']})" in shared.stderr and f"resolved {victim['id']} from the directory" in shared.stderr
    out = tmp_path / "opened.bin"
    cli("open", root, "--as", "victim", "--out", out, "--gateway", url, home_dir=victim["home"])
    assert out.read_bytes() == plain.read_bytes()
    inbox = cli("inbox", "--as", "victim", "--gateway", url, home_dir=victim["home"]).stdout
    expires = [line for line in inbox.splitlines() if root in line][0]
    assert time.strftime("%Y-%m-%d", time.gmtime(time.time() + 3600)) in expires
    revoked = cli("revoke", root, "--from", "alice", "--to", victim["id"], "--gateway", url)
    assert victim["id"] in revoked.stderr
