"""Secrets never reach error strings, reprs, logs or CLI output."""

import base64
import json
import logging

import pytest

from meshkit_web.core import errors
from meshkit_web.core.cid import DAG_CBOR, cid_bytes
from meshkit_web.core.envelope import derive_keys, read_header, unwrap_content_key

from support.aio import run
from support.envelopes import flip, getter, open_all, seal_to_blocks

MARKER = b"TOP-SECRET-PLAINTEXT-" * 40


def forms(secret: bytes) -> list[str]:
    """Every way a secret could be printed."""
    return [secret.hex(), secret.hex().upper(), repr(secret)[2:-1],
            base64.b64encode(secret).decode().rstrip("="), base64.urlsafe_b64encode(secret).decode().rstrip("="),
            base64.b32encode(secret).decode().rstrip("=").lower()]


def assert_clean(text: str, secrets: list[bytes]):
    for secret in secrets:
        for form in forms(secret):
            assert form[:24] not in text, "a secret leaked into output"


def test_errors_and_logs_carry_no_secrets(backend, people, caplog):
    caplog.set_level(logging.DEBUG)
    bob = people["bob"]

    async def collect():
        root, store, blocks = await seal_to_blocks(backend, MARKER, people["alice"], [bob.public])
        header = await read_header(backend, root, getter(store))
        content_key = await unwrap_content_key(backend, bob, header.recipient_entry(bob.id), header.commitment)
        secrets = [content_key, *derive_keys(content_key), MARKER[:32]]
        for person in people.values():
            secrets += [backend.export_private(person.sig_private), backend.export_private(person.enc_private)]
        texts = [repr(person) + repr(person.sig_private) + repr(person.enc_private) for person in people.values()]
        cases = []
        flipped = dict(store)
        flipped[blocks[0].cid] = flip(blocks[0].data, -1)
        cases.append((root, flipped, bob))
        cases.append((root, store, people["carol"]))
        cases.append((cid_bytes(DAG_CBOR, b"missing"), store, bob))
        truncated = dict(store)
        del truncated[blocks[-2].cid]
        cases.append((root, truncated, bob))
        for case_root, case_store, who in cases:
            with pytest.raises(errors.MeshKitError) as info:
                await open_all(backend, case_root, case_store, who)
            texts += [str(info.value), repr(info.value), repr(info.value.args)]
        return secrets, texts

    secrets, texts = run(collect())
    assert len(texts) >= 8
    assert_clean("\n".join(texts), secrets)
    assert "sealed" in caplog.text and "opening" in caplog.text  # the core did log
    assert_clean(caplog.text, secrets)


def test_cli_output_carries_no_secrets(cli, tmp_path):
    cli("identity", "create", "alice")
    secret_file = json.loads((cli.home / "identities" / "alice.json").read_text())
    plain = tmp_path / "p.bin"
    plain.write_bytes(MARKER)
    outputs = [cli("-v", "identity", "show", "alice"), cli("-v", "identity", "list"),
               cli("-v", "seal", plain, "--from", "alice", "--to", "alice", "--car", tmp_path / "e.car"),
               cli("-v", "open", tmp_path / "e.car", "--as", "alice", "--out", tmp_path / "o.bin")]
    car = bytearray((tmp_path / "e.car").read_bytes())
    car[200] ^= 1
    (tmp_path / "e.car").write_bytes(bytes(car))
    outputs.append(cli("-v", "open", tmp_path / "e.car", "--as", "alice", "--out", tmp_path / "o2.bin", check=False))
    text = "\n".join(p.stdout + p.stderr for p in outputs)
    assert "sealed" in text and "cid_mismatch" in text  # logging was on and the failure was reported
    for field in ("sig_private", "enc_private"):
        assert secret_file[field] not in text
    assert "TOP-SECRET" not in text


def test_support_bundles_lose_tokens_keys_and_url_credentials_but_keep_public_ids():
    """core.diagnostics: the one rule for `meshkit doctor` and the app's "Copy diagnostics"."""
    import os

    from meshkit_web.core.diagnostics import RecentLog, redacted
    from meshkit_web.core.signing import identity_id
    from meshkit_web.core.cid import cid_str
    token = "eyJhbGciOiJFZERTQSIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJtazEyMyIsInNjcCI6WyJwaW5zIl19.c2lnbmF0dXJlLWJ5dGVz"
    key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    public_id = identity_id(os.urandom(32))
    root = cid_str(cid_bytes(DAG_CBOR, b"header"))
    bundle = redacted({"log": [f"sent Authorization: Bearer {token}", f"content key {key} for {root}",
                               "GET http://me:pa55word@gw.example/v1/x?cap=s3cr3t#frag"],
                       f"by {public_id}": {"root": root}})
    text = json.dumps(bundle)
    for secret in (token, key, "pa55word", "s3cr3t", "frag"):
        assert secret not in text, secret
    assert public_id in text and root in text  # public: what makes a bundle useful

    recent = RecentLog.install("meshkit.test-diagnostics")
    assert RecentLog.install("meshkit.test-diagnostics") is recent  # one buffer, however often installed
    logger = logging.getLogger("meshkit.test-diagnostics")
    for n in range(500):
        logger.info("line %d token %s", n, token)
    assert len(recent.lines) == 200 and recent.lines[-1].startswith("INFO meshkit.test-diagnostics: line 499 ")
    assert not any(token in line for line in recent.lines)


def test_redaction_cuts_hostile_lengths_before_searching():
    from meshkit_web.core.diagnostics import MAX_TEXT, redact_text
    hostile = "eyJ" * 40_000  # once quadratic for the token pattern
    out = redact_text(hostile)
    assert out.endswith(" [cut]") and len(out) <= MAX_TEXT + 6
