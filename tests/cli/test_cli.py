"""The meshkit CLI contract: identities, contacts, seal -> root CID, open -> file or one-line failure."""

import concurrent.futures
import fcntl
import json
import logging
import os
import pty
import stat
import struct
import subprocess
import sys
import termios

import pytest


def setup_pair(cli, tmp_path):
    """alice in cli.home, bob in his own home; each imports the other's public record."""
    bob_home = tmp_path / "bob-home"
    cli("identity", "create", "alice")
    cli("identity", "create", "bob", home_dir=bob_home)
    (tmp_path / "alice.json").write_text(cli("identity", "show", "alice").stdout)
    (tmp_path / "bob.json").write_text(cli("identity", "show", "bob", home_dir=bob_home).stdout)
    cli("contact", "add", tmp_path / "bob.json")
    cli("contact", "add", tmp_path / "alice.json", home_dir=bob_home)
    return bob_home


def test_identity_files_are_private_and_show_is_public(cli):
    created = json.loads(cli("identity", "create", "alice").stdout)
    shown = json.loads(cli("identity", "show", "alice").stdout)
    assert created == shown and shown["id"].startswith("mk") and "fingerprint" in shown
    assert not any("private" in key for key in shown)
    key_file = cli.home / "identities" / "alice.json"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cli.home).st_mode) == 0o700
    secret = json.loads(key_file.read_text())
    assert secret["sig_private"] not in cli("identity", "show", "alice").stdout
    again = cli("identity", "create", "alice", check=False)
    assert again.returncode != 0 and "identity_exists" in again.stderr
    assert json.loads(cli("identity", "show", "alice").stdout) == shown  # not overwritten


def test_meshkit_home_environment(tmp_path):
    env = {**os.environ, "MESHKIT_HOME": str(tmp_path / "envhome")}
    subprocess.run([sys.executable, "-m", "meshkit_web", "identity", "create", "eve"], env=env, check=True,
                   capture_output=True)
    assert (tmp_path / "envhome" / "identities" / "eve.json").exists()


def test_seal_open_between_two_homes(cli, tmp_path):
    bob_home = setup_pair(cli, tmp_path)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(2_500_000))
    sealed = cli("seal", plain, "--from", "alice", "--to", "bob", "--car", tmp_path / "e.car")
    root = sealed.stdout.strip().splitlines()[-1]
    assert root.startswith("bafy") and len(root) == 59
    opened = cli("open", tmp_path / "e.car", "--as", "bob", "--out", tmp_path / "out.bin", home_dir=bob_home)
    assert (tmp_path / "out.bin").read_bytes() == plain.read_bytes()
    assert "'alice'" in opened.stderr  # the sender is named as a known contact
    assert not list(tmp_path.glob(".meshkit-*"))  # no temp files left


def fail_open(cli, car, out, home=None, identity="bob"):
    proc = cli("open", car, "--as", identity, "--out", out, check=False, home_dir=home)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith("meshkit: ")
    assert "Traceback" not in proc.stderr
    return lines[-1]


