"""Passkeys as a second way to recover an account, over a gateway (FORMAT.md 11.8).

The page runs WebAuthn and hands Core only the PRF output and the credential id; these
functions wrap the recovery secret with it and store the wrap at the gateway, list and
remove the account's passkeys, and turn a passkey back into the recovery secret. The PRF
output, the keys derived from it and the secret exist only inside one call.
"""

import time
from urllib.parse import quote

from ..core import codec
from ..core.account import AccountRecord, RecoveryPhraseError, derive_recovery_keys, secret_from_phrase
from ..core.errors import MissingMetadataError, PasskeyError, UnknownIdentityError
from ..core.passkey import lookup_text, unwrap_secret, wrap_secret
from .gateway import GatewayClient


async def add_passkey(client: GatewayClient, record: AccountRecord, phrase: str, prf: bytes, credential: bytes,
                      *, now: int | None = None) -> dict:
    """Wrap the recovery secret (from ``phrase``, which must be this account's current one)
    under the passkey's PRF output and store it at the gateway. {credentialId, created}."""
    secret = secret_from_phrase(phrase)
    keys = await derive_recovery_keys(client.backend, secret)
    if not record.is_phrase(keys):
        raise RecoveryPhraseError("that is not this account's current recovery phrase")
    del keys
    wrap = await wrap_secret(client.backend, prf, account=record.id, credential=credential, secret=secret,
                             created=int(time.time()) if now is None else now)
    del secret
    stored = (await client.request("PUT", f"/v1/passkeys/{lookup_text(prf)}", json_body={
        "credential": codec.b64e(wrap.credential), "data": codec.b64e(wrap.data)})).json()
    return {"credentialId": stored["credential"], "created": stored["created"]}


async def list_passkeys(client: GatewayClient) -> list[dict]:
    """The passkeys of ``client``'s account: [{credentialId, created}], oldest first."""
    rows = (await client.request("GET", "/v1/passkeys")).json()["passkeys"]
    return [{"credentialId": row["credential"], "created": row["created"]} for row in rows]


async def remove_passkey(client: GatewayClient, credential_id: str) -> dict:
    """Forget the wrap of one passkey (``credential_id``: base64url, as listed). The passkey
    itself stays on its authenticator, useless for this account from now on."""
    try:
        await client.request("DELETE", "/v1/passkeys?credential=" + quote(str(credential_id), safe=""))
    except MissingMetadataError:
        raise UnknownIdentityError("this account has no passkey with that credential id") from None
    return {"removed": str(credential_id)}


async def secret_from_passkey(client: GatewayClient, prf: bytes, credential: bytes) -> bytes:
    """The recovery secret the passkey's wrap holds: fetched by the lookup id the PRF output
    gives (no token: this browser has no device of the account yet) and opened. A wrap that
    does not open, or whose secret is not of the account it names, is PasskeyError."""
    try:
        reply = (await client.request("GET", f"/v1/passkeys/{lookup_text(prf)}", auth=False)).json()
    except MissingMetadataError:
        raise UnknownIdentityError("this passkey recovers no account at this gateway (it was never added, or "
                                   "was removed)") from None
    try:
        data = codec.b64d(reply["data"])
    except (KeyError, TypeError, ValueError):
        raise PasskeyError("the gateway's passkey recovery record is malformed") from None
    # the secret's account is found and checked by recover_with_secret, through the account's
    # chain (after a new phrase its root's id is not the account id: no shortcut here)
    _, secret = await unwrap_secret(client.backend, prf, credential, data)
    return secret


async def drop_passkeys(client: GatewayClient) -> int:
    """Forget every passkey wrap of ``client``'s account (a new recovery phrase: they hold the
    old secret). How many were dropped."""
    dropped = 0
    for passkey in await list_passkeys(client):
        await remove_passkey(client, passkey["credentialId"])
        dropped += 1
    return dropped
