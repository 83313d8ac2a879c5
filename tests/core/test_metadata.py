"""File metadata inside the envelope (FORMAT.md 3.7): sealed for recipients only, checked
when opened, and the one rule that turns a sender's file name into one safe to save under."""

import os
import re

import pytest

from meshkit_web.core.envelope import open_envelope, seal
from meshkit_web.core.metadata import make_metadata, media_type, safe_filename

from support.aio import run
from support.constants import NOW


@pytest.mark.parametrize("sent, saved", [
    ("report.pdf", "report.pdf"),
    ("../../etc/passwd", "passwd"),
    ("C:\\Users\\x\\evil.exe", "evil.exe"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),            # a bidi override hides the real extension
    ("zero\u200bwidth.txt", "zerowidth.txt"),
    ("line\nbreak\r.txt", "linebreak.txt"),
    ("..", "download"), (".bashrc", "bashrc"), ("   ", "download"), ("", "download"),
    ("CON", "_CON"), ("nul.txt", "_nul.txt"), ("a<b>c:d|e?f*g\"h.txt", "a_b_c_d_e_f_g_h.txt"),
    ("trailing dots...", "trailing dots"),
    ("名前.txt", "名前.txt"),
])
def test_safe_filename(sent, saved):
    assert safe_filename(sent) == saved


def test_long_names_keep_their_extension_within_200_bytes():
    saved = safe_filename("é" * 300 + ".pdf")
    assert saved.endswith(".pdf") and len(saved.encode()) <= 200
    assert safe_filename("x" * 500).startswith("x") and len(safe_filename("x" * 500)) == 200


def test_media_types_are_plain_or_octet_stream():
    assert media_type("Text/HTML; charset=utf-8") == "text/html"
    assert media_type("") == media_type(None) == media_type("not a type") == "application/octet-stream"
    assert media_type("image/svg+xml") == "image/svg+xml"


def test_metadata_is_sealed_for_recipients_and_invisible_to_the_gateway(backend, people):
    alice, bob = people["alice"], people["bob"]

    async def go():
        blocks = [b async for b in seal(backend, [b"x" * 1000], sender=alice, recipients=[bob.public], now=NOW,
                                        segment_size=256, metadata={"name": "secret-name.pdf", "type": "application/pdf",
                                                                    "mtime": NOW - 5})]
        store = {b.cid: b.data for b in blocks}

        async def get(cid):
            return store[cid]
        assert not any(b"secret-name" in data or b"application/pdf" in data for data in store.values())
        opened = await open_envelope(backend, blocks[-1].cid, get, bob)
        return opened.metadata
    meta = run(go())
    assert (meta.name, meta.type, meta.size, meta.mtime) == ("secret-name.pdf", "application/pdf", 1000, NOW - 5)


def test_names_are_cleaned_when_sealed():
    meta = make_metadata("a\u202eb\x00c.txt" + "y" * 400, "TEXT/plain", 3, -1)
    assert meta.name.startswith("abc.txt") and len(meta.name) == 255 and meta.mtime is None
    assert meta.type == "text/plain"


def test_the_cli_saves_under_the_senders_name_and_never_over_a_file(tmp_path):
    from support.meshkit_cli import meshkit
    home, inbox = tmp_path / "home", tmp_path / "inbox"
    inbox.mkdir()
    meshkit(home, "identity", "create", "me")
    source = tmp_path / "Q3 report (final).pdf"
    source.write_bytes(b"%PDF quarterly")
    meshkit(home, "seal", source, "--from", "me", "--car", tmp_path / "e.car")
    opened = meshkit(home, "open", tmp_path / "e.car", "--as", "me", cwd=inbox)
    assert (inbox / "Q3 report (final).pdf").read_bytes() == b"%PDF quarterly"
    assert "'Q3 report (final).pdf', application/pdf" in opened.stderr
    again = meshkit(home, "open", tmp_path / "e.car", "--as", "me", cwd=inbox, check=False)
    assert again.returncode == 1 and "exists here already" in again.stderr
    assert (inbox / "Q3 report (final).pdf").read_bytes() == b"%PDF quarterly"


def test_a_file_bigger_than_the_quota_is_refused_before_any_upload(tmp_path, backend):
    """The quota is checked first, with the numbers: nothing uploaded, and it says by how much."""
    from meshkit_web.clients.gateway import GatewayClient
    from meshkit_web.core.errors import QuotaExceededError
    from meshkit_web.core.identity import create_identity
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread
    config = GatewayConfig(data_dir=str(tmp_path / "gw"), storage_quota=1 << 20)
    with ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "gw" / "blocks")))) as server:
        async def go():
            async with GatewayClient(server.url, backend, await create_identity(backend, "big", NOW)) as client:
                await client.publish()
                with pytest.raises(QuotaExceededError) as refused:
                    await client.check_room(3 << 20, 1)
                await client.check_room(100_000, 1)  # a small one fits
                return str(refused.value), (await client.request("GET", "/v1/usage")).json()
        message, usage = run(go())
    assert "needs 3.2 MB and 1 MB of your 1 MB storage is free: 2.1 MB too much" in message, message
    assert usage["stored"] == 0 and usage["storage_quota"] == 1 << 20


