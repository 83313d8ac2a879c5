"""Account operations over a gateway, the same in every runtime (FORMAT.md section 11).

A device is today's identity (its own keys; non-extractable in the browser). These
functions create an account around a device, recover it on a fresh device from the phrase,
and change its device list; each publishes the new account record and returns it. The
recovery secret and the keys derived from it exist only inside one call, and are never
stored or logged.
"""

import asyncio
import dataclasses
import hashlib
import hmac
import inspect
import json
import logging
import random
import time
from dataclasses import dataclass

from ..core import codec, kdf
from ..core.account import (AccountChainError, AccountRecord, DeviceCert, KnownAccount, RecoveryKeys, added_through,
                            certify_device, derive_recovery_keys, device_consent, make_account_record,
                            phrase_from_secret, recovery_recipient_id, secret_from_phrase)
from ..core.capsule import make_capsule
from ..core.cid import cid_str, parse_cid
from ..core.envelope import open_envelope, read_header, unwrap_content_key
from ..core.errors import (ConflictError, EnvelopeFormatError, KeyUnwrapError, LimitExceededError,  # noqa: F401
                           LinkCodeMismatchError, LinkError, MeshKitError, MissingMetadataError, NotARecipientError,
                           PolicyUnavailableError, QuotaExceededError, RecoveryPhraseError,
                           RecoveryPhraseReplacedError, UnavailableError, UnknownIdentityError, UnsupportedError)
from ..core.identity import Identity, PublicIdentity, check_name, record_from_bytes
from ..core.library import MAX_ENTRIES, Library, library_from_bytes, merge
from ..core import short_code
from ..core.recipients import Reach
from ..core.short_code import LINK_WAIT  # noqa: F401 - accounts.LINK_WAIT, as before
from ..core.signing import is_identity_id
from .passkeys import drop_passkeys
from .gateway import GatewayClient

log = logging.getLogger("meshkit.accounts")


async def _consented_cert(client: GatewayClient, account: str, *, signer_id: str, signer_private,
                          can_add: bool = True, now: int, device_name: str | None = None):
    """``client``'s device certified into ``account``, named ``device_name`` there (default:
    its identity's name; the certificate's name is the device's, FORMAT.md 11.2)."""
    device = client.identity
    public = device.public if not device_name else dataclasses.replace(device.public, name=device_name)
    consent = await device_consent(client.backend, device.sig_private, account, device.id, device.public.pq_key)
    return await certify_device(client.backend, account=account, device=public, consent=consent, added=now,
                                can_add=can_add, signer_id=signer_id, signer_private=signer_private)


async def create_account(client: GatewayClient, name: str, *, device_name: str | None = None,
                         now: int | None = None) -> tuple[str, AccountRecord]:
    """A new account whose first device is ``client``'s identity: (the recovery phrase, to
    show the user once, and the published record). ``name``: the person's (the account's);
    ``device_name``: this device's in the account (default: the identity's name)."""
    check_name(name)
    if device_name is not None:
        check_name(device_name)
    now = int(time.time()) if now is None else now
    secret = await client.backend.random_bytes(32)
    keys = await derive_recovery_keys(client.backend, secret)
    cert = await _consented_cert(client, keys.account_id, signer_id=keys.account_id,
                                 signer_private=keys.root_private, now=now, device_name=device_name)
    record = await make_account_record(client.backend, name=name, root_key=keys.root_key,
                                       recovery_key=keys.recovery_key, version=1, prev=None, devices=[cert],
                                       removed=[], created=now, signer_id=keys.account_id,
                                       signer_private=keys.root_private, pq_recovery_key=keys.pq_key)
    await client.publish()
    await client.publish_account(record)
    return phrase_from_secret(secret), record


async def _account_of_phrase(client: GatewayClient, keys: RecoveryKeys,
                             known: AccountRecord | None) -> AccountRecord:
    """The account a phrase's keys belong to, verified through its chain: the first phrase's
    root is the account id; a phrase made by new_recovery_phrase is found through the
    gateway's hint (GET /v1/accounts/of/<its root's id>), believed only once checked."""
    try:
        return await client.fetch_account(keys.account_id, known=known)
    except MissingMetadataError:
        pass
    account = await client.account_of(keys.account_id)
    try:
        if account is not None:
            return await client.fetch_account(account, known=known if known and known.id == account else None)
    except MissingMetadataError:
        pass
    raise UnknownIdentityError("no account for this recovery phrase at this gateway")


async def _phrase_error(client: GatewayClient, latest: AccountRecord, keys: RecoveryKeys) -> MeshKitError:
    """Why ``keys`` are not ``latest``'s current phrase: a phrase of this account replaced
    since (``phrase_replaced``: the first one, or one the gateway says was), or another one."""
    if keys.account_id == latest.id:
        return RecoveryPhraseReplacedError("that recovery phrase was replaced by a newer one")
    try:
        if await client.account_of(keys.account_id) == latest.id:
            return RecoveryPhraseReplacedError("that recovery phrase was replaced by a newer one")
    except MeshKitError:
        pass
    return RecoveryPhraseError("that is not this account's recovery phrase")


async def recover_account(client: GatewayClient, phrase: str, *, known: AccountRecord | None = None,
                          device_name: str | None = None, now: int | None = None) -> tuple[AccountRecord, RecoveryKeys]:
    """Add ``client``'s identity to the account the phrase belongs to, signed by the account
    root: works with every old device lost. The phrase was typed, so its kit is confirmed
    account-wide. A phrase replaced since is ``phrase_replaced``. Returns the new record and
    the recovery keys (for re-wrapping older envelopes to the new device; drop them afterwards).
    ``device_name``: the device's name in the account (default: the identity's name)."""
    return await recover_with_secret(client, secret_from_phrase(phrase), known=known, now=now,
                                     device_name=device_name)


async def recover_with_secret(client: GatewayClient, secret: bytes, *, known: AccountRecord | None = None,
                              now: int | None = None, stale: MeshKitError | None = None,
                              device_name: str | None = None) -> tuple[AccountRecord, RecoveryKeys]:
    """recover_account from the recovery secret itself, however it was obtained (typed as the
    phrase, or unwrapped with a passkey: clients/passkeys.py). A secret that is not the account's current one is
    ``stale`` (default: phrase_replaced, or bad_phrase for another account's), before anything
    changes."""
    if device_name is not None:
        check_name(device_name)
    now = int(time.time()) if now is None else now
    keys = await derive_recovery_keys(client.backend, secret)
    latest = await _account_of_phrase(client, keys, known)
    if not latest.is_phrase(keys):
        raise stale or await _phrase_error(client, latest, keys)
    cert = await _consented_cert(client, latest.id, signer_id=latest.id, signer_private=keys.root_private, now=now,
                                 device_name=device_name)
    devices = [d for d in latest.devices if d.id != cert.id] + [cert]
    record = await make_account_record(client.backend, name=latest.name, root_key=latest.root_key,
                                       recovery_key=latest.recovery_key, version=latest.version + 1, prev=latest,
                                       devices=devices, removed=[r for r in latest.removed if r != cert.id],
                                       created=latest.created, signer_id=latest.id,
                                       signer_private=keys.root_private, kit=True)
    await client.publish()
    await client.publish_account(record)
    return record, keys


CONFIRM_TRIES = 3  # a confirmation racing another change of the account reads it again


