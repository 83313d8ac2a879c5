"""`meshkit doctor`: checks that can fail, and a support bundle made after real failures
(a gateway down, behind a URL with credentials; files others can read) that holds no
private key, token or URL credential."""

import base64
import json
import os

from support.meshkit_cli import meshkit


def test_doctor_checks_and_its_bundle_is_redacted(fresh_gateway, tmp_path):
    home = tmp_path / "home"
    meshkit(home, "identity", "create", "doc")
    meshkit(home, "identity", "publish", "doc", "--gateway", fresh_gateway)
    healthy = meshkit(home, "doctor", "--gateway", fresh_gateway, "--bundle", tmp_path / "ok.json")
    assert "ok  \tgateway" in healthy.stdout and "ok  \tsign-in as doc" in healthy.stdout
    bundle = json.loads((tmp_path / "ok.json").read_text())
    assert bundle["identities"][0]["name"] == "doc" and bundle["gateway"]["identities"]
    assert oct(os.stat(tmp_path / "ok.json").st_mode & 0o777) == "0o600"

    # now things go wrong: a gateway that is down, named with a password; a key file left readable
    os.chmod(home / "identities" / "doc.json", 0o644)
    down = "http://helper:s3cretpw@127.0.0.1:9/?token=abc123tok#frag"
    failed = meshkit(home, "doctor", "--gateway", down, "--bundle", tmp_path / "bad.json", check=False)
    assert failed.returncode == 1 and "FAIL\tgateway" in failed.stdout and "FAIL\thome permissions" in failed.stdout
    text = (tmp_path / "bad.json").read_text()
    with open(home / "identities" / "doc.json") as f:
        kept = json.load(f)
    secrets = ["s3cretpw", "abc123tok", "frag", kept["sig_private"], kept["enc_private"]]
    secrets += [base64.urlsafe_b64decode(kept["sig_private"] + "==").hex()]
    for secret in secrets:
        assert secret not in text and secret not in failed.stdout + failed.stderr, secret
    assert json.loads(text)["gateway"]["error"] == "unavailable"


def test_doctor_passes_on_a_home_that_holds_contacts_and_accounts(fresh_gateway, tmp_path):
    """Everything the CLI writes into a home is private from its first byte (0600), not only
    the keys: a contact, an account record, another person's account kept to reach them. So
    a healthy home passes doctor, whatever it holds."""
    home, other = tmp_path / "home", tmp_path / "other"
    meshkit(home, "identity", "create", "me", "--gateway", fresh_gateway, "--phrase-file", tmp_path / "kit-me")
    meshkit(other, "identity", "create", "pal", "--gateway", fresh_gateway, "--phrase-file", tmp_path / "kit-pal")
    (tmp_path / "pal.json").write_text(meshkit(other, "identity", "show", "pal").stdout)
    meshkit(home, "contact", "add", tmp_path / "pal.json")
    # sealing to an account keeps its record here (known-accounts), to refuse a rollback later
    (tmp_path / "f.txt").write_text("hello")
    pal_id = json.loads((tmp_path / "pal.json").read_text())["id"]
    meshkit(home, "seal", tmp_path / "f.txt", "--from", "me", "--to", pal_id, "--gateway", fresh_gateway)
    written = [path for path in home.rglob("*") if path.is_file()]
    assert {p.parent.name for p in written} >= {"identities", "contacts", "accounts", "known-accounts"}, written
    for path in written:
        assert path.stat().st_mode & 0o077 == 0, f"{path.relative_to(home)} is readable by others"
    checked = meshkit(home, "doctor", "--gateway", fresh_gateway)
    assert "ok  \thome permissions" in checked.stdout and "FAIL" not in checked.stdout, checked.stdout
