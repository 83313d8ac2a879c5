"""The CLI's gateway commands as a user runs them: `meshkit serve` as a real subprocess,
seal/open/share/revoke/inbox against it, and the one-line failure contract."""

import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from support.servers import free_port


@pytest.fixture(scope="module")
def served(tmp_path_factory, site):
    data = tmp_path_factory.mktemp("served")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "meshkit_web", "serve", "--data", str(data), "--port", str(port),
                             "--site", str(site)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("meshkit serve did not become ready: " + proc.stdout.read())
    yield url, data
    proc.terminate()
    log = proc.communicate(timeout=20)[0]
    # the server's whole log (access lines included) holds no token and no token key
    key = (data / "token-key").read_text().strip()
    assert "GET /v1/" in log or "PUT /v1/blocks" in log, "the access log was captured"
    assert "eyJ" not in log and "Bearer" not in log and key not in log


def test_serve_serves_the_app_on_the_same_origin(served, site):
    url, _ = served
    build = json.loads((site / "build.json").read_text())
    page = httpx.get(url + "/")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-cache"
    assert f'/b/{build["build"]}/app/app.js' in page.text
    script = httpx.get(f"{url}/b/{build['build']}/meshkit.js")
    assert script.status_code == 200 and "immutable" in script.headers["cache-control"]
    assert script.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    wasm = httpx.head(f"{url}/b/{build['build']}/pyodide/pyodide.asm.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert httpx.get(f"{url}/b/{build['build']}/../../metadata.db").status_code == 404
    assert httpx.get(url + "/api/v0/version").status_code == 403  # the site does not open the RPC


def test_seal_open_share_revoke_through_serve(served, cli, tmp_path):
    url, data = served
    for name in ("alice", "bob", "carol"):
        cli("identity", "create", name)
    carol_id = __import__("json").loads(cli("identity", "show", "carol").stdout)["id"]
    cli("identity", "publish", "carol", "--gateway", url)
    plain = tmp_path / "plain.bin"
    plain.write_bytes(os.urandom(2_500_000))
    sealed = cli("seal", plain, "--from", "alice", "--to", "bob", "--gateway", url)
    root = sealed.stdout.strip().splitlines()[-1]
    assert root.startswith("bafy")
    out = tmp_path / "out.bin"
    cli("open", root, "--as", "bob", "--out", out, "--gateway", url)
    assert out.read_bytes() == plain.read_bytes()

    refused = cli("open", root, "--as", "carol", "--out", tmp_path / "c.bin", "--gateway", url, check=False)
    assert refused.returncode == 1 and refused.stderr.strip().splitlines()[-1].startswith("meshkit: not_recipient:")
    assert not (tmp_path / "c.bin").exists()

    cli("share", root, "--from", "alice", "--to", carol_id, "--expires", "1h", "--gateway", url)
    inbox = cli("inbox", "--as", "carol", "--gateway", url).stdout
    assert "share" in inbox and root in inbox
    cli("open", root, "--as", "carol", "--out", tmp_path / "c.bin", "--gateway", url)
    assert (tmp_path / "c.bin").read_bytes() == plain.read_bytes()
    cli("revoke", root, "--from", "alice", "--to", carol_id, "--gateway", url)
    again = cli("open", root, "--as", "carol", "--out", tmp_path / "c2.bin", "--gateway", url, check=False)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines()[-1].startswith("meshkit: revoked:")
    assert not (tmp_path / "c2.bin").exists()


def test_gateway_down_is_a_clear_error(cli, tmp_path):
    cli("identity", "create", "alice")
    plain = tmp_path / "p"
    plain.write_bytes(b"x" * 1000)
    dead = f"http://127.0.0.1:{free_port()}"
    result = cli("seal", plain, "--from", "alice", "--to", "alice", "--gateway", dead, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("meshkit: unavailable:")
    result = cli("open", "bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", "--as", "alice",
                 "--out", tmp_path / "o", "--gateway", dead, check=False)
    assert result.returncode == 1 and not (tmp_path / "o").exists()


def test_seal_needs_exactly_one_destination(cli, tmp_path):
    cli("identity", "create", "alice")
    plain = tmp_path / "p"
    plain.write_bytes(b"x")
    result = cli("seal", plain, "--from", "alice", "--to", "alice", check=False)
    assert result.returncode == 1 and "exactly one of --car" in result.stderr


def test_server_log_holds_no_tokens(served, cli, tmp_path):
    url, data = served
    cli("identity", "create", "dave")
    plain = tmp_path / "p"
    plain.write_bytes(b"secret plaintext " * 100)
    cli("seal", plain, "--from", "dave", "--to", "dave", "--gateway", url)
    key = (data / "token-key").read_text().strip()
    assert oct((data / "token-key").stat().st_mode)[-3:] == "600"
    assert key not in httpx.get(url + "/openapi.json").text  # the log is checked at fixture teardown