async def confirm_kit(client: GatewayClient, latest: AccountRecord, phrase: str) -> AccountRecord:
    """The user typed the phrase back: once it is the account's current phrase, a record
    signed by the phrase's own root marks the kit confirmed for every device (FORMAT.md
    11.7). Nothing about the phrase is stored: the account's public keys are the check.
    ``bad_phrase`` / ``phrase_replaced`` otherwise, and nothing changes."""
    keys = await derive_recovery_keys(client.backend, secret_from_phrase(phrase))
    for attempt in range(CONFIRM_TRIES):
        if not latest.is_phrase(keys):
            raise await _phrase_error(client, latest, keys)
        if latest.kit:
            return latest
        record = await make_account_record(client.backend, name=latest.name, root_key=latest.root_key,
                                           recovery_key=latest.recovery_key, version=latest.version + 1,
                                           prev=latest, devices=list(latest.devices), removed=list(latest.removed),
                                           created=latest.created, signer_id=latest.id,
                                           signer_private=keys.root_private, kit=True)
        try:
            await client.publish_account(record)
            return record
        except ConflictError:
            if attempt == CONFIRM_TRIES - 1:
                raise
            latest = await client.fetch_account(latest.id, known=latest)
    raise ConflictError("the account kept changing: try again")


async def drop_recovery_wraps(client: GatewayClient, record: AccountRecord) -> None:
    """The one place a phrase rotation drops the account-side wraps of the old secret: the
    passkeys' (clients/passkeys.py; they must be added again). A failure is logged and stops
    nothing: the new phrase is in force already, and a stale wrap recovers nothing (passkey_stale)."""
    try:
        await drop_passkeys(client)
    except MeshKitError as exc:
        log.warning("new recovery phrase: the old phrase's passkey wraps were not dropped (%s)", exc.code)


@dataclass(frozen=True)
class NewPhrase:
    """new_recovery_phrase's answer: ``phrase`` is shown once and kept nowhere."""
    phrase: str
    record: AccountRecord
    rewrapped: int     # library envelopes the new phrase opens through a capsule made now
    library: bool      # the library was sealed again to the new recovery key

    def __repr__(self) -> str:
        return f"<NewPhrase {self.record.id} v{self.record.version}>"


async def new_recovery_phrase(client: GatewayClient, latest: AccountRecord) -> NewPhrase:
    """Replace the account's recovery phrase from one of its devices (FORMAT.md 11.7): a new
    secret, whose keys the next account record lists (signed by this ``can_add`` device; the
    kit starts unconfirmed); then every envelope of the library is given to the new recovery
    key and the library sealed again to the current recipients, so the new phrase restores
    it and the old key is not among the new parts' recipients. The old phrase then signs
    nothing and recovers nothing (``phrase_replaced``); what was sealed to its key in a
    header stays openable by it. The record is published before anything else changes: a
    failure after it still returns the phrase (the account's from then on)."""
    own = latest.device(client.identity.id)
    if own is None or not own.can_add:
        raise AccountChainError("this device may not change the account")
    secret = await client.backend.random_bytes(32)
    keys = await derive_recovery_keys(client.backend, secret)
    if latest.current_pq_recovery_key is not None and keys.pq_key is None:  # never a classic one in its place
        raise UnsupportedError("this browser cannot make a post-quantum (X-Wing) recovery key, and this account's "
                               "recovery key is one: make the new phrase on a device of the account that can "
                               "(Chromium, or the CLI linked as a device)")
    record = await make_account_record(client.backend, name=latest.name, root_key=latest.root_key,
                                       recovery_key=latest.recovery_key, version=latest.version + 1, prev=latest,
                                       devices=list(latest.devices), removed=list(latest.removed),
                                       created=latest.created, signer_id=client.identity.id,
                                       signer_private=client.identity.sig_private,
                                       phrase=(keys.root_key, keys.recovery_key, keys.pq_key), kit=False)
    del keys
    await client.publish_account(record)
    rewrapped, sealed = 0, True
    try:
        rewrapped = await rewrap_library(client, record, record.recovery_identity())
    except MeshKitError as exc:  # the next fold of any device seals it to the new key
        log.warning("new recovery phrase: the library was not sealed again yet (%s)", exc.code)
        sealed = False
    await drop_recovery_wraps(client, record)
    return NewPhrase(phrase_from_secret(secret), record, rewrapped, sealed)


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
    gone = added_through(latest, gone, keep=client.identity.id)  # and what they added (a thief's own devices)
    remaining = [d for d in latest.devices if d.id not in gone]
    if not remaining:
        raise AccountChainError("an account keeps at least one device")
    if keys is not None:
        if not latest.is_phrase(keys):
            raise await _phrase_error(client, latest, keys)
        signer_id, signer_private = latest.id, keys.root_private
    else:
        own = latest.device(client.identity.id)
        if own is None or not own.can_add or client.identity.id in gone:
            raise AccountChainError("this device may not change the account: use the recovery phrase")
        signer_id, signer_private = client.identity.id, client.identity.sig_private
    record = await make_account_record(client.backend, name=latest.name, root_key=latest.root_key,
                                       recovery_key=latest.recovery_key, version=latest.version + 1, prev=latest,
                                       devices=remaining, removed=sorted(set(latest.removed) | gone),
                                       created=latest.created, signer_id=signer_id, signer_private=signer_private)
    await _fold_library_before_removal(client, latest, record)
    await client.publish_account(record)
    return record


async def _fold_library_before_removal(client: GatewayClient, latest: AccountRecord, record: AccountRecord) -> None:
    """Seal the library whole, to the devices that stay, while what the leaving devices
    sealed still counts: afterwards a part sealed by a removed device is ignored (a thief's
    device keeps its keys). Never in the way of the removal itself."""
    try:
        if (await _library_pointer(client))[2]:
            await save_library(client, latest, lambda lib: None, compact=True, recipients=account_recipients(record))
    except MeshKitError as exc:
        log.warning("removing devices: the library was not sealed again (%s)", exc.code)


def recovery_identity(record: AccountRecord, keys: RecoveryKeys) -> Identity:
    """The recovery key as an identity that can open what was sealed to the account: its
    X-Wing key too when the record lists the one the phrase derives (FORMAT.md 11.1)."""
    public = record.recovery_identity()
    pq = keys.pq_private if public.pq_key and public.pq_key == keys.pq_key else None
    return Identity(public, keys.root_private, keys.recovery_private, pq)


def account_recipients(record: AccountRecord) -> list[PublicIdentity]:
    """Seal or share to an account: its current devices and its recovery key."""
    return record.recipients()


def seal_recipients(chosen: "list[Reach]", own_account: AccountRecord | None) -> list[PublicIdentity]:
    """Whom a seal wraps its content key to, the one rule of the CLI, the Python API and the
    browser: everyone each chosen ``Reach`` names (a person with an account: each current
    device and its recovery key) and, when the sender is a device of an account, every device
    of that account and its recovery key, so losing one device loses no file. Each once."""
    from ..core.recipients import distinct
    mine = account_recipients(own_account) if own_account is not None else []
    return distinct([public for reach in chosen for public in reach.identities] + mine)


async def remember_sealed(client: GatewayClient, record: AccountRecord, root: str, name: str, size: int) -> bool:
    """Put a sealed envelope in the account's library (for its other devices and a recovery);
    False when that did not land. The seal stands either way: its upload succeeded."""
    now = int(time.time())
    try:
        await save_library(client, record, lambda library: library.put(
            f"envelope:{root}", {"name": name, "size": size, "created": now}, now))
    except (ConflictError, UnavailableError, QuotaExceededError) as exc:
        log.warning("sealed %s, but not in the account's library yet (%s)", root, exc.code)
        return False
    return True


