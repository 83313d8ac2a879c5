"""Account operations over a gateway, the same in every runtime (FORMAT.md section 11).

A device is today's identity (its own keys; non-extractable in the browser). These
functions create an account around a device, recover it on a fresh device from the phrase,
and change its device list; each publishes the new account record and returns it. The
recovery secret and the keys derived from it exist only inside one call, and are never
stored or logged.
"""

import asyncio
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
from ..core.envelope import open_envelope, read_header
from ..core.errors import (ConflictError, LimitExceededError, LinkCodeMismatchError, LinkError,  # noqa: F401
                           MeshKitError, MissingMetadataError, NotARecipientError, PolicyUnavailableError,
                           QuotaExceededError, UnavailableError, UnknownIdentityError)
from ..core.identity import Identity, PublicIdentity, record_from_bytes
from ..core.library import MAX_ENTRIES, Library, library_from_bytes, merge
from ..core.recipients import Reach
from ..core.signing import is_identity_id
from .gateway import GatewayClient

log = logging.getLogger("meshkit.accounts")


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
    gone = added_through(latest, gone, keep=client.identity.id)  # and what they added (a thief's own devices)
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
    """The recovery key as an identity that can open what was sealed to the account."""
    return Identity(record.recovery_identity(), keys.root_private, keys.recovery_private)


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
        keys = [f"envelope:{root}"] + [f"share:{capsule}" for capsule, share in library.items("share").items()
                                       if share.get("root") == root]
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


async def remember_contact(client: GatewayClient, record: AccountRecord, public: PublicIdentity) -> None:
    """Keep a contact in the library, so every device of the account knows them:
    ``contact:<id>`` -> {"record": the signed public record (FORMAT.md 5.1)}."""
    await save_library(client, record, lambda library: library.put(
        f"contact:{public.id}", {"record": public.to_bytes()}, int(time.time())))


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
LINK_WAIT = 120.0  # seconds either side waits for the other
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


async def request_link(client: GatewayClient) -> str:
    """On the new device: the link to open (or scan) on an existing device."""
    await client.publish()
    nonce = await client.backend.random_bytes(16)
    return f"{LINK_PREFIX}{client.identity.id}.{codec.b64e(nonce)}"


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


async def approve_link(client: GatewayClient, latest: AccountRecord, link: str, *, show_code,
                       timeout: float = LINK_WAIT, now: int | None = None) -> AccountRecord:
    """On an existing device: add the device that showed ``link``. ``show_code(code)`` is
    called with the code the user must type on the new device; nothing changes unless the
    new device then consents (which it does only when the typed code matches its own)."""
    device_id, nonce = parse_link(link)
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
    consent = await device_consent(client.backend, client.identity.sig_private, record.id, client.identity.id)
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
