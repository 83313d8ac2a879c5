"""A passkey as a second way to recover an account, on CPython through a real gateway
(FORMAT.md 11.8), with the PRF output a passkey would give as 32 bytes (the browser test
drives a real WebAuthn authenticator): recover with no words; a wrap altered at the gateway,
another passkey's, or one made before the phrase was replaced fails typed, changing nothing."""

import dataclasses
import os
import sqlite3

import pytest

from meshkit_web.clients.accounts import (new_recovery_phrase, account_recipients, create_account, open_with_recovery,
                                          recover_with_secret)
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.clients.passkeys import add_passkey, list_passkeys, remove_passkey, secret_from_passkey
from meshkit_web.core import codec
from meshkit_web.core.account import derive_recovery_keys, make_account_record, secret_from_phrase
from meshkit_web.core.errors import MeshKitError, PasskeyStaleError
from meshkit_web.core.identity import create_identity
from meshkit_web.core.passkey import lookup_text, parse_wrap
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider

from support.aio import run
from support.constants import NOW
from support.servers import ServerThread


@pytest.fixture
def gateway(tmp_path):
    """A gateway whose SQLite file the test can reach into (a gateway that alters what it keeps)."""
    config = GatewayConfig(data_dir=str(tmp_path / "data"))
    server = ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "data" / "blockstore")))).start()
    server.db = tmp_path / "data" / "metadata.db"
    yield server
    server.stop()


def alter_wrap(db, lookup: str, change) -> None:
    with sqlite3.connect(db) as conn:
        data = conn.execute("SELECT data FROM passkeys WHERE lookup = ?", (lookup,)).fetchone()[0]
        conn.execute("UPDATE passkeys SET data = ? WHERE lookup = ?", (change(bytes(data)), lookup))


async def read(opened) -> bytes:
    return b"".join([chunk async for chunk in opened.plaintext()])


def code_of(excinfo) -> str:
    return excinfo.value.code


def test_recover_with_a_passkey_alone_and_refuse_altered_wraps(gateway, backend):
    prf, credential = os.urandom(32), os.urandom(48)
    text = os.urandom(40_000)

    async def go():
        laptop, phone = [await create_identity(backend, n, NOW) for n in ("laptop", "phone")]
        async with GatewayClient(gateway.url, backend, laptop) as on_laptop:
            phrase, record = await create_account(on_laptop, "alice")
            sealed = await on_laptop.seal_upload([text], recipients=account_recipients(record))
            _, other = await create_account(GatewayClient(gateway.url, backend,
                                                          await create_identity(backend, "eve", NOW)), "eve")
            with pytest.raises(MeshKitError) as wrong:  # another account's phrase wraps nothing
                await add_passkey(on_laptop, record, " ".join(phrase.split()[::-1]), prf, credential)
            assert code_of(wrong) == "bad_phrase"
            assert await list_passkeys(on_laptop) == []
            added = await add_passkey(on_laptop, record, phrase, prf, credential)
            assert added["credentialId"] == codec.b64e(credential)
            assert [p["credentialId"] for p in await list_passkeys(on_laptop)] == [added["credentialId"]]
            # the wrap at the gateway holds neither the phrase's words nor the secret
            with sqlite3.connect(gateway.db) as conn:
                stored = bytes(conn.execute("SELECT data FROM passkeys").fetchone()[0])
            assert secret_from_phrase(phrase) not in stored and parse_wrap(stored).account == record.id

        lookup = lookup_text(prf)
        async with GatewayClient(gateway.url, backend, phone) as on_phone:
            # altered at the gateway: one bit of the ciphertext, the account it names, the credential
            for change in (lambda d: d[:-1] + bytes([d[-1] ^ 1]),
                           lambda d: d.replace(record.id.encode(), other.id.encode()),
                           lambda d: d.replace(credential, os.urandom(48))):
                alter_wrap(gateway.db, lookup, change)
                with pytest.raises(MeshKitError) as bad:
                    await secret_from_passkey(on_phone, prf, credential)
                assert code_of(bad) == "bad_passkey"
                alter_wrap(gateway.db, lookup, lambda _: stored)
            with pytest.raises(MeshKitError) as other_key:  # the right wrap, the wrong passkey's output
                await secret_from_passkey(on_phone, prf, os.urandom(48))
            assert code_of(other_key) == "bad_passkey"
            with pytest.raises(MeshKitError) as unknown:
                await secret_from_passkey(on_phone, os.urandom(32), credential)
            assert code_of(unknown) == "unknown_identity"
            assert (await on_phone.fetch_account(record.id)).version == 1  # nothing changed

            recovered, keys = await recover_with_secret(on_phone, await secret_from_passkey(on_phone, prf, credential))
            assert (recovered.id, recovered.version) == (record.id, 2) and recovered.device(phone.id)
            assert await read(await open_with_recovery(on_phone, sealed, recovered, keys)) == text
            # a device of the account removes the passkey: it recovers nothing from then on
            assert await remove_passkey(on_phone, added["credentialId"]) == {"removed": added["credentialId"]}
            with pytest.raises(MeshKitError) as gone:
                await secret_from_passkey(on_phone, prf, credential)
            assert code_of(gone) == "unknown_identity"
    run(go())