async def forget_envelope(client: GatewayClient, record: AccountRecord, root: str) -> bool:
    """Take an envelope out of the account's library, with the shares of it the library
    kept: removals (tombstones), so every device drops them and no older write or inbox
    notice brings them back. False when that did not land (the caller may try again)."""
    try:
        library, _ = await load_library(client, record)
        keys = [f"envelope:{root}"] + [f"{kind}:{capsule}" for kind in ("share", "link")
                                       for capsule, value in library.items(kind).items() if value.get("root") == root]
        if not any(key in library.entries for key in keys):
            return True
        now = int(time.time())

        def edit(changes: Library) -> None:
            for key in keys:
                changes.remove(key, now)
        await save_library(client, record, edit)
    except (ConflictError, UnavailableError, QuotaExceededError) as exc:
        log.warning("%s is still in the account's library (%s)", root, exc.code)
        return False
    return True


async def account_reaching(client: GatewayClient, ident: str, known: KnownAccount | None) -> KnownAccount | None:
    """The account a seal or share to ``ident`` must reach (FORMAT.md 11.6), or None for a
    plain identity: ``ident`` is the account's id, or a device the account certified, current
    or since removed. ``known``: what this client kept for it (a store finds it with
    ``KnownAccount.means``); without it, the gateway's hint is asked and then checked. The
    answer is verified through the chain from ``known`` (never rolled back); the caller keeps
    it. Offline, ``known`` as it was (or None: the identity alone)."""
    try:
        account_id = known.record.id if known is not None else await client.account_of(ident)
        if account_id is None:
            return None
        certified = set(known.certified) if known is not None else set()
        record = await client.fetch_account(account_id, known=known.record if known else None, certified=certified)
    except UnavailableError:
        return known
    found = KnownAccount(record, frozenset(certified))
    if not found.means(ident):  # a lying hint, or an id someone wrote into their removed list
        raise AccountChainError(f"account {account_id} never certified {ident}")
    return found


async def contact_account(client: GatewayClient, device: PublicIdentity, account_id: str,
                          known: KnownAccount | None = None) -> KnownAccount:
    """The account a contact's link or record says ``device`` belongs to, checked through
    the account's chain: it must have certified the device (with the device's consent).
    Kept by the caller, it makes every later seal or share to the device reach the account,
    whatever a gateway says then ("no account" is never believed over it)."""
    certified = set(known.certified) if known is not None else set()
    record = await client.fetch_account(account_id, known=known.record if known else None, certified=certified)
    kept = KnownAccount(record, frozenset(certified)) if record is not None else None
    if kept is None or not kept.means(device.id):
        raise AccountChainError(f"account {account_id} never certified {device.id}: ask for the link again")
    return kept


# --- who a device is: the person (account) behind it -------------------------------------------

PEOPLE_TTL = 300.0     # seconds a device's person (or its having none) is reused
PEOPLE_CACHE = 512     # devices (and accounts) remembered per session
PEOPLE_LOOKUPS = 64    # devices looked up at the gateway per call; more are said unknown this time
PEOPLE_CONCURRENCY = 4


@dataclass(frozen=True)
class Person:
    """The person a device id is: its account, by the account's chain verified here (kept
    against rollback). ``former``: the device was removed from the account since (what it
    sealed or shared before still says who sent it). ``device_name``: its name in the
    account (None for a former device or the account's recovery key)."""
    account: str
    name: str
    fingerprint: str
    device: str
    device_name: str | None = None
    former: bool = False


def person_of(kept: KnownAccount, ident: str) -> Person | None:
    """``ident`` (a device, the account's id or its recovery key) as a person of ``kept``;
    None when the verified chain never certified it."""
    record = kept.record
    if ident in (record.id, recovery_recipient_id(record.id)):
        return Person(record.id, record.name, record.fingerprint, ident)
    cert = record.device(ident)
    if cert is None and ident not in kept.certified:
        return None
    return Person(record.id, record.name, record.fingerprint, ident, cert.device.name if cert else None,
                  former=cert is None)


class People:
    """One resolver, for every runtime, from a device id to its person (``Person``) through
    the VERIFIED account chain (``account_reaching``): never a name the gateway hands over
    unchecked. ``keeper``: where this client keeps the accounts it verified (the CLI's home,
    the browser's IndexedDB; ``known_account(ident)`` and ``save_known_account(kept)``, sync
    or async), so an account is never rolled back; None (a send link's visitor): each chain
    is checked from the gateway's records. ``on_new(kept)``: an account seen for the first
    time. Cached per session (PEOPLE_TTL, at most PEOPLE_CACHE entries)."""

    def __init__(self, keeper=None, on_new=None):
        self.keeper, self._on_new = keeper, on_new
        self._people: dict[str, tuple[Person | None, float]] = {}
        self._accounts: dict[str, tuple[KnownAccount, float]] = {}

    async def reaching(self, client: GatewayClient, ident: str) -> KnownAccount | None:
        """``account_reaching`` from what the keeper kept for ``ident``, kept again after."""
        keeper = self.keeper
        known = await _called(keeper.known_account, ident) if keeper is not None else None
        kept = await account_reaching(client, ident, known)
        if kept is not None and kept != known:
            if keeper is not None:
                await _called(keeper.save_known_account, kept)
            if known is None and self._on_new is not None:
                self._on_new(kept)
        if kept is not None:
            self._remember(self._accounts, kept.record.id, kept)
        return kept

    async def vouched(self, client: GatewayClient, device: PublicIdentity, account_id: str) -> KnownAccount:
        """``contact_account`` (a contact link's or the library's claim that ``device`` is of
        ``account_id``, checked through the chain), from and into the keeper."""
        keeper = self.keeper
        known = await _called(keeper.known_account, account_id) if keeper is not None else None
        kept = await contact_account(client, device, account_id, known)
        if keeper is not None and kept != known:
            await _called(keeper.save_known_account, kept)
        self._remember(self._accounts, kept.record.id, kept)
        self._people.pop(device.id, None)
        return kept

    def _cached(self, ident: str) -> tuple[bool, Person | None]:
        now = time.monotonic()
        hit = self._people.get(ident)
        if hit is not None and now - hit[1] < PEOPLE_TTL:
            return True, hit[0]
        for kept, when in list(self._accounts.values()):  # a device of an account checked meanwhile
            if now - when < PEOPLE_TTL and kept.means(ident):
                return True, person_of(kept, ident)
        return False, None

    @staticmethod
    def _remember(cache: dict, key: str, value) -> None:
        if len(cache) >= PEOPLE_CACHE:
            cache.pop(next(iter(cache)))  # the oldest first
        cache[key] = (value, time.monotonic())

    async def person(self, client: GatewayClient, ident) -> Person | None:
        """The person ``ident`` is (a device id, an account id, ``<account>.recovery``), or
        None: no account, or one whose chain does not check (logged, never raised: a
        hostile gateway's claim shows no name), or offline with nothing kept."""
        if not isinstance(ident, str) or not ident:
            return None
        found, person = self._cached(ident)
        if found:
            return person
        account = ident[:-len(".recovery")] if ident.endswith(".recovery") else ident
        if not is_identity_id(account):
            return None
        try:
            kept = await self.reaching(client, account)
            person = person_of(kept, ident) if kept is not None else None
        except MeshKitError as exc:
            log.info("who %s is stays unsaid: %s", ident, exc.code)
            person = None
        self._remember(self._people, ident, person)
        return person

    async def people(self, client: GatewayClient, idents) -> dict:
        """{ident: Person or None} for each of ``idents``; at most PEOPLE_LOOKUPS of them
        looked up at the gateway per call (the others: None, this time)."""
        wanted = sorted({i for i in idents if isinstance(i, str) and i})
        found, asked = {}, []
        for ident in wanted:
            hit, person = self._cached(ident)
            if hit:
                found[ident] = person
            elif len(asked) < PEOPLE_LOOKUPS:
                asked.append(ident)
            else:
                found[ident] = None
        slots = asyncio.Semaphore(PEOPLE_CONCURRENCY)

        async def one(ident: str) -> None:
            async with slots:
                found[ident] = await self.person(client, ident)
        await asyncio.gather(*(one(ident) for ident in asked))
        return found


