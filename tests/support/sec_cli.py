"""Helpers for the CLI/runtime security tests (their `gateway` fixture is in
tests/security/conftest.py): forged records, the CLI's JSON output."""

import json

from support.aio import run


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
