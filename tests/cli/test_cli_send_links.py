"""Send links from the command line (FORMAT.md 5.4): `meshkit send-link` prints the link
once, on standard output; `meshkit receive` opens it with no identity at all, under the
sender's file name; a spent or stopped link is a typed refusal that writes nothing."""

import os

from support.meshkit_cli import meshkit


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

    for _ in range(2):  # what it is, as often as asked: none of its one open is spent
        told = meshkit(stranger, "receive", "--describe", stdin=link)
        assert "name\tminutes 2026-12.txt" in told.stdout and "size\t300000" in told.stdout
        assert "opens left\t1" in told.stdout and secret not in told.stdout + told.stderr

    out_dir = tmp_path / "downloads"
    out_dir.mkdir()
    got = meshkit(stranger, "receive", "-", stdin=link + "\n", cwd=out_dir)
    assert (out_dir / "minutes 2026-12.txt").read_bytes() == source.read_bytes()
    assert secret not in got.stdout + got.stderr

    again = meshkit(stranger, "receive", "--out", tmp_path / "second", stdin=link, check=False)
    assert again.returncode == 1 and "opens_used_up" in again.stderr and not (tmp_path / "second").exists()
    assert secret not in again.stderr

    second = meshkit(sender, "send-link", root, "--from", "sam", "--gateway", fresh_gateway)
    capsule = second.stderr.split("revoke-link ")[1].split()[0]
    meshkit(sender, "revoke-link", capsule, "--from", "sam", "--gateway", fresh_gateway)
    stopped = meshkit(stranger, "receive", "-", "--out", tmp_path / "third", stdin=second.stdout, check=False)
    assert stopped.returncode == 1 and "revoked" in stopped.stderr

    damaged = meshkit(stranger, "receive", "-", "--out", "-", stdin=link[:-3], check=False)
    assert damaged.returncode != 0 and "invalid_argument" in damaged.stderr and secret[:-3] not in damaged.stderr
    bad_opens = meshkit(sender, "send-link", root, "--from", "sam", "--opens", "0", "--gateway", fresh_gateway, check=False)
    assert bad_opens.returncode == 2 and "1 to 1000" in bad_opens.stderr


def test_receive_never_takes_the_link_from_the_command_line(fresh_gateway, tmp_path):
    """A link with its secret on the command line is visible to every user of the machine
    (ps, /proc) and kept in the shell's history: refused as a usage error that says how to
    give it instead and never repeats it; the link is read from a file, standard input or
    the terminal (not echoed)."""
    sender, stranger = tmp_path / "sender", tmp_path / "stranger"
    meshkit(sender, "identity", "create", "sam")
    source = tmp_path / "notes.txt"
    source.write_bytes(b"for your eyes only\n" * 100)
    root = meshkit(sender, "seal", source, "--from", "sam", "--gateway", fresh_gateway).stdout.split()[-1]
    link = meshkit(sender, "send-link", root, "--from", "sam", "--gateway", fresh_gateway).stdout.strip()
    secret = link.rsplit(".", 1)[1]

    for argv_link in (link, link.split("#", 1)[1], "not even a link"):
        refused = meshkit(stranger, "receive", argv_link, "--out", tmp_path / "x", check=False)
        assert refused.returncode == 2, refused.stderr
        assert "--link-file" in refused.stderr and "standard input" in refused.stderr
        assert secret not in refused.stdout + refused.stderr and not (tmp_path / "x").exists()

    kept = tmp_path / "link.txt"
    kept.write_text(link + "\n")
    from_file = meshkit(stranger, "receive", "--link-file", kept, "--out", tmp_path / "a")
    assert (tmp_path / "a").read_bytes() == source.read_bytes() and secret not in from_file.stderr
    piped = meshkit(stranger, "receive", "-", "--out", "-", stdin=link)
    assert piped.stdout == source.read_text()

    typed = at_a_terminal(["receive", "--out", str(tmp_path / "b")], stranger, link)
    assert (tmp_path / "b").read_bytes() == source.read_bytes()
    assert "send link" in typed and secret not in typed  # prompted, and the typed link is not echoed


def at_a_terminal(args, home, typed: str) -> str:
    """Run meshkit with a pseudo-terminal as its controlling terminal, type ``typed`` at its
    prompt; everything the terminal showed."""
    import pty
    import sys
    import time
    pid, fd = pty.fork()
    if pid == 0:  # the child: the pty is its terminal (getpass reads /dev/tty)
        os.execv(sys.executable, [sys.executable, "-m", "meshkit_web", "--home", str(home), *args])
    shown = b""
    deadline = time.time() + 60
    while b"send link" not in shown and time.time() < deadline:
        shown += os.read(fd, 1024)
    os.write(fd, typed.encode() + b"\r")
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:  # the child exited: the terminal closed
            break
        if not chunk:
            break
        shown += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, shown
    return shown.decode(errors="replace")


def test_links_lists_an_envelopes_send_links_with_their_opens(fresh_gateway, tmp_path):
    """`meshkit links ROOT`: each send link the account made, from its library, with the
    gateway's count (a link opened as often as allowed is used_up) and state."""
    sender, stranger = tmp_path / "sender", tmp_path / "stranger"
    meshkit(sender, "identity", "create", "sam", "--gateway", fresh_gateway, "--phrase-file", tmp_path / "p.txt")
    source = tmp_path / "plan.txt"
    source.write_bytes(b"the plan\n")
    root = meshkit(sender, "seal", source, "--from", "sam", "--gateway", fresh_gateway).stdout.split()[-1]
    once = meshkit(sender, "send-link", root, "--from", "sam", "--opens", "1", "--gateway", fresh_gateway)
    other = meshkit(sender, "send-link", root, "--from", "sam", "--gateway", fresh_gateway)
    meshkit(stranger, "receive", "-", "--out", tmp_path / "got", stdin=once.stdout)
    capsule = other.stderr.split("revoke-link ")[1].split()[0]
    meshkit(sender, "revoke-link", capsule, "--from", "sam", "--gateway", fresh_gateway)
    listed = [line.split("\t") for line in
              meshkit(sender, "links", root, "--as", "sam", "--gateway", fresh_gateway).stdout.splitlines()]
    assert sorted((row[1], row[2], row[3]) for row in listed) == [("revoked", "unlimited", "-"), ("used_up", "1/1", "-")]
    assert capsule in [row[0] for row in listed]
    assert not any(secret in str(listed) for secret in (once.stdout.rsplit(".", 1)[1], other.stdout.rsplit(".", 1)[1]))