def person_fields(person: Person | None, prefix: str, local: PublicIdentity | None = None) -> dict:
    """Who a device is, as answers carry it (camelCase; the kit's dataclasses take them
    through ``types.from_fields``): ``<prefix>Account`` (the account id, verified, or None),
    ``<prefix>Name`` and ``<prefix>Fingerprint`` (the account's; for a device with no
    account, ``local``'s: its name and fingerprint as one of my identities or contacts, else
    None: never a name the gateway gave), ``<prefix>FormerDevice`` (removed from the account
    since). With prefix "": ``account``, ``accountName``, ``accountFingerprint``, ``formerDevice``."""
    keys = ("account", "accountName", "accountFingerprint", "formerDevice") if not prefix else \
        (prefix + "Account", prefix + "Name", prefix + "Fingerprint", prefix + "FormerDevice")
    if person is not None:
        values = (person.account, person.name, person.fingerprint, person.former)
    else:
        values = (None, local.name if local else None, local.fingerprint if local else None, False)
    return dict(zip(keys, values))


async def share_with(client: GatewayClient, root: bytes, reach: Reach, *,
                     expires: int | None = None, policy: str | None = None) -> list:
    """One capsule (and its share proof) per identity ``reach`` names: for an account, each
    current device and its recovery key."""
    return [await client.share(root, public, expires=expires, policy=policy) for public in reach.identities]


async def revoke_from(client: GatewayClient, root: bytes, reach: Reach) -> list[str]:
    """Revoke every share of ``root`` this identity made to anyone ``reach`` ever meant (an
    account's removed devices included). MissingMetadataError when there was none."""
    revoked = []
    for ident in reach.ever:
        try:
            revoked += await client.revoke(root, ident)
        except MissingMetadataError:
            continue
    if not revoked:
        raise MissingMetadataError(f"no active share of {cid_str(root)} to {reach.id}")
    return revoked


MAX_RECOVERY_CAPSULES = 8  # capsules to the recovery key tried per envelope (one per phrase, in practice)


async def _recovery_wrapped(client: GatewayClient, root: bytes, header, recovery: Identity):
    """The wrapped key the current phrase opens: None for the header's own entry, else a
    capsule to the recovery key. After a phrase was replaced, the header's entry (same id)
    may be for the old key: then the capsule new_recovery_phrase gave the new key."""
    entry = next((e for e in header.recipients if e.recipient == recovery.id), None)
    if entry is not None:
        try:
            await unwrap_content_key(client.backend, recovery, entry, header.commitment)
            return None
        except KeyUnwrapError:
            pass  # sealed to a replaced phrase's key
    shares = [s for s in await client.capsules_for(root) if s["recipient"] == recovery.id]
    for share in shares[:MAX_RECOVERY_CAPSULES]:
        wrapped = (await client.release(share["cid"], root, recipient=recovery.id)).wrapped_key
        try:
            await unwrap_content_key(client.backend, recovery, wrapped, header.commitment)
            return wrapped
        except KeyUnwrapError:
            continue  # a capsule to a replaced phrase's key
    raise NotARecipientError(f"{cid_str(root)} was neither sealed nor shared to {recovery.id} "
                             "for the account's current recovery phrase")


async def open_with_recovery(client: GatewayClient, root: bytes, record: AccountRecord, keys: RecoveryKeys):
    """Open what was sealed or shared to the account with its recovery key (the phrase),
    then re-wrap it to ``client``'s device (a capsule to itself), so it opens without the
    phrase from now on. Returns the opened envelope."""
    recovery = recovery_identity(record, keys)
    header = await read_header(client.backend, root, client.get_block)
    wrapped = await _recovery_wrapped(client, root, header, recovery)
    capsule = await make_capsule(client.backend, client.identity, root, client.get_block, client.identity.public,
                                 now=int(time.time()), opener=recovery, wrapped_key=wrapped)
    await client.request("POST", "/v1/capsules", body=capsule.data, content_type="application/cbor")
    return await open_envelope(client.backend, root, client.get_block, recovery, wrapped_key=wrapped)


# --- the library that follows the account ----------------------------------------------------

LIBRARY_SYNC = "library"
# Saves from several devices (or processes) race on the pointer's compare-and-swap; a loser
# reads it again and appends again after a jittered pause that doubles, so many savers spread out.
MAX_MERGE_TRIES = 24     # compare-and-swaps one save tries
SAVE_PAUSE = 0.05        # seconds: the first pause's upper bound (full jitter)
SAVE_PAUSE_MAX = 1.0     # seconds: the largest pause's upper bound
MAX_CHANGES = 32  # change records a pointer lists before a save folds them into a new base
MAX_POINTER_CHANGES = 4 * MAX_CHANGES  # change records a pointer may list at all (FORMAT.md 11.4)
FOLD_TRIES = 3    # a fold that loses this often appends instead (the next save folds)
POINTER_KIND = "library-pointer"


KEPT_KIND = "kept library"
MAX_KEPT_PARTS = 64  # parts a device keeps of what it verified, before it writes them as one


@dataclass
class LibraryState:
    """What this client verified of an account's library: everything merged so far (never
    replaced by what the gateway serves later, only merged with it: a rollback or a dropped
    entry loses nothing seen here), and which sealed parts it merged. With a keeper (the
    client's ``library_keeper``: the CLI's home, the browser's IndexedDB) it outlives the
    process, written as parts so that keeping one edit costs the same at any size."""
    library: Library
    merged: set
    own: set  # library envelopes this device sealed and pinned (unpinned once released)
    kept_parts: int = 0


def _kept_bytes(library: Library, merged: set, own: set) -> bytes:
    return codec.encode({"meshkit": KEPT_KIND, "v": 1, "library": library.to_bytes(),
                         "merged": sorted(merged), "own": sorted(own)})


async def library_state(client: GatewayClient, account: str) -> LibraryState:
    states = client.__dict__.setdefault("_library_states", {})
    if account not in states:
        state = LibraryState(Library(account), set(), set())
        keeper = getattr(client, "library_keeper", None)
        for data in (await keeper.library_parts(account) if keeper is not None else [])[:MAX_ENTRIES]:
            try:
                obj = codec.decode_map(data, KEPT_KIND)
                codec.check_type(obj, KEPT_KIND)
                state.library = merge(state.library, library_from_bytes(codec.field(obj, "library", bytes, KEPT_KIND),
                                                                        account))
                state.merged |= set(codec.field(obj, "merged", list, KEPT_KIND)[:8 * MAX_CHANGES])
                state.own |= set(codec.field(obj, "own", list, KEPT_KIND)[:8 * MAX_CHANGES])
                state.kept_parts += 1
            except MeshKitError as exc:  # a damaged part hides no other
                log.warning("a kept library part does not read (%s): skipped", exc.code)
        if state.kept_parts > MAX_KEPT_PARTS:  # parts appended by runs that never read it: one again
            await keeper.replace_library_parts(account, _kept_bytes(state.library, state.merged, state.own))
            state.kept_parts = 1
        states[account] = state
    return states[account]


async def _keep(client: GatewayClient, state: LibraryState, changes: Library) -> None:
    """Keep ``changes`` (just merged into ``state``) where this client keeps its state."""
    keeper = getattr(client, "library_keeper", None)
    if keeper is None:
        return
    if state.kept_parts >= MAX_KEPT_PARTS:
        await keeper.replace_library_parts(state.library.account, _kept_bytes(state.library, state.merged, state.own))
        state.kept_parts = 1
    else:
        await keeper.add_library_part(state.library.account, _kept_bytes(changes, state.merged, state.own))
        state.kept_parts += 1


