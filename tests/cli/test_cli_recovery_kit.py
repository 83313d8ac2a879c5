"""`meshkit identity confirm-kit` and `meshkit identity new-phrase` through the real command:
the new phrase is shown once (a new 0600 kit file here, as `identity create` shows it), never
on stdout or stderr; the old phrase then confirms and recovers nothing (phrase_replaced); the
new one recovers the account and its library."""

import os
import re

from support.meshkit_cli import meshkit

PHRASE = re.compile(r"recovery phrase \(24 words\):\n(.+)\n")


def test_confirm_the_kit_and_replace_the_phrase_from_the_command_line(fresh_gateway, tmp_path):
    gateway = fresh_gateway
    laptop, tablet = tmp_path / "laptop", tmp_path / "tablet"
    first_kit, new_kit = tmp_path / "kit.txt", tmp_path / "new-kit.txt"
    meshkit(laptop, "identity", "create", "laptop", "--gateway", gateway, "--phrase-file", first_kit)
    first = PHRASE.search(first_kit.read_text()).group(1)
    secret = tmp_path / "plans.txt"
    secret.write_bytes(os.urandom(50_000))
    sealed = meshkit(laptop, "seal", secret, "--from", "laptop", "--to", "laptop", "--gateway", gateway)
    root = sealed.stdout.split()[-1]

    confirmed = meshkit(laptop, "identity", "confirm-kit", "laptop", "--gateway", gateway, stdin=first + "\n")
    assert "recovery kit of account" in confirmed.stderr and confirmed.stderr.rstrip().endswith(": confirmed")

    made = meshkit(laptop, "identity", "new-phrase", "laptop", "--gateway", gateway, "--phrase-file", new_kit)
    assert oct(os.stat(new_kit).st_mode & 0o777) == "0o600"
    new = PHRASE.search(new_kit.read_text()).group(1)
    assert new != first and len(new.split()) == 24
    assert not any(word in made.stdout + made.stderr for word in set(new.split()) - set(first.split())
                   if len(word) > 4)  # shown once, in the kit only
    assert "new recovery phrase" in made.stderr
    again = meshkit(laptop, "identity", "new-phrase", "laptop", "--gateway", gateway, "--phrase-file", new_kit,
                    check=False)  # an existing file is never overwritten, and nothing changes
    assert again.returncode == 1 and "exists" in again.stderr
    old = meshkit(laptop, "identity", "confirm-kit", "laptop", "--gateway", gateway, stdin=first + "\n", check=False)
    assert old.returncode == 1 and "phrase_replaced" in old.stderr

    recovered = meshkit(tablet, "identity", "recover", "tablet", "--gateway", gateway, stdin=first + "\n",
                        check=False)
    assert recovered.returncode == 1 and "phrase_replaced" in recovered.stderr
    assert first.split()[3] not in recovered.stderr
    recovered = meshkit(tablet, "identity", "recover", "tablet", "--gateway", gateway, stdin=new + "\n")
    assert "1 envelope(s) open again" in recovered.stderr and new not in recovered.stdout + recovered.stderr
    meshkit(tablet, "open", root, "--as", "tablet", "--out", tmp_path / "back", "--gateway", gateway)
    assert (tmp_path / "back").read_bytes() == secret.read_bytes()
