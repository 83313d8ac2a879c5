"""The CLI and post-quantum identities (issue 26): `identity create` makes a hybrid identity
(its X-Wing seed 0600 with the other keys), `identity show` says the suite on stderr and
keeps stdout the importable record; a contact's record that drops the X-Wing key later is
refused; `rewrap` says what it does."""

import json
import os
import stat

from meshkit_web.core.identity import make_identity
from meshkit_web.crypto.nacl_backend import NaclBackend
from meshkit_web.stores.filestore import FileStore

from support.aio import run


def test_identities_are_hybrid_and_show_says_so(cli):
    created = json.loads(cli("identity", "create", "alice").stdout)
    shown = cli("identity", "show", "alice")
    assert "alice: post-quantum: X-Wing (ML-KEM-768 + X25519)" in shown.stderr
    assert json.loads(shown.stdout) == created and len(created["pq_key"]) == 1622  # 1216 bytes, base64url
    key_file = cli.home / "identities" / "alice.json"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600 and "pq_private" in json.loads(key_file.read_text())
    assert json.loads(key_file.read_text())["pq_private"] not in shown.stdout + shown.stderr


def test_a_contact_record_without_its_x_wing_key_does_not_replace_it(cli, tmp_path):
    bob_home = tmp_path / "bob-home"
    cli("identity", "create", "bob", home_dir=bob_home)
    record = json.loads(cli("identity", "show", "bob", home_dir=bob_home).stdout)
    (tmp_path / "bob.json").write_text(json.dumps(record))
    cli("contact", "add", tmp_path / "bob.json")
    # the same identity's keys, signed again without the X-Wing key: an "older" classic record
    own = run(FileStore(str(bob_home), NaclBackend()).load("bob"))
    classic = run(make_identity(NaclBackend(), "bob", own.public.created, own.sig_private,
                                own.public.sig_key, own.enc_private, own.public.enc_key))
    (tmp_path / "classic.json").write_text(json.dumps(classic.public.to_json()))
    refused = cli("contact", "add", tmp_path / "classic.json", check=False)
    assert refused.returncode != 0 and "identity_mismatch" in refused.stderr
    kept = json.loads((cli.home / "contacts" / (record["id"] + ".json")).read_text())
    assert kept["pq_key"] == record["pq_key"]


def test_rewrap_says_it_does_not_re_encrypt(cli):
    helped = cli("rewrap", "--help").stdout
    assert "WITHOUT re-encrypting" in helped and "new root" in helped