async def _library_pointer(client: GatewayClient) -> tuple[bytes | None, list[bytes], int]:
    """(the base, the change records after it, the sync version); (None, [], 0) for none yet.
    FORMAT.md 11.4: a DAG-CBOR pointer, or (written by older clients) a root CID's text."""
    try:
        row = (await client.request("GET", f"/v1/account-sync/{LIBRARY_SYNC}")).json()
    except MissingMetadataError:
        return None, [], 0
    data = codec.b64d(row["data"])
    if not data or not 0xA0 <= data[0] <= 0xB7:  # not a small CBOR map: the older form, a root CID's text
        return parse_cid(data.decode()), [], row["version"]
    obj = codec.decode_map(data, POINTER_KIND)
    codec.check_type(obj, POINTER_KIND)
    changes = codec.field(obj, "changes", list, POINTER_KIND)
    if len(changes) > MAX_POINTER_CHANGES:
        raise LimitExceededError("a library pointer lists too many change records")
    base = obj.get("base")
    return (parse_cid(base) if base is not None else None), [parse_cid(c) for c in changes], row["version"]


def _pointer_bytes(base: bytes | None, changes: list[bytes]) -> bytes:
    from ..core.cid import to_link
    return codec.encode({"meshkit": POINTER_KIND, "v": 1, "base": to_link(base) if base else None,
                         "changes": [to_link(c) for c in changes]})


async def _read_library(opened, record: AccountRecord) -> Library:
    return library_from_bytes(b"".join([chunk async for chunk in opened.plaintext()]), record.id)


async def _merge_parts(client: GatewayClient, record: AccountRecord, parts: list[bytes], opener=None,
                       senders: set | None = None) -> LibraryState:
    """Merge the library parts not merged before into this client's state. A part counts
    only if a device of the account (by its verified record: ``senders``, else its current
    devices) sealed it: anyone can seal to an account, its keys are public."""
    state = await library_state(client, record.id)
    allowed = senders or {d.id for d in record.devices}
    new = Library(record.id)
    for root in parts:
        name = cid_str(root)
        if name in state.merged:
            continue
        opened = await (opener or client.open)(root)
        if opened.header.sender_id not in allowed:
            log.warning("library part %s was sealed by %s, not a device of the account: ignored", name,
                        opened.header.sender_id)
        else:
            new = merge(new, await _read_library(opened, record))
            if client.identity is not None and opened.header.sender_id == client.identity.id:
                state.own.add(name)  # sealed (and pinned) here, maybe by an earlier process: released at a fold
        state.merged.add(name)
    state.merged &= {cid_str(r) for r in parts} | state.own
    if new.entries or new.tombstones:
        state.library = merge(state.library, new)
        await _keep(client, state, new)
    return state


async def load_library(client: GatewayClient, record: AccountRecord, opener=None,
                       senders: set | None = None) -> tuple[Library, int]:
    """(the account's library, the sync version it was read at); empty at version 0."""
    base, changes, version = await _library_pointer(client)
    state = await _merge_parts(client, record, ([base] if base else []) + changes, opener, senders)
    return merge(state.library, Library(record.id)), version


async def save_library(client: GatewayClient, record: AccountRecord, edit,
                       start: tuple[Library, int] | None = None, load=None, *, compact: bool = False,
                       recipients: list | None = None, opener=None, senders: set | None = None
                       ) -> tuple[Library, int]:
    """Apply ``edit(changes)`` and store the changes as one small change record sealed to the
    account's current recipients, appended to the library pointer with compare-and-swap: one
    edit reads, seals and keeps only the changes, whatever the library's size. Every
    MAX_CHANGES records (or with ``compact``: after a device joined or left) the whole
    library is sealed again as a new base, and the parts it replaces are released. A
    concurrent save by another device only means appending again. Returns (the library as
    this client knows it, or only the changes when it has not read it; the version stored).
    ``start`` and ``load`` are accepted for older callers (the state is this client's)."""
    recipients = recipients or account_recipients(record)
    changes = Library(record.id)
    edit(changes)
    # sealed once, before waiting for a turn: a change record does not depend on the pointer,
    # so a lost compare-and-swap costs two small requests, not an upload
    change = None if compact else await client.seal_upload([changes.to_bytes()], recipients=recipients)
    async with client.__dict__.setdefault("_library_turn", asyncio.Lock()):  # a device does not race itself
        return await _append_change(client, record, changes, change, recipients, opener, senders)


async def _append_change(client: GatewayClient, record: AccountRecord, changes: Library, change: bytes | None,
                         recipients: list, opener, senders) -> tuple[Library, int]:
    """The compare-and-swap loop of save_library: read the pointer, append ``change`` (or fold
    the library into a new base, sealed now), write; on `conflict` wait a jittered, growing
    pause and go again. Bounded in tries; a fold that keeps losing appends instead."""
    for attempt in range(MAX_MERGE_TRIES):
        base, parts, version = await _library_pointer(client)
        if change is not None and change in parts:  # our write landed; its reply was lost
            return await _saved(client, record.id, changes, cid_str(change), None), version
        folding = change is None or len(parts) >= MAX_POINTER_CHANGES or (
            len(parts) >= MAX_CHANGES and attempt < FOLD_TRIES)
        state = None
        if folding:  # only a new base needs the whole library; an appended change needs none of it
            state = await _merge_parts(client, record, ([base] if base else []) + parts, opener, senders)
            root = await client.seal_upload([merge(state.library, changes).to_bytes()], recipients=recipients)
            pointer = _pointer_bytes(root, [])
        else:
            root, pointer = change, _pointer_bytes(base, parts + [change])
        try:
            stored = (await client.request("PUT", f"/v1/account-sync/{LIBRARY_SYNC}", json_body={
                "version": version, "data": codec.b64e(pointer)})).json()
        except ConflictError:
            # a fold whose write landed but whose reply was lost reads as a conflict on the resend:
            # its base is released only if the pointer does not name it
            if folding and (await _library_pointer(client))[0] != root:
                await _release(client, None, {cid_str(root)})
            await asyncio.sleep(random.uniform(0, min(SAVE_PAUSE_MAX, SAVE_PAUSE * 2 ** attempt)))
            continue
        if change is not None and root != change:  # folded in: the change record is not needed
            await _release(client, None, {cid_str(change)})
        return await _saved(client, record.id, changes, cid_str(root), state), stored["version"]
    if change is not None:
        await _release(client, None, {cid_str(change)})
    raise ConflictError("the library kept changing on other devices: try again")


async def _saved(client: GatewayClient, account: str, changes: Library, root: str,
                 folded: LibraryState | None) -> Library:
    """After a write landed: remember it, release what a new base replaced; the library as
    this client knows it (only the changes when it has not read it)."""
    known = await _remember_saved(client, account, changes, root)
    if folded is not None:
        await _release(client, folded, folded.own - {root})
    return merge(known.library, Library(account)) if known else changes


async def _remember_saved(client: GatewayClient, account: str, changes: Library, root: str) -> LibraryState | None:
    """What this client just stored: merged into its state if it has read it, and kept (as
    one more part) where it keeps its state either way; the state, or None when unread."""
    state = client.__dict__.get("_library_states", {}).get(account)
    if state is not None:
        state.library = merge(state.library, changes)
        state.merged.add(root)
        state.own.add(root)
    keeper = getattr(client, "library_keeper", None)
    if state is not None:
        await _keep(client, state, changes)
    elif keeper is not None:
        await keeper.add_library_part(account, _kept_bytes(changes, {root}, {root}))
    return state