@pytest.mark.parametrize("case,code", [
    ("flip-segment", "cid_mismatch"),
    ("flip-header", "cid_mismatch"),
    ("truncate-file", "malformed"),
    ("not-a-car", "malformed"),
    ("non-recipient", "not_recipient"),
])
def test_failed_open_leaves_no_output(cli, tmp_path, case, code):
    bob_home = setup_pair(cli, tmp_path)
    cli("identity", "create", "carol", home_dir=bob_home)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(3 * 1024 * 1024))
    cli("seal", plain, "--from", "alice", "--to", "bob", "--car", tmp_path / "e.car")
    car = bytearray((tmp_path / "e.car").read_bytes())
    identity = "bob"
    if case == "flip-segment":
        car[len(car) // 2] ^= 0x80
    elif case == "flip-header":
        car[-20] ^= 0x01  # the header block is written last
    elif case == "truncate-file":
        del car[-1000:]
    elif case == "not-a-car":
        car = bytearray(b"hello, not a car at all")
    else:
        identity = "carol"
    (tmp_path / "e.car").write_bytes(bytes(car))
    out = tmp_path / "out.bin"
    line = fail_open(cli, tmp_path / "e.car", out, bob_home, identity)
    assert f"meshkit: {code}:" in line
    assert not out.exists()
    assert not list(tmp_path.glob(".meshkit-*"))
    # an existing file under the output name is left as it was
    out.write_bytes(b"keep me")
    fail_open(cli, tmp_path / "e.car", out, bob_home, identity)
    assert out.read_bytes() == b"keep me"


def test_unknown_names_and_missing_files_fail_in_one_line(cli, tmp_path):
    cli("identity", "create", "alice")
    proc = cli("seal", tmp_path / "nope", "--from", "alice", "--to", "alice", "--car", tmp_path / "x.car", check=False)
    assert proc.returncode != 0 and proc.stderr.strip().startswith("meshkit: io_error")
    (tmp_path / "f").write_bytes(b"x")
    proc = cli("seal", tmp_path / "f", "--from", "alice", "--to", "zed", "--car", tmp_path / "x.car", check=False)
    assert proc.returncode != 0 and "unknown_identity" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.car").exists()
    proc = cli("contact", "add", tmp_path / "f", check=False)
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1


def test_progress_bar_only_on_a_terminal(cli, tmp_path):
    cli("identity", "create", "alice")
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(4 * 1024 * 1024))
    piped = cli("seal", plain, "--from", "alice", "--to", "alice", "--car", tmp_path / "a.car")
    assert "seal" not in piped.stderr and "%" not in piped.stderr
    primary, secondary = pty.openpty()
    # a terminal 100 columns wide (a fresh pty has width 0, where tqdm draws nothing)
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.run([sys.executable, "-m", "meshkit_web", "--home", str(cli.home), "seal", str(plain),
                           "--from", "alice", "--to", "alice", "--car", str(tmp_path / "b.car")],
                          stdout=subprocess.PIPE, stderr=secondary, timeout=120)
    os.close(secondary)
    shown = b""
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(primary)
    assert proc.returncode == 0
    assert b"seal:" in shown and b"4.00M" in shown  # the bar, drawn on the terminal


@pytest.mark.parametrize("planted", ["file", "symlink"])
def test_open_never_replaces_what_appears_at_its_target_meanwhile(cli, tmp_path, monkeypatch, planted):
    """Saved under the sender's name, `open` checks the name is free, writes a temp file and
    moves it into place once authenticated. Whatever appears at that name in between (a file
    someone saved, a symlink someone planted pointing elsewhere) is left as it is, and the
    plaintext is not written through it: the move never replaces (a hard link, not a rename)."""
    from meshkit_web import cli as cli_module
    from meshkit_web.core import envelope as envelope_module
    bob_home = setup_pair(cli, tmp_path)
    plain = tmp_path / "report.pdf"
    plain.write_bytes(os.urandom(300_000))
    cli("seal", plain, "--from", "alice", "--to", "bob", "--car", tmp_path / "e.car", "--segment-size", "65536")
    work = tmp_path / "downloads"
    work.mkdir()
    monkeypatch.chdir(work)
    elsewhere = tmp_path / "victim.txt"

    real_open = envelope_module.open_envelope

    async def racing_open(*args, **kwargs):  # the fault: the target appears mid-way through the open
        opened = await real_open(*args, **kwargs)
        segments = opened.plaintext

        async def plaintext(*a, **k):
            async for index, chunk in _numbered(segments(*a, **k)):
                if index == 1:
                    if planted == "file":
                        (work / "report.pdf").write_bytes(b"saved meanwhile")
                    else:
                        os.symlink(elsewhere, work / "report.pdf")
                yield chunk
        opened.plaintext = plaintext
        return opened
    monkeypatch.setattr(envelope_module, "open_envelope", racing_open)
    # main() in this process: what it changes globally (the streams, logging) is put back after
    monkeypatch.setattr(sys, "stdout", sys.stdout)
    monkeypatch.setattr(sys, "stderr", sys.stderr)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    # on a thread of its own: a browser test leaves an event loop running on this one
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        code = thread.submit(cli_module.main, ["--home", str(bob_home), "open", str(tmp_path / "e.car"),
                                               "--as", "bob"]).result()
    assert code == 1
    if planted == "file":
        assert (work / "report.pdf").read_bytes() == b"saved meanwhile"
    else:
        assert os.readlink(work / "report.pdf") == str(elsewhere) and not elsewhere.exists()
    assert sorted(p.name for p in work.iterdir()) == ["report.pdf"]  # no temp file left either


async def _numbered(chunks):
    index = 0
    async for chunk in chunks:
        yield index, chunk
        index += 1
