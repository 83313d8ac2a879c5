"""Items 15 and 16: untrusted text reaches the terminal escaped, and URL credentials never
reach it at all, on every CLI line (stdout, stderr, error lines, logs)."""

import re

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from meshkit_web.cli.output import clean, escape
from meshkit_web.core.urls import redact_url, redact_urls_in
from support.servers import ServerThread, free_port

from support.sec_cli import cli_json

EVIL = "\x1b[31mred\x1b[0m\rover\u202eesrever\x9b2J\x07\x00\x7f\u2066\u200b"
# anything a terminal acts on: C0 but newline and tab (our column separator), DEL, C1, bidi and zero-width format characters
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
FAKE_LINE = "\nmeshkit: ok: all good"


def hostile_gateway_app(victim_id: str) -> Starlette:
    """A gateway that speaks the protocol but puts terminal controls in every string it returns."""
    async def ok(request):
        return JSONResponse({"ok": True})

    async def directory(request):
        return JSONResponse({"id": "mk" + EVIL + FAKE_LINE, "fingerprint": EVIL})

    async def challenge(request):
        return JSONResponse({"challenge": "c", "audience": "a"})

    async def token(request):
        return JSONResponse({"token": "t", "expires": 4_000_000_000})

    async def mailbox(request):
        return JSONResponse({"messages": [
            {"id": "m1", "kind": "share", "sender": "mk" + EVIL, "created": 0, "size": 1},
            {"id": "m2" + EVIL + FAKE_LINE, "kind": "note" + EVIL, "sender": EVIL, "created": 0, "size": EVIL}]})

    async def message(request):
        return JSONResponse({"root": "bafy" + EVIL + FAKE_LINE, "policy": EVIL + FAKE_LINE, "expires": 0,
                             "sharer": victim_id})

    async def resolve(request):
        return JSONResponse({"error": "unknown_identity" + EVIL, "message": "no such" + EVIL + FAKE_LINE}, status_code=404)
    return Starlette(routes=[
        Route("/healthz", ok), Route("/v1/directory", directory, methods=["POST"]),
        Route("/v1/auth/challenge", challenge, methods=["POST"]), Route("/v1/auth/token", token, methods=["POST"]),
        Route("/v1/mailbox", mailbox), Route("/v1/mailbox/{mid}", message), Route("/v1/directory/{ident}", resolve)])


def assert_terminal_safe(*texts: str) -> None:
    for text in texts:
        assert not RAW_CONTROL.search(text), repr(text)
        assert not any(line.startswith("meshkit: ok") for line in text.splitlines()), text


def test_escape_and_redact_units():
    assert escape(EVIL) == "\\x1b[31mred\\x1b[0m\\rover\\u202eesrever\\x9b2J\\x07\\x00\\x7f\\u2066\\u200b"
    assert escape("a\nb\tc") == "a\\nb\\tc" and escape("a\nb\tc", keep_lines=True) == "a\nb\tc"
    assert escape("naïve ✓ 日本") == "naïve ✓ 日本"  # printable text is left alone
    assert redact_url("http://user:pw@h:1/p?token=t&x=1#frag=f") == "http://***@h:1/p?token=***&x=***#***"
    assert redact_url("https://h/?bare-secret#contact=mkabc") == "https://h/?***#***"
    assert redact_url("https://h/") == "https://h/"
    assert redact_urls_in("to http://a:b@h/ and https://c@d/?k=v now") == "to http://***@h/ and https://***@d/?k=*** now"
    assert "pw" not in clean("meshkit: unavailable: gateway http://u:pw@h unreachable")