async def _release(client: GatewayClient, state: LibraryState | None, roots: set) -> None:
    """Unpin library envelopes this device sealed that no pointer lists any more."""
    for name in sorted(roots):
        try:
            await client.request("DELETE", f"/v1/pins/{name}")
        except MissingMetadataError:
            pass
        except MeshKitError as exc:
            log.info("library: %s stays pinned for now (%s)", name, exc.code)
            continue
        if state is not None:
            state.own.discard(name)
            state.merged.discard(name)


def _library_roots(library: Library) -> list[str]:
    """Every envelope the account can open: its own, and those shared with it."""
    roots = list(library.items("envelope"))
    roots += [share["root"] for share in library.items("share").values()
              if isinstance(share.get("root"), str) and share["root"] not in roots]
    return roots


MAX_REMEMBERED = 100  # new notices checked and kept per call (each costs a request or two)


async def _notice_checks(client: GatewayClient, record: AccountRecord, row: dict) -> bool:
    """Whether a notice is what it says, checked here rather than believed: a sealed one's
    header is signed by its sender and names this account; a share's capsule is stored for
    this account. (A gateway that lies gets nothing into the library.)"""
    notice, mine = row["share"], {client.identity.id, recovery_recipient_id(record.id)}
    root = parse_cid(notice["root"])
    if row["kind"] == "sealed":
        header = await read_header(client.backend, root, client.get_block)
        return header.sender_id == row.get("sender") and any(e.recipient in mine for e in header.recipients)
    return any(s.get("cid") == notice.get("capsule") and s.get("recipient") in mine
               for s in await client.capsules_for(root))


async def remember_shares(client: GatewayClient, record: AccountRecord, rows: list[dict],
                          start: tuple[Library, int] | None = None, opener=None) -> tuple[Library, int, int]:
    """Keep what inbox ``rows`` announce in the library, so every device (and a recovery)
    finds it: ``share:<capsule>`` for a share, ``share:<root>`` for an envelope sealed to
    the account, each -> {root, sharer, received}. ``start`` as for save_library. Returns
    (the library, its version, how many entries were new), so it is not read again."""
    shares = {}
    for row in rows:
        notice = row.get("share")
        if row.get("kind") in ("share", "sealed") and isinstance(notice, dict) and isinstance(notice.get("root"), str):
            key = notice.get("capsule") if row["kind"] == "share" else notice["root"]
            if isinstance(key, str) and len(key) <= 200:
                shares[key] = row
    library, version = start or await load_library(client, record, opener=opener)
    candidates = [(cid, row) for cid, row in shares.items() if f"share:{cid}" not in library.entries
                  and f"share:{cid}" not in library.tombstones]
    fresh = {}
    for cid, row in sorted(candidates, key=lambda item: item[1].get("created") or 0, reverse=True)[:MAX_REMEMBERED]:
        try:
            if await _notice_checks(client, record, row):
                fresh[cid] = row
        except (UnavailableError, PolicyUnavailableError):
            raise
        except MeshKitError:
            continue  # gone, revoked, or never real: not kept
    if not fresh:
        return library, version, 0
    when = int(time.time())

    def add(lib: Library) -> None:
        for cid, row in fresh.items():
            lib.put(f"share:{cid}", {"root": row["share"]["root"], "sharer": str(row.get("sender", "")),
                                     "received": int(row.get("created") or when)}, when)
    library, version = await save_library(client, record, add, opener=opener)
    return library, version, len(fresh)


async def remember_contact(client: GatewayClient, record: AccountRecord, public: PublicIdentity,
                           account: str | None = None) -> None:
    """Keep a contact in the library, so every device of the account knows them:
    ``contact:<id>`` -> {"record": the signed public record (FORMAT.md 5.1), "account": the
    account this device verified it is a device of, if any (each reader checks it again)}."""
    value = {"record": public.to_bytes(), **({"account": account} if account else {})}
    await save_library(client, record, lambda library: library.put(f"contact:{public.id}", value, int(time.time())))


async def adopt_contacts(client: GatewayClient, library: Library, people: People, *, local: list,
                         taken: set, add) -> list[PublicIdentity]:
    """The library's contacts (another device of the account added them), each kept here
    too with ``add(public)`` (sync or async) unless its id is already a contact or its name
    is taken here (a hint never goes over a local name), and each one's account verified
    through its chain and kept (``people``'s keeper), so this device shows the same account
    fingerprint as the one that added it: the account the library names (the adding device
    checked it), else the gateway's hint, checked. At most PEOPLE_LOOKUPS checked per call.
    Returns the library's contacts."""
    found = await library_contacts(client.backend, library)
    known, claims = {p.id for p in local}, library.items("contact")
    for public in found:
        if public.id not in known and public.name not in taken:
            await _called(add, public)
            known.add(public.id)
    unchecked = [p for p in found if people.keeper is None
                 or await _called(people.keeper.known_account, p.id) is None][:PEOPLE_LOOKUPS]
    for public in unchecked:
        claimed = claims.get(public.id, {}).get("account")
        try:
            if isinstance(claimed, str) and is_identity_id(claimed):
                await people.vouched(client, public, claimed)
            else:
                await people.person(client, public.id)
        except MeshKitError as exc:  # shown without an account; checked again next time
            log.info("contact %s: its account does not check (%s)", public.id, exc.code)
    return found


async def remember_link(client: GatewayClient, record: AccountRecord, root: str, capsule: str, *,
                        opens: int | None, expires: int | None, created: int) -> bool:
    """Keep a send link I made in the library (``link:<capsule>`` -> {root, opens, expires,
    created}), so every device of the account lists it (clients.send_links.list_send_links):
    the gateway cannot tell a link's share from a person's. False when that did not land
    (the link works either way)."""
    try:
        await save_library(client, record, lambda library: library.put(
            f"link:{capsule}", {"root": root, "opens": opens, "expires": expires, "created": created}, created))
    except (ConflictError, UnavailableError, QuotaExceededError) as exc:
        log.warning("send link %s made, but not in the account's library yet (%s)", capsule, exc.code)
        return False
    return True


async def link_capsules(client: GatewayClient, record: AccountRecord | None) -> set[str]:
    """The capsules of the send links the account made (remember_link), so a list of who
    can open a file does not show a link as a person; none for a bare identity."""
    if record is None:
        return set()
    library, _ = await load_library(client, record)
    return set(library.items("link"))


async def library_contacts(backend, library: Library) -> list[PublicIdentity]:
    """The library's contacts, each verified again (self-signed, id from its key); an entry
    that does not verify is skipped, and hides no other."""
    found = []
    for ident, value in library.items("contact").items():
        try:
            public = await record_from_bytes(backend, value["record"])
        except (MeshKitError, KeyError, TypeError):
            continue
        if public.id == ident:
            found.append(public)
    return found


# --- linking a new device (FORMAT.md 11.5) ------------------------------------------------------

LINK_PREFIX = "meshkit-link:"
POLL = 0.2
REWRAP_CONCURRENCY = 8
MAX_OFFERS = 4      # distinct accounts a new device answers per link (an onlooker's among them)
MESSAGES_READ = 64  # link messages read per poll
MAX_LINK_TEXT = 128


def parse_link(link: str) -> tuple[str, bytes]:
    text = str(link).strip()
    if not text.startswith(LINK_PREFIX) or len(text) > MAX_LINK_TEXT:
        raise LinkError("not a MeshKit device link")
    device, _, nonce = text[len(LINK_PREFIX):].partition(".")
    try:
        raw = codec.b64d(nonce)
    except MeshKitError:
        raise LinkError("not a MeshKit device link") from None
    if not is_identity_id(device) or len(raw) != 16:
        raise LinkError("not a MeshKit device link")
    return device, raw