def test_a_wrap_made_before_the_phrase_was_replaced_is_stale(gateway, backend):
    """The recovery branch replaces the phrase with a root-signed record whose recovery key
    is new (as below): the passkey still unwraps the OLD secret, whose recovery key is not the
    account's any more. That is passkey_stale, before anything changes, never a crash."""
    prf, credential = os.urandom(32), os.urandom(16)

    async def go():
        laptop, phone = [await create_identity(backend, n, NOW) for n in ("laptop", "phone")]
        async with GatewayClient(gateway.url, backend, laptop) as on_laptop:
            phrase, record = await create_account(on_laptop, "alice")
            await add_passkey(on_laptop, record, phrase, prf, credential)
            keys = await derive_recovery_keys(backend, secret_from_phrase(phrase))
            fresh = await derive_recovery_keys(backend, os.urandom(32))
            elsewhere = dataclasses.replace(record, version=0, data=b"not the record before this one")
            replaced = await make_account_record(
                backend, name=record.name, root_key=record.root_key, recovery_key=fresh.recovery_key,
                version=record.version + 1, prev=elsewhere, devices=list(record.devices), removed=[],
                created=record.created, signer_id=record.id, signer_private=keys.root_private)
            await on_laptop.publish_account(replaced)
        async with GatewayClient(gateway.url, backend, phone) as on_phone:
            secret = await secret_from_passkey(on_phone, prf, credential)
            with pytest.raises(PasskeyStaleError):
                await recover_with_secret(on_phone, secret, stale=PasskeyStaleError("added before the phrase changed"))
            with pytest.raises(MeshKitError) as old_phrase:  # the old phrase: replaced, not a chain error
                await recover_with_secret(on_phone, secret)
            assert code_of(old_phrase) == "phrase_replaced"
            assert (await on_phone.fetch_account(record.id)).version == 2  # nothing changed
    run(go())


def test_a_new_recovery_phrase_drops_the_passkeys_and_one_added_after_it_recovers(gateway, backend):
    """new_recovery_phrase drops the wraps of the old secret (FORMAT.md 11.7 step 5); a passkey
    added with the NEW phrase recovers, although that phrase's root id is not the account id."""
    prf, credential = os.urandom(32), os.urandom(16)

    async def go():
        laptop, phone = [await create_identity(backend, n, NOW) for n in ("laptop", "phone")]
        async with GatewayClient(gateway.url, backend, laptop) as on_laptop:
            phrase, record = await create_account(on_laptop, "alice")
            await add_passkey(on_laptop, record, phrase, prf, credential)
            made = await new_recovery_phrase(on_laptop, record)
            assert await list_passkeys(on_laptop) == []
            with pytest.raises(MeshKitError) as old:  # the old phrase wraps nothing new
                await add_passkey(on_laptop, made.record, phrase, prf, credential)
            assert code_of(old) == "bad_phrase"
            await add_passkey(on_laptop, made.record, made.phrase, prf, credential)
        async with GatewayClient(gateway.url, backend, phone) as on_phone:
            recovered, _ = await recover_with_secret(on_phone, await secret_from_passkey(on_phone, prf, credential))
            assert recovered.id == record.id and recovered.device(phone.id)
    run(go())