def test_hostile_gateway_strings_are_escaped_on_every_line(cli, tmp_path):
    victim = cli_json(cli, "identity", "create", "victim", home_dir=tmp_path / "v")
    cli("identity", "create", "alice")
    with ServerThread(hostile_gateway_app(victim["id"])) as evil:
        outputs = []
        for args in (("identity", "publish", "alice", "--gateway", evil.url),
                     ("inbox", "--as", "alice", "--gateway", evil.url),
                     ("-v", "inbox", "--as", "alice", "--all", "--gateway", evil.url),
                     ("share", "bafkreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe", "--from", "alice",
                      "--to", victim["id"], "--gateway", evil.url)):
            proc = cli(*args, check=False)
            outputs.append((args, proc))
            assert_terminal_safe(proc.stdout, proc.stderr)
    published, inbox, logged, share = (proc for _, proc in outputs)
    assert logged.returncode == 0 and "INFO" in logged.stderr
    # what `publish` says is the identity as kept here, never the gateway's echo of it
    assert published.returncode == 0 and "red" not in published.stdout and "\\x1b" not in published.stdout
    # one line per message, no fake ones; the share notice proves no sharer (no signed proof), so
    # it is not shown at all (who a share comes from is never the gateway's word)
    assert inbox.returncode == 0 and len(inbox.stdout.splitlines()) == 1
    assert "policy" not in inbox.stdout and "\\nmeshkit: ok" in inbox.stdout
    assert share.returncode == 1
    last = share.stderr.strip().splitlines()[-1]
    assert last.startswith("meshkit: ") and "\\x1b[31m" in last and "\\nmeshkit: ok: all good" in last


def test_names_with_invisible_characters_are_refused_and_others_escaped(cli, tmp_path):
    """Invisible characters (zero width, soft hyphen) are refused in names by Core's record
    rule; what a name may still hold (accents, emoji, right-to-left letters) is shown as is."""
    refused = cli("identity", "create", "zero\u200bwidth\u00adsoft", check=False, home_dir=tmp_path / "p")
    assert refused.returncode == 1 and "invalid_argument" in refused.stderr
    assert_terminal_safe(refused.stdout, refused.stderr)
    name = "Zoë 🦊 שלום"
    cli_json(cli, "identity", "create", name, home_dir=tmp_path / "p")  # someone else's, with a rich name
    shown = cli("identity", "show", name, home_dir=tmp_path / "p")
    path = tmp_path / "odd.json"
    path.write_text(shown.stdout)
    cli("identity", "create", "alice")
    added = cli("contact", "add", path)
    listed = cli("contact", "list")
    assert_terminal_safe(added.stdout, added.stderr, listed.stdout)
    assert name in listed.stdout


@pytest.fixture
def secret_url():
    return lambda port: f"http://meshuser:S3cretPassw0rd@127.0.0.1:{port}"


SECRET = "S3cretPassw0rd"


def test_url_credentials_never_printed_dead_port(cli, tmp_path, secret_url):
    cli("identity", "create", "alice")
    dead = secret_url(free_port())
    plain = tmp_path / "p.txt"
    plain.write_text("x")
    for args in (("identity", "publish", "alice", "--gateway", dead + "/?token=T0kenValue"),
                 ("-v", "seal", plain, "--from", "alice", "--to", "alice", "--gateway", dead),
                 ("open", "bafkreibnoelefnzgwbcacyt4vh52ymxvzbjq7mmqhtcnwarfq4lzegsiqe", "--as", "alice",
                  "--out", tmp_path / "o", "--gateway", dead),
                 ("-v", "inbox", "--as", "alice", "--gateway", dead)):
        proc = cli(*args, check=False)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines()[-1].startswith("meshkit: unavailable: gateway http://***@127.0.0.1:")
        for text in (proc.stdout, proc.stderr):
            assert SECRET not in text and "T0kenValue" not in text and "meshuser" not in text


def test_url_credentials_never_printed_live_gateway(cli, gateway, tmp_path, secret_url):
    cli("identity", "create", "alice")
    live = secret_url(gateway.port)
    plain = tmp_path / "p.txt"
    plain.write_text("x")
    published = cli("-v", "identity", "publish", "alice", "--gateway", live, check=False)
    assert published.returncode == 0, published.stderr
    assert published.stdout.strip().endswith(f"to http://***@127.0.0.1:{gateway.port}")
    sealed = cli("-v", "seal", plain, "--from", "alice", "--to", "alice", "--gateway", live, check=False)
    for proc in (published, sealed):
        for text in (proc.stdout, proc.stderr):
            assert SECRET not in text and "meshuser" not in text