def _link_keys(nonce: bytes) -> tuple[str, bytes]:
    """(the tag that names this link in messages, the key that authenticates them): both
    from the link's nonce, which only the two devices (and whoever saw the link) know. The
    nonce itself never travels through the gateway."""
    tag = codec.b64e(kdf.hkdf(nonce, b"meshkit-web/v1 link-tag", 16))
    return tag, kdf.hkdf(nonce, b"meshkit-web/v1 link-mac", 32)


def _mac(key: bytes, kind: str, fields: dict) -> str:
    text = json.dumps({**fields, "kind": kind}, sort_keys=True, separators=(",", ":")).encode()
    return codec.b64e(hmac.new(key, text, hashlib.sha256).digest())


def link_code(device: PublicIdentity, nonce: bytes, challenge: bytes, account: str, approver: str) -> str:
    """The code both devices show: 6 digits committing to the link, the new device's keys,
    the account it joins, the approving device, and the new device's fresh challenge (sent
    only after the offer named its account, so nobody can search for an account whose code
    collides with another's)."""
    digest = hashlib.sha256(b"meshkit-web/v1 link-code\x00" + nonce + challenge + device.sig_key + device.enc_key
                            + account.encode() + b"\x00" + approver.encode()).digest()
    number = int.from_bytes(digest[:8], "big") % 1_000_000
    return f"{number // 1000:03d} {number % 1000:03d}"


def _same_code(typed, code: str) -> bool:
    return hmac.compare_digest("".join(str(typed or "").split()).encode(), code.replace(" ", "").encode())


@dataclass(frozen=True)
class LinkRequest:
    """What a new device shows: the link, and the short code that finds it (FORMAT.md 11.5.1)."""
    link: str = dataclasses.field(repr=False)  # both find the link's secret: never printed
    code: str = dataclasses.field(repr=False)  # grouped, XXXXX-XXXXX


async def request_link(client: GatewayClient) -> LinkRequest:
    """On the new device: the link to open (or scan) on an existing device, and a short code
    to type there instead (the link sealed under it at the gateway, for LINK_WAIT seconds)."""
    await client.publish()
    nonce = await client.backend.random_bytes(16)
    link = f"{LINK_PREFIX}{client.identity.id}.{codec.b64e(nonce)}"
    code = short_code.code_from_random(await client.backend.random_bytes(short_code.CODE_RANDOM))
    lookup, sealed = await short_code.seal_link(client.backend, code, link)
    await client.request("PUT", f"/v1/link-codes/{lookup}", json_body={"data": codec.b64e(sealed)})
    return LinkRequest(link, short_code.grouped(code))


def parse_link_or_code(text) -> tuple[str, str]:
    """("link", the link) or ("code", the canonical short code): the one place that decides
    which a person gave. Anything else is LinkError."""
    stripped = str(text).strip()
    if stripped.startswith(LINK_PREFIX):
        parse_link(stripped)
        return "link", stripped
    code = short_code.parse_code(stripped) if len(stripped) <= MAX_LINK_TEXT else None
    if code is None:
        raise LinkError("not a MeshKit device link nor a link code (10 letters and digits, as XXXXX-XXXXX)")
    return "code", code


async def resolve_link(client: GatewayClient, link_or_code: str) -> str:
    """The link that ``link_or_code`` is: a code is fetched from the gateway and opened. A
    code that finds nothing (mistyped, expired) or opens nothing is LinkError."""
    kind, value = parse_link_or_code(link_or_code)
    if kind == "link":
        return value
    lookup, _ = short_code.code_keys(value)
    try:
        reply = (await client.request("GET", f"/v1/link-codes/{lookup}")).json()
        data = codec.b64d(str(reply["data"]))
    except MissingMetadataError:
        raise LinkError("no new device shows that code (mistyped, or it expired): check it, or start the "
                        "link again") from None
    except (KeyError, TypeError, ValueError, EnvelopeFormatError):
        raise LinkError("the gateway's answer for that code is malformed") from None
    link = await short_code.open_link(client.backend, value, data)
    parse_link(link)  # what opened is a link, or the code's holder sealed something else
    return link


async def _post(client: GatewayClient, to: str, kind: str, key: bytes, fields: dict) -> None:
    body = json.dumps({**fields, "mac": _mac(key, kind, fields)}).encode()
    await client.request("POST", f"/v1/mailbox/{to}?kind={kind}", body=body)


async def _authentic(client: GatewayClient, kinds: tuple, key: bytes, expect: dict) -> list[tuple[str, dict]]:
    """(kind, fields) of the messages of ``kinds`` that carry a valid MAC under ``key`` and
    every field of ``expect``, newest first. Those are acknowledged; others are left for the
    link they belong to (another link of this device, waiting meanwhile) until they are
    stale. The gateway's sender column is not believed: who a message is from is in its
    authenticated fields."""
    found, stale = [], client.clock.server_now() - 2 * LINK_WAIT  # rows' "created" is the gateway's time
    rows = [row for row in await client.inbox(notices=False, kind=kinds, limit=MESSAGES_READ) if row["kind"] in kinds]
    rows.sort(key=lambda row: row.get("created") or 0, reverse=True)
    for row in rows[:MESSAGES_READ]:
        body = (await client.request("GET", f"/v1/mailbox/{row['id']}")).body
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested past Python's stack: someone's noise
            message = None
        fields = {k: v for k, v in message.items() if k != "mac"} if isinstance(message, dict) else {}
        good = isinstance(message, dict) and isinstance(message.get("mac"), str) and \
            hmac.compare_digest(message["mac"], _mac(key, row["kind"], fields))
        if good or (row.get("created") or 0) < stale or not fields:
            await client.ack(row["id"])
        if good and all(fields.get(k) == v for k, v in expect.items()):
            found.append((row["kind"], fields))
    return found


async def _wait_for(client, kinds: tuple, key, expect, deadline) -> tuple[str, dict]:
    while time.monotonic() < deadline:
        found = await _authentic(client, kinds, key, expect)
        if found:
            return found[0]
        await asyncio.sleep(POLL)
    raise LinkError("the other device did not answer in time: start the link again")


async def _called(callback, *args):
    """A callback's result, awaited if it is awaitable (a coroutine, or a JS Promise)."""
    result = callback(*args)
    return await result if inspect.isawaitable(result) else result


async def approve_link(client: GatewayClient, latest: AccountRecord, link_or_code: str, *, show_code,
                       timeout: float = LINK_WAIT, now: int | None = None) -> AccountRecord:
    """On an existing device: add the device that showed ``link_or_code`` (its link, or its
    short code). ``show_code(code)`` is called with the code the user must type on the new
    device; nothing changes unless the new device then consents (which it does only when
    the typed code matches its own)."""
    device_id, nonce = parse_link(await resolve_link(client, link_or_code))
    if latest.device(device_id) is not None:
        raise LinkError("this link was already used: that device is in the account")
    if device_id in latest.removed:
        raise LinkError("that device was removed from the account; a removed device never comes back")
    own = latest.device(client.identity.id)
    if own is None or not own.can_add:
        raise AccountChainError("this device may not add devices")
    device = await client.resolve(device_id)
    tag, key = _link_keys(nonce)
    deadline = time.monotonic() + timeout
    offer = {"link": tag, "account": latest.id, "approver": client.identity.id}
    await _post(client, device_id, "link-offer", key, offer)
    _, challenge = await _wait_for(client, ("link-challenge",), key, offer, deadline)
    try:
        nonce_b = codec.b64d(str(challenge.get("challenge", "")))
    except MeshKitError:
        raise LinkError("the new device's answer is malformed") from None
    await _called(show_code, link_code(device, nonce, nonce_b, latest.id, client.identity.id))
    kind, answer = await _wait_for(client, ("link-consent", "link-refused"), key,
                                   {**offer, "challenge": challenge["challenge"]}, deadline)
    if kind == "link-refused":
        raise LinkCodeMismatchError("the code typed on the new device was not this one: nothing was changed")
    now = int(time.time()) if now is None else now
    cert = await certify_device(client.backend, account=latest.id, device=device,
                                consent=codec.b64d(str(answer.get("consent", ""))), added=now, can_add=True,
                                signer_id=client.identity.id, signer_private=client.identity.sig_private)
    record = await make_account_record(client.backend, name=latest.name, root_key=latest.root_key,
                                       recovery_key=latest.recovery_key, version=latest.version + 1, prev=latest,
                                       devices=list(latest.devices) + [cert], removed=list(latest.removed),
                                       created=latest.created, signer_id=client.identity.id,
                                       signer_private=client.identity.sig_private)
    await client.publish_account(record)
    kept = await remember_shares(client, record, await client.inbox(include_acked=True))  # the new device gets them
    await rewrap_library(client, record, device, start=kept[:2])
    await _post(client, device_id, "link-done", key, {**offer, "version": record.version})
    return record


