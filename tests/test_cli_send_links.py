"""Send links from the command line (FORMAT.md 5.4): `meshkit send-link` prints the link
once, on standard output; `meshkit receive` opens it with no identity at all, under the
sender's file name; a spent or stopped link is a typed refusal that writes nothing."""

import os

from meshkit_cli import meshkit


def test_send_link_receive_spent_and_stopped(fresh_gateway, tmp_path):
    sender, stranger = tmp_path / "sender", tmp_path / "stranger"
    meshkit(sender, "identity", "create", "sam")
    source = tmp_path / "minutes 2026-12.txt"
    source.write_bytes(os.urandom(300_000))
    root = meshkit(sender, "seal", source, "--from", "sam", "--gateway", fresh_gateway).stdout.split()[-1]

    made = meshkit(sender, "send-link", root, "--from", "sam", "--opens", "1", "--expires", "1d", "--gateway", fresh_gateway)
    link = made.stdout.strip()
    assert link.startswith(fresh_gateway.rstrip("/") + "/#send=" + root + ".")
    secret = link.rsplit(".", 1)[1]
    assert secret not in made.stderr and "opens once" in made.stderr

    out_dir = tmp_path / "downloads"
    out_dir.mkdir()
    got = meshkit(stranger, "receive", link, cwd=out_dir)
    assert (out_dir / "minutes 2026-12.txt").read_bytes() == source.read_bytes()
    assert secret not in got.stdout + got.stderr

    again = meshkit(stranger, "receive", link, "--out", tmp_path / "second", check=False)
    assert again.returncode == 1 and "opens_used_up" in again.stderr and not (tmp_path / "second").exists()
    assert secret not in again.stderr

    second = meshkit(sender, "send-link", root, "--from", "sam", "--gateway", fresh_gateway)
    capsule = second.stderr.split("revoke-link ")[1].split()[0]
    meshkit(sender, "revoke-link", capsule, "--from", "sam", "--gateway", fresh_gateway)
    stopped = meshkit(stranger, "receive", second.stdout.strip(), "--out", tmp_path / "third", check=False)
    assert stopped.returncode == 1 and "revoked" in stopped.stderr

    damaged = meshkit(stranger, "receive", link[:-3], "--out", "-", check=False)
    assert damaged.returncode != 0 and "invalid_argument" in damaged.stderr and secret[:-3] not in damaged.stderr
    bad_opens = meshkit(sender, "send-link", root, "--from", "sam", "--opens", "0", "--gateway", fresh_gateway, check=False)
    assert bad_opens.returncode == 2 and "1 to 1000" in bad_opens.stderr
