"""Helpers for the CLI/runtime security tests (import the `gateway` fixture from here):
a real gateway without the site, forged records, hostile servers."""

import json

import pytest

from conftest import run


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """The gateway app (embedded provider, SQLite) under uvicorn on 127.0.0.1."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from servers import ServerThread
    data = tmp_path_factory.mktemp("sec-gateway")
    server = ServerThread(create_app(GatewayConfig(data_dir=str(data)), EmbeddedProvider(str(data / "blockstore"))))
    with server:
        yield server


def forged_record(backend, name: str) -> dict:
    """A self-signed public record named ``name`` that verifies but for the name rule:
    built below create_identity, as an attacker's own code would."""
    from meshkit_web.core.identity import make_identity

    async def make():
        sig_private, sig_key = await backend.ed25519_generate()
        enc_private, enc_key = await backend.x25519_generate()
        return await make_identity(backend, name, 1_700_000_000, sig_private, sig_key, enc_private, enc_key)
    return run(make()).public.to_json()


def cli_json(cli, *args, **kw) -> dict:
    return json.loads(cli(*args, **kw).stdout)
