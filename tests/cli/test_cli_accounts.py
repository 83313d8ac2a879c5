"""Accounts through the real `meshkit` command: create (the phrase shown once, never on
stdout or stderr), seal into the library, link a second machine by link or short code + code, recover a
third from the phrase on standard input, remove a lost device; mistakes change nothing."""

import os
import re

from support.linking import cli_link
from support.meshkit_cli import meshkit


def test_accounts_from_the_command_line(fresh_gateway, tmp_path):
    gateway = fresh_gateway
    laptop, phone, tablet = tmp_path / "laptop", tmp_path / "phone", tmp_path / "tablet"
    kit = tmp_path / "kit.txt"
    created = meshkit(laptop, "identity", "create", "laptop", "--gateway", gateway, "--phrase-file", kit,
                      "--device-name", "laptop")
    assert oct(os.stat(kit).st_mode & 0o777) == "0o600"
    phrase = re.search(r"recovery phrase \(24 words\):\n(.+)\n", kit.read_text()).group(1)
    assert len(phrase.split()) == 24
    assert phrase.split()[5] not in created.stdout + created.stderr  # shown once, in the kit only
    account = re.search(r"account (mk[a-z2-7]{32})", created.stderr).group(1)

    secret = tmp_path / "plans.txt"
    secret.write_bytes(os.urandom(100_000))
    root = meshkit(laptop, "seal", secret, "--from", "laptop", "--to", "laptop", "--gateway", gateway).stdout.split()[-1]

    # link the phone: it prints the link; the laptop reads it, shows a code, and the code is
    # typed on the phone. A wrong code there: the phone joins nothing
    phone_side, laptop_side = cli_link(phone, "phone", laptop, "laptop", gateway, timeout=8,
                                       typed=lambda code: "999 999" if code != "999 999" else "111 111")
    assert phone_side.wait(timeout=60) == 1 and "link_code_mismatch" in phone_side.stderr.read()
    assert laptop_side.wait(timeout=60) == 1  # it waited for a consent that never came
    # this time the laptop is given the phone's short code instead of the link
    phone_side, laptop_side = cli_link(phone, "phone", laptop, "laptop", gateway, by_code=True)
    out, err = phone_side.communicate(timeout=90)
    assert phone_side.returncode == 0, err
    assert "asks to add this device" in err and "fingerprint" in err  # it said which account, before the code
    assert laptop_side.wait(timeout=60) == 0
    meshkit(phone, "open", root, "--as", "phone", "--out", tmp_path / "on-phone", "--gateway", gateway)
    assert (tmp_path / "on-phone").read_bytes() == secret.read_bytes()
    replay = meshkit(laptop, "device", "approve", "--as", "laptop", "--gateway", gateway,
                     stdin=phone_side.link + "\n", check=False)
    assert replay.returncode == 1 and "bad_link" in replay.stderr
    # the link holds a secret: never taken from the command line
    in_argv = meshkit(laptop, "device", "approve", phone_side.link, "--as", "laptop", "--gateway", gateway,
                      check=False)
    assert in_argv.returncode != 0 and "standard input" in in_argv.stderr
    assert phone_side.link.split(".")[-1] not in in_argv.stderr

    # both machines lost: a third recovers from the phrase alone (a typo first: nothing happens)
    words = phrase.split()
    typo = meshkit(tablet, "identity", "recover", "tablet", "--gateway", gateway,
                   stdin=" ".join([words[1], words[0]] + words[2:]) + "\n", check=False)
    assert typo.returncode == 1 and "bad_phrase" in typo.stderr and words[0] not in typo.stderr
    assert "tablet" not in meshkit(tablet, "identity", "list").stdout
    recovered = meshkit(tablet, "identity", "recover", "tablet", "--gateway", gateway, stdin=phrase + "\n")
    assert recovered.stdout.strip() == account and "1 envelope(s) open again" in recovered.stderr
    assert phrase not in recovered.stdout + recovered.stderr
    meshkit(tablet, "open", root, "--as", "tablet", "--out", tmp_path / "on-tablet", "--gateway", gateway)
    assert (tmp_path / "on-tablet").read_bytes() == secret.read_bytes()

    listed = meshkit(tablet, "device", "list", "--as", "tablet", "--gateway", gateway).stdout
    ids = dict(line.split("\t")[:2][::-1] for line in listed.splitlines() if "removed" not in line)
    assert set(ids) == {"laptop", "phone", "tablet"}
    meshkit(tablet, "device", "remove", ids["laptop"], ids["phone"], "--as", "tablet", "--gateway", gateway)
    for home, name in ((laptop, "laptop"), (phone, "phone")):
        # the account directory is public, and shows it removed; anything needing a token is refused
        assert "(removed)" in meshkit(home, "device", "list", "--as", name, "--gateway", gateway).stdout
        refused = meshkit(home, "inbox", "--as", name, "--gateway", gateway, check=False)
        assert refused.returncode == 1 and "unauthorized" in refused.stderr
    # the phone opened the file through a share (a capsule), which is no longer released to it;
    # the laptop, which sealed it to itself, keeps what it has (removal cannot undo that)
    refused = meshkit(phone, "open", root, "--as", "phone", "--out", tmp_path / "x", "--gateway", gateway,
                      check=False)
    assert refused.returncode == 1 and "unauthorized" in refused.stderr
