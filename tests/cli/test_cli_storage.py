"""The CLI over the quotas: `identity create` takes $MESHKIT_GATEWAY (an account) and says
clearly when an identity has none; `inbox` and `library` name what arrived (name, size,
sender, root); `usage`, `unpin`, `delete`; and `serve` takes the quotas and the grace."""

import json
import os

import pytest

from support.meshkit_cli import meshkit


def test_identity_create_takes_the_gateway_from_the_environment(fresh_gateway, tmp_path, monkeypatch):
    monkeypatch.setenv("MESHKIT_GATEWAY", fresh_gateway)
    home = tmp_path / "home"
    made = meshkit(home, "identity", "create", "ann", "--phrase-file", tmp_path / "kit.txt")
    assert json.loads(made.stdout)["account"] and "recovery phrase" in (tmp_path / "kit.txt").read_text()
    bare = meshkit(home, "identity", "create", "bare", "--no-account")
    assert "account" not in json.loads(bare.stdout) and "NO account and NO recovery phrase (--no-account)" in bare.stderr
    mixed = meshkit(home, "identity", "create", "odd", "--no-account", "--phrase-file", tmp_path / "k2", check=False)
    assert mixed.returncode == 1 and "--phrase-file" in mixed.stderr and not (tmp_path / "k2").exists()
    monkeypatch.delenv("MESHKIT_GATEWAY")
    alone = meshkit(home, "identity", "create", "solo")
    assert "account" not in json.loads(alone.stdout)
    assert "NO account and NO recovery phrase (no gateway: neither --gateway nor $MESHKIT_GATEWAY)" in alone.stderr
    assert "meshkit identity create NAME --gateway URL" in alone.stderr
    checked = meshkit(home, "doctor", "--gateway", fresh_gateway)  # a fresh home passes (identities made offline too)
    assert "FAIL" not in checked.stdout and "ok  \tsign-in as ann" in checked.stdout
    assert "warn\tsign-in as solo\tnot published at this gateway yet" in checked.stdout


def test_inbox_library_usage_unpin_and_delete(fresh_gateway, tmp_path):
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    meshkit(alice, "identity", "create", "alice", "--gateway", fresh_gateway, "--phrase-file", tmp_path / "a.txt")
    meshkit(bob, "identity", "create", "bob", "--gateway", fresh_gateway, "--phrase-file", tmp_path / "b.txt")
    (tmp_path / "bob.json").write_text(meshkit(bob, "identity", "show", "bob").stdout)
    meshkit(alice, "contact", "add", tmp_path / "bob.json", "--gateway", fresh_gateway)
    (tmp_path / "Q3 report.pdf").write_bytes(os.urandom(1_200_000))
    sealed = meshkit(alice, "seal", tmp_path / "Q3 report.pdf", "--from", "alice", "--to", "bob",
                     "--gateway", fresh_gateway)
    root = sealed.stdout.split()[-1]
    gw = ("--gateway", fresh_gateway)

    inbox = meshkit(bob, "inbox", "--as", "bob", *gw).stdout
    (line,) = [line for line in inbox.splitlines() if root in line]
    assert line.split("\t")[1:] == ["sealed", "alice", "Q3 report.pdf", "1.2 MB", root]  # the person, not a device id
    received = [line for line in meshkit(bob, "library", "--as", "bob", *gw).stdout.splitlines() if root in line]
    assert received and received[0].split("\t")[1] == "received" and "\t1.2 MB\tQ3 report.pdf\tfrom " in received[0]
    mine = meshkit(alice, "library", "--as", "alice", *gw).stdout
    assert f"{root}\tmine\t" in mine and mine.split(root)[1].splitlines()[0].endswith("\t1.2 MB\tQ3 report.pdf")

    used = meshkit(alice, "usage", "--as", "alice", *gw).stdout
    assert used.startswith("storage\t1.2 MB of 2.1 GB used") and "pinned\t1.2 MB of 1.1 GB used" in used

    deleted = meshkit(alice, "delete", root, "--as", "alice", *gw)
    assert deleted.stdout.strip() == root
    assert "unpinned; removed from your account's library; 1.2 MB of your storage given back" in deleted.stderr
    assert meshkit(alice, "usage", "--as", "alice", *gw).stdout.startswith("storage\t")
    assert "1.2 MB" not in meshkit(alice, "usage", "--as", "alice", *gw).stdout
    assert root not in meshkit(alice, "library", "--as", "alice", *gw).stdout
    again = meshkit(alice, "unpin", root, "--as", "alice", *gw, check=False)
    assert again.returncode == 1 and again.stderr.startswith("meshkit: missing_metadata:")

    other = meshkit(alice, "seal", tmp_path / "Q3 report.pdf", "--from", "alice", *gw).stdout.split()[-1]
    unpinned = meshkit(alice, "unpin", other, "--as", "alice", *gw)
    assert unpinned.stdout.strip() == other and "24 h from now" in unpinned.stderr
    assert "pinned\t" in meshkit(alice, "usage", "--as", "alice", *gw).stdout


def test_serve_takes_the_quotas_and_the_grace(monkeypatch, capsys):
    from meshkit_web.cli.main import main
    from meshkit_web.gateway import server
    given = {}
    monkeypatch.setattr(server, "run", lambda **options: given.update(options))
    assert main(["serve", "--data", "/nonexistent", "--storage-quota", "5GiB", "--pin-quota", "500MB",
                 "--gc-grace", "30m"]) == 0
    assert (given["storage_quota"], given["pin_quota"], given["gc_grace"]) == (5 << 30, 500_000_000, 1800)
    given.clear()
    assert main(["serve", "--data", "/nonexistent"]) == 0
    assert (given["storage_quota"], given["pin_quota"], given["gc_grace"]) == (None, None, None)  # the defaults
    for bad in (["--storage-quota", "lots"], ["--pin-quota", "-1GB"], ["--gc-grace", "3600"], ["--gc-grace", "10s"]):
        with pytest.raises(SystemExit) as refused:
            main(["serve", *bad])
        assert refused.value.code == 2
    assert "is not a size" in capsys.readouterr().err