def test_a_file_bigger_than_the_pin_quota_is_refused_before_it_is_encrypted(tmp_path, backend):
    """Both quotas are checked against the file's size first, in MB/GB words, through the
    Python API as through the CLI: nothing is read, sealed or sent (it used to be uploaded
    whole, then refused at its pin, and the refused blocks kept counting for a day)."""
    import pathlib

    from meshkit_web.core.errors import QuotaExceededError
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.kit import MeshKit
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.meshkit_cli import meshkit
    from support.servers import ServerThread
    config = GatewayConfig(data_dir=str(tmp_path / "gw"), pin_quota=2_000_000, storage_quota=50_000_000)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(2_500_000))
    with ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "gw" / "blocks")))) as server:
        async def go():
            async with MeshKit.connect(server.url, home=tmp_path / "home") as kit:
                await kit.identity.create("me", account=False)
                read = []
                with pytest.raises(QuotaExceededError) as refused:
                    await kit.seal(pathlib.Path(big), from_="me", on_progress=lambda done, total: read.append(done))
                assert read == [] or max(read) == 0  # refused before a byte was sealed
                small = await kit.seal(b"x" * 100_000, from_="me", pin=False)  # unpinned: the pin quota is not asked
                return str(refused.value), await kit.usage(as_="me"), small
        message, usage, small = run(go())
        cli = meshkit(tmp_path / "home", "seal", big, "--from", "me", "--gateway", server.url, check=False)
    assert re.search(r"needs 2\.5 MB and 2 MB of your 2 MB pin quota is free: 50\d\.\d KB too much", message), message
    assert usage.stored < 200_000 and usage.pinned == 0 and usage.pin_quota == 2_000_000 and small.size == 100_000
    assert cli.returncode == 1 and "quota_exceeded: this file needs 2.5 MB" in cli.stderr and not cli.stdout


def test_the_cli_writes_to_standard_output_and_takes_the_gateway_from_the_environment(fresh_gateway, tmp_path):
    import os
    import subprocess
    import sys
    home = tmp_path / "home"
    env = {**os.environ, "MESHKIT_GATEWAY": fresh_gateway}
    run_cli = lambda *args, **kw: subprocess.run([sys.executable, "-m", "meshkit_web", "--home", str(home), *map(str, args)],  # noqa: E731
                                                 capture_output=True, env=env, timeout=120, **kw)
    assert run_cli("identity", "create", "piper", "--no-account").returncode == 0  # else an account, from the env
    assert run_cli("identity", "publish", "piper").returncode == 0  # no --gateway: from the environment
    data = os.urandom(300_000)
    (tmp_path / "blob.bin").write_bytes(data)
    sealed = run_cli("seal", tmp_path / "blob.bin", "--from", "piper")
    root = sealed.stdout.decode().split()[-1]
    opened = run_cli("open", root, "--as", "piper", "--out", "-")
    assert opened.returncode == 0 and opened.stdout == data  # only the plaintext on stdout
    env["MESHKIT_GATEWAY"] = "not a url"
    bad = run_cli("inbox", "--as", "piper")
    assert bad.returncode == 2 and b"not a gateway URL" in bad.stderr


def test_a_seal_that_fits_stands_when_its_library_entry_does_not(tmp_path, backend):
    """Near the quota, the file fits but the library's small change record does not: the
    seal stands (its upload and pin landed), said as not in the library yet, never a failure."""
    from meshkit_web.core.limits import charged_envelope_size
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.kit import MeshKit
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread
    data = os.urandom(300_000)
    config = GatewayConfig(data_dir=str(tmp_path / "gw"))
    with ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "gw" / "blocks")))) as server:
        async def go():
            async with MeshKit.connect(server.url, home=tmp_path / "home") as kit:
                await kit.identity.create("me")
                used = (await kit.usage(as_="me")).stored
                # room for the file by the client's estimate, and not for one more envelope after it
                config.storage_quota = used + charged_envelope_size(len(data), 3) + 2000  # device, recovery key, sender
                return await kit.seal(data, from_="me"), await kit.usage(as_="me")
        sealed, usage = run(go())
    assert sealed.in_library is False and sealed.size == len(data)
    assert usage.stored <= usage.storage_quota
