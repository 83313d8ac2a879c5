"""Short contact links (core/contact_link.py): an id and a fingerprint, the record fetched from
the directory and checked against both; the long form still read; the CLI takes the app's links."""

import json

import pytest

from meshkit_web.core.contact_link import check_linked, contact_fragment, parse_contact_link
from meshkit_web.core.errors import IdentityMismatchError, InvalidArgumentError
from meshkit_web.core.identity import PublicIdentity

from support.meshkit_cli import meshkit


def test_short_links_round_trip_and_are_short(people):
    alice = people["alice"].public
    link = "https://app.example/#" + contact_fragment(alice)
    assert len(link) < 120
    assert parse_contact_link(link) == (alice.id, alice.fingerprint)
    assert parse_contact_link(contact_fragment(alice).lower().replace(alice.id.lower(), alice.id)) == (
        alice.id, alice.fingerprint)  # case of the fingerprint does not matter
    long_form = "https://app.example/#contact=" + json.dumps(alice.to_json())
    assert json.loads(parse_contact_link(long_form))["id"] == alice.id


@pytest.mark.parametrize("bad", ["https://app.example/#nothing", "#contact=mkabc.DEF", "contact=" + "x" * 9000,
                                 "#contact=mk" + "a" * 32 + ".SHORT"])
def test_damaged_links_are_refused_typed(bad):
    with pytest.raises(InvalidArgumentError):
        parse_contact_link(bad)


def test_a_directory_record_must_match_the_link(people):
    alice, bob = people["alice"].public, people["bob"].public
    ident, fingerprint = parse_contact_link(contact_fragment(alice))
    assert check_linked(alice, ident, fingerprint) is alice
    with pytest.raises(IdentityMismatchError):
        check_linked(bob, ident, fingerprint)  # another record for that id: refused
    forged = PublicIdentity(alice.id, alice.name, bob.sig_key, alice.enc_key, alice.created, alice.sig)
    with pytest.raises(IdentityMismatchError):
        check_linked(forged, ident, fingerprint)


def test_the_cli_takes_a_short_link(fresh_gateway, tmp_path):
    alice_home, bob_home = tmp_path / "alice", tmp_path / "bob"
    meshkit(alice_home, "identity", "create", "alice")
    meshkit(alice_home, "identity", "publish", "alice", "--gateway", fresh_gateway)
    record = json.loads(meshkit(alice_home, "identity", "show", "alice").stdout)
    fingerprint = meshkit(alice_home, "identity", "list").stdout.split()[-1]
    link = f"http://127.0.0.1:8765/#contact={record['id']}.{fingerprint.replace('-', '')}"
    added = meshkit(bob_home, "contact", "add", link, "--gateway", fresh_gateway)
    assert record["id"] in added.stdout
    wrong = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    refused = meshkit(tmp_path / "carol", "contact", "add", wrong, "--gateway", fresh_gateway, check=False)
    assert refused.returncode == 1 and "identity_mismatch" in refused.stderr


def test_help_has_examples_and_exit_codes_are_as_documented(tmp_path):
    helped = meshkit(tmp_path, "--help")
    assert "examples:" in helped.stdout and "exit codes:" in helped.stdout
    assert meshkit(tmp_path, "no-such-command", check=False).returncode == 2
    refused = meshkit(tmp_path, "open", "bafynotacid", "--as", "nobody", check=False)
    assert refused.returncode == 1 and refused.stderr.startswith("meshkit: ") and len(refused.stderr.splitlines()) == 1
