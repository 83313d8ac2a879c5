"""`meshkit doctor`: checks that can fail, and a support bundle made after real failures
(a gateway down, behind a URL with credentials; files others can read) that holds no
private key, token or URL credential."""

import base64
import json
import os

from meshkit_cli import meshkit


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
