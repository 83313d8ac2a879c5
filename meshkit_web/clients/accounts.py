"""Account operations over a gateway, the same in every runtime (FORMAT.md section 11).

A device is today's identity (its own keys; non-extractable in the browser). These
functions create an account around a device, recover it on a fresh device from the phrase,
and change its device list; each publishes the new account record and returns it. The
recovery secret and the keys derived from it exist only inside one call, and are never
stored or logged.
"""

import time

from ..core.account import (AccountChainError, AccountRecord, RecoveryKeys, certify_device, derive_recovery_keys,
                            device_consent, make_account_record, phrase_from_secret, secret_from_phrase)
from ..core.capsule import make_capsule
from ..core.cid import cid_str
from ..core.envelope import open_envelope, read_header
from ..core.errors import MissingMetadataError, NotARecipientError, UnknownIdentityError
from ..core.identity import Identity, PublicIdentity
from .gateway import GatewayClient


async def _consented_cert(client: GatewayClient, account: str, *, signer_id: str, signer_private,
                          can_add: bool = True, now: int):
    device = client.identity
    consent = await device_consent(client.backend, device.sig_private, account, device.id)
    return await certify_device(client.backend, account=account, device=device.public, consent=consent, added=now,
                                can_add=can_add, signer_id=signer_id, signer_private=signer_private)


async def create_account(client: GatewayClient, name: str, *, now: int | None = None) -> tuple[str, AccountRecord]:
    """A new account whose first device is ``client``'s identity: (the recovery phrase, to
    show the user once, and the published record)."""
    now = int(time.time()) if now is None else now
    secret = await client.backend.random_bytes(32)
    keys = await derive_recovery_keys(client.backend, secret)
    cert = await _consented_cert(client, keys.account_id, signer_id=keys.account_id,
                                 signer_private=keys.root_private, now=now)
    record = await make_account_record(client.backend, name=name, root_key=keys.root_key,
                                       recovery_key=keys.recovery_key, version=1, prev=None, devices=[cert],
                                       removed=[], created=now, signer_id=keys.account_id,
                                       signer_private=keys.root_private)
    await client.publish()
    await client.publish_account(record)
    return phrase_from_secret(secret), record


async def recover_account(client: GatewayClient, phrase: str, *, known: AccountRecord | None = None,
                          now: int | None = None) -> tuple[AccountRecord, RecoveryKeys]:
    """Add ``client``'s identity to the account the phrase belongs to, signed by the account
    root: works with every old device lost. Returns the new record and the recovery keys
    (for re-wrapping older envelopes to the new device; drop them afterwards)."""
    now = int(time.time()) if now is None else now
    keys = await derive_recovery_keys(client.backend, secret_from_phrase(phrase))
    try:
        latest = await client.fetch_account(keys.account_id, known=known)
    except MissingMetadataError:
        raise UnknownIdentityError("no account for this recovery phrase at this gateway") from None
    cert = await _consented_cert(client, keys.account_id, signer_id=keys.account_id,
                                 signer_private=keys.root_private, now=now)
    devices = [d for d in latest.devices if d.id != cert.id] + [cert]
    record = await make_account_record(client.backend, name=latest.name, root_key=keys.root_key,
                                       recovery_key=keys.recovery_key, version=latest.version + 1, prev=latest,
                                       devices=devices, removed=[r for r in latest.removed if r != cert.id],
                                       created=latest.created, signer_id=keys.account_id,
                                       signer_private=keys.root_private)
    await client.publish()
    await client.publish_account(record)
    return record, keys


async def remove_devices(client: GatewayClient, latest: AccountRecord, device_ids: list[str], *,
                         keys: RecoveryKeys | None = None) -> AccountRecord:
    """A new record without ``device_ids``: signed by ``client``'s device (if it may change
    the account) or by the account root from ``keys``. New seals and capsules skip the
    removed devices and the gateway refuses their tokens; what they already opened stays
    opened."""
    gone = set(device_ids)
    unknown = gone - {d.id for d in latest.devices}
    if unknown:
        raise UnknownIdentityError(f"{sorted(unknown)[0]} is not a device of account {latest.id}")
    remaining = [d for d in latest.devices if d.id not in gone]
    if not remaining:
        raise AccountChainError("an account keeps at least one device")
    if keys is not None:
        signer_id, signer_private = keys.account_id, keys.root_private
    else:
        own = latest.device(client.identity.id)
        if own is None or not own.can_add or client.identity.id in gone:
            raise AccountChainError("this device may not change the account: use the recovery phrase")
        signer_id, signer_private = client.identity.id, client.identity.sig_private
    record = await make_account_record(client.backend, name=latest.name, root_key=latest.root_key,
                                       recovery_key=latest.recovery_key, version=latest.version + 1, prev=latest,
                                       devices=remaining, removed=sorted(set(latest.removed) | gone),
                                       created=latest.created, signer_id=signer_id, signer_private=signer_private)
    await client.publish_account(record)
    return record


def recovery_identity(record: AccountRecord, keys: RecoveryKeys) -> Identity:
    """The recovery key as an identity that can open what was sealed to the account."""
    return Identity(record.recovery_identity(), keys.root_private, keys.recovery_private)


def account_recipients(record: AccountRecord) -> list[PublicIdentity]:
    """Seal or share to an account: its current devices and its recovery key."""
    return record.recipients()


async def share_with_account(client: GatewayClient, root: bytes, record: AccountRecord, *,
                             expires: int | None = None, policy: str | None = None) -> list:
    """One capsule per recipient of the account (its devices and its recovery key)."""
    return [await client.share(root, recipient, expires=expires, policy=policy)
            for recipient in account_recipients(record)]


async def open_with_recovery(client: GatewayClient, root: bytes, record: AccountRecord, keys: RecoveryKeys):
    """Open what was sealed or shared to the account with its recovery key (the phrase),
    then re-wrap it to ``client``'s device (a capsule to itself), so it opens without the
    phrase from now on. Returns the opened envelope."""
    recovery = recovery_identity(record, keys)
    header = await read_header(client.backend, root, client.get_block)
    wrapped = None
    if not any(entry.recipient == recovery.id for entry in header.recipients):
        shares = [s for s in await client.capsules_for(root) if s["recipient"] == recovery.id]
        if not shares:
            raise NotARecipientError(f"{cid_str(root)} was neither sealed nor shared to account {record.id}")
        wrapped = (await client.release(shares[0]["cid"], root, recipient=recovery.id)).wrapped_key
    capsule = await make_capsule(client.backend, client.identity, root, client.get_block, client.identity.public,
                                 now=int(time.time()), opener=recovery, wrapped_key=wrapped)
    await client.request("POST", "/v1/capsules", body=capsule.data, content_type="application/cbor")
    return await open_envelope(client.backend, root, client.get_block, recovery, wrapped_key=wrapped)