async def rewrap_library(client: GatewayClient, record: AccountRecord, device: PublicIdentity,
                         start: tuple[Library, int] | None = None) -> int:
    """Give ``device`` every envelope in the library (a capsule from this device to it) and
    store the library again, sealed to the current devices. Returns how many were given.
    ``start`` as for save_library."""
    library, version = start or await load_library(client, record)
    slots = asyncio.Semaphore(REWRAP_CONCURRENCY)

    async def give(root: str) -> None:
        async with slots:  # a capsule, no share proof: this is the account's own device
            await client.share(parse_cid(root), device, proof=False)
    roots = _library_roots(library)
    # one envelope that no longer opens (a share revoked or expired since) must not stop
    # the others, nor the link: it is skipped, as it is for a recovery
    results = await asyncio.gather(*(give(root) for root in roots), return_exceptions=True)
    failed = [r for r in results if isinstance(r, MeshKitError)]
    if len(failed) < sum(isinstance(r, BaseException) for r in results):
        raise next(r for r in results if isinstance(r, BaseException) and not isinstance(r, MeshKitError))
    if failed:
        log.info("linking: %d of %d envelopes no longer open and were skipped (%s)", len(failed), len(roots),
                 ", ".join(sorted({f.code for f in failed})))
    await save_library(client, record, lambda lib: None, compact=True)  # sealed to the new device too
    return len(roots) - len(failed)


@dataclass
class _Offer:
    record: AccountRecord
    approver: DeviceCert
    challenge: str
    code: str

    def describe(self) -> dict:
        return {"account": self.record.id, "name": self.record.name, "fingerprint": self.record.fingerprint,
                "approver": self.approver.id, "approverName": self.approver.device.name}


async def _collect_offers(client: GatewayClient, nonce: bytes, offers: dict, deadline: float) -> None:
    """Answer each authentic offer (at most MAX_OFFERS accounts) with a fresh challenge, once
    its sender is a ``can_add`` device of the account it names, by that account's chain."""
    tag, key = _link_keys(nonce)
    while time.monotonic() < deadline:
        for _, offer in await _authentic(client, ("link-offer",), key, {"link": tag}):
            pair = (offer.get("account"), offer.get("approver"))
            if len(offers) >= MAX_OFFERS or pair in offers or not all(map(is_identity_id, pair)):
                continue
            try:
                record = await client.fetch_account(pair[0])
            except MeshKitError:
                continue  # no such account, or a chain that does not check: not an offer
            approver = record.device(pair[1]) if record is not None else None
            if approver is None or not approver.can_add:
                continue
            challenge = await client.backend.random_bytes(16)
            offers[pair] = _Offer(record, approver, codec.b64e(challenge),
                                  link_code(client.identity.public, nonce, challenge, *pair))
            await _post(client, pair[1], "link-challenge", key, {"link": tag, "account": pair[0],
                                                                   "approver": pair[1],
                                                                   "challenge": offers[pair].challenge})
        await asyncio.sleep(POLL)


async def wait_for_link(client: GatewayClient, link: str, *, ask_code, timeout: float = LINK_WAIT) -> AccountRecord:
    """On the new device: wait for the approving device, then ``ask_code(offers)`` for the
    code it shows (``offers``: who asked, as {account, name, fingerprint, approver,
    approverName}); consent only to the offer whose code that is, and wait until the
    account lists this device. Returns the account record. A typed code that matches no
    offer is ``link_code_mismatch``, and this device joins nothing."""
    device_id, nonce = parse_link(link)
    if device_id != client.identity.id:
        raise LinkError("this link is for another device")
    tag, key = _link_keys(nonce)
    deadline = time.monotonic() + timeout
    offers: dict = {}
    collecting = asyncio.ensure_future(_collect_offers(client, nonce, offers, deadline))
    try:
        while not offers:
            if collecting.done():
                collecting.result()  # an error while collecting, else the time ran out
                raise LinkError("no device of an account answered in time: start the link again")
            await asyncio.sleep(POLL)
        try:  # the person has until the approving device stops waiting
            typed = await asyncio.wait_for(_called(ask_code, [offer.describe() for offer in offers.values()]),
                                           max(1.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise LinkError("no code was typed in time: start the link again") from None
    finally:
        collecting.cancel()
    chosen = next((offer for offer in list(offers.values()) if _same_code(typed, offer.code)), None)
    for (account, approver), offer in list(offers.items()):  # every other device that offered stops waiting
        if offer is not chosen:
            await _post(client, approver, "link-refused", key, {"link": tag, "account": account, "approver": approver,
                                                                 "challenge": offer.challenge})
    if chosen is None:
        raise LinkCodeMismatchError("that is not the code your other device shows: this device joined nothing")
    record, approver = chosen.record, chosen.approver.id
    consent = await device_consent(client.backend, client.identity.sig_private, record.id, client.identity.id,
                                   client.identity.public.pq_key)
    fields = {"link": tag, "account": record.id, "approver": approver, "challenge": chosen.challenge}
    await _post(client, approver, "link-consent", key, {**fields, "consent": codec.b64e(consent)})
    await _wait_for(client, ("link-done",), key, {"link": tag, "account": record.id, "approver": approver},
                    time.monotonic() + timeout)
    record = await client.fetch_account(record.id, known=record)
    if record.device(client.identity.id) is None:
        raise LinkError("the account does not list this device")
    return record


async def recover_library(client: GatewayClient, record: AccountRecord, keys: RecoveryKeys) -> tuple[Library, int]:
    """After ``recover_account``: open the library and every envelope in it with the recovery
    key, re-wrapping each to this device, and store the library again sealed to the current
    devices. Returns (the library, how many envelopes this device can now open)."""
    async def with_phrase(root: bytes):
        return await open_with_recovery(client, root, record, keys)

    library, version = await load_library(client, record, opener=with_phrase)
    if version == 0:
        return Library(record.id), 0
    # what was shared or sealed to the account that no device kept in the library (the
    # recovery key's own mailbox has a notice of each)
    announced = await client.inbox(include_acked=True, alias=recovery_recipient_id(record.id))
    try:
        library, version, _ = await remember_shares(client, record, announced, start=(library, version),
                                                    opener=with_phrase)
    except LimitExceededError:  # a library full (of others' notices?) still recovers what it holds
        log.warning("recovery: the library is full; notices not added")
    restored = 0
    for root in _library_roots(library):
        try:
            await open_with_recovery(client, parse_cid(root), record, keys)
            restored += 1
        except MeshKitError:
            continue  # e.g. a share that was revoked meanwhile: it stays closed
    # a device that has not heard of this one yet may save the library meanwhile (sealed
    # without this device): merged in by opening it with the phrase, as above
    await save_library(client, record, lambda lib: None, compact=True, opener=with_phrase)
    return library, restored
