"""What MeshKit's Python API answers: one frozen dataclass per concept, with the same
fields as the browser package's (sdk/index.d.ts), in snake_case. Secrets (a recovery
phrase, a send link) are left out of ``repr``, so printing a result never shows them."""

import os
from dataclasses import dataclass, field, fields
from typing import AsyncIterator, Callable


@dataclass(frozen=True)
class Identity:
    """One of my identities (a device), with its account as last verified here. People
    compare ``account_fingerprint`` (the same on every device of the account, and what a
    contact sees); ``fingerprint`` is this device's own."""
    name: str
    id: str
    fingerprint: str
    account: str | None = None
    account_fingerprint: str | None = None
    account_version: int | None = None
    # "confirmed" (the phrase was typed back on some device of the account), "not confirmed",
    # or "no account"
    recovery_kit: str = "no account"
    # what senders wrap to this device: "x-wing" (post-quantum, ML-KEM-768 + X25519) or "x25519"
    suite: str = "x25519"


@dataclass(frozen=True)
class CreatedIdentity(Identity):
    """``identity.create``: the account's recovery phrase is in this answer only, once."""
    published: bool = True
    recovery_phrase: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class NewRecoveryPhrase(Identity):
    """``identity.new_recovery_phrase``: the new phrase is in this answer only, once."""
    recovery_phrase: str = field(default="", repr=False)
    rewrapped: int = 0            # library envelopes given to the new recovery key
    library_sealed: bool = True   # the library was sealed again to the new recovery key


@dataclass(frozen=True)
class RecoveredIdentity(Identity):
    restored: int = 0  # envelopes of the account's library that open again on this device


@dataclass(frozen=True)
class Contact:
    """Someone else's public record, kept here. Compare ``fingerprint`` (the account's, for
    a device of an account) with them out of band before sharing. ``account``,
    ``account_name``, ``account_fingerprint``: the person (account) the device is, verified
    through the account's chain here; None for a device with no account (or not checked yet)."""
    name: str
    id: str
    fingerprint: str
    account: str | None = None
    account_fingerprint: str | None = None
    account_name: str | None = None


@dataclass(frozen=True)
class Device:
    """A device of an account. ``current``: it is the one this home acts as; ``added_by``:
    the device (or the account's recovery key) that added it; ``removed``: taken out of the
    account (listed with include_removed)."""
    id: str
    name: str
    current: bool
    added: int | None
    added_by: str | None
    added_by_name: str | None = None
    removed: bool = False


@dataclass(frozen=True)
class Sealed:
    """``seal``: the envelope's root CID and whom it was sealed to. ``to``: the ids reached,
    one per ``to=`` given (an account id where it names a person with an account; empty when
    sealed to me only). ``recipients``: how many keys the content key was wrapped to: every
    device of each account and its recovery key (listed by ``access`` as "<account id>.recovery"),
    mine included. ``name``: the name sealed inside ("" for bytes and text without one)."""
    root: str
    name: str
    size: int
    to: tuple[str, ...]
    recipients: int
    in_library: bool | None  # in my account's library (for my other devices, a recovery); None: no account


@dataclass(frozen=True)
class Described:
    """What an envelope is, from its verified header and sealed metadata. ``name`` is the
    sender's text (less control and bidi characters): show it, never use it as a path
    (``save_name``, ``Opened.save_into``). ``sender``: the id of the device that sealed it;
    who that is: ``sender_account`` (the person's account, verified through its chain here),
    ``sender_name`` and ``sender_fingerprint`` (the account's; for a device with no account,
    its name and fingerprint as one of mine or a contact's; else None),
    ``sender_former_device`` (a device removed from the account since). ``opens_left``: what
    a limited share (a send link) has left, None for no limit; ``expires``: until when the
    share it was described through opens (None: no expiry, or not through a share)."""
    root: str
    name: str
    type: str
    size: int
    mtime: int | None
    sender: str
    sender_name: str | None
    opens_left: int | None = None
    sender_account: str | None = None
    sender_fingerprint: str | None = None
    sender_former_device: bool = False
    expires: int | None = None

    @property
    def save_name(self) -> str:
        """The sender's file name made safe to save under (no folders, no control or bidi
        characters, no device names): the browser package's ``saveName``."""
        from ..core.metadata import safe_filename
        return safe_filename(self.name, fallback=self.root + ".bin")


@dataclass(frozen=True)
class Opened(Described):
    """An envelope opened for reading. Its plaintext comes one authenticated segment at a
    time: ``chunks()``; ``read()`` for all of it (up to ``limit`` bytes); ``save(path)``
    writes a file only once every byte authenticated."""
    _plaintext: Callable[[], AsyncIterator[bytes]] = field(default=None, repr=False, compare=False)
    _close: Callable = field(default=None, repr=False, compare=False)

    def chunks(self) -> AsyncIterator[bytes]:
        return self._plaintext()

    async def read(self, limit: int = 256 << 20) -> bytes:
        """All of the plaintext (of the range opened), held in memory: refused
        (invalid_argument) over ``limit`` bytes, 256 MiB by default."""
        from ..core.errors import InvalidArgumentError
        if self.size > limit:
            raise InvalidArgumentError(f"{self.size} bytes is more than read() holds here ({limit}): use chunks(), "
                                       "save() or read(limit=...)")
        return b"".join([chunk async for chunk in self.chunks()])

    async def save(self, path, *, overwrite: bool = False) -> str:
        """Write the plaintext to ``path`` (a temp file beside it, moved there once every
        segment authenticated); never over an existing file unless ``overwrite``. ``path``
        is yours: never build it from ``name`` (the sender's text), use ``save_into``."""
        from .files import write_verified
        return await write_verified(self.chunks(), os.fspath(path), replace=overwrite)

    async def save_into(self, folder) -> str:
        """Save in ``folder`` under ``save_name`` (the sender's name made safe), or
        "name (2).ext", "name (3).ext"... when taken; never elsewhere, never over a file."""
        from .files import write_new_in
        return await write_new_in(self.chunks(), os.fspath(folder), self.save_name)


@dataclass(frozen=True)
class Share:
    """``share``: the capsules made (one per device of an account, and its recovery key)."""
    root: str
    to: str                  # the id reached: a person's account, or the identity
    name: str
    account: bool
    capsules: tuple[str, ...]
    expires: int | None


@dataclass(frozen=True)
class AccessEntry:
    """A header recipient: ``name`` as one of mine or a contact's; ``account``,
    ``account_name``, ``account_fingerprint``: the person it is (a device or the recovery
    key of that account, verified through its chain here: group by ``account``);
    ``former_device``: removed from the account since; ``suite``: what its entry is wrapped
    with, "x-wing" (post-quantum) or "x25519"."""
    id: str
    name: str | None
    account: str | None = None
    account_name: str | None = None
    account_fingerprint: str | None = None
    former_device: bool = False
    suite: str = "x25519"


@dataclass(frozen=True)
class ShareState:
    """A share I made, to ``to`` (with its person, as ``AccessEntry``)."""
    capsule: str
    to: str
    name: str | None
    expires: int | None
    state: str  # "live" | "expired" | "used_up" | "revoked"
    link: bool = False  # a send link's share (no person): kept so in the account's library
    account: str | None = None
    account_name: str | None = None
    account_fingerprint: str | None = None
    former_device: bool = False


@dataclass(frozen=True)
class Access:
    """Who can open an envelope: its header recipients (for good) and the shares I made."""
    recipients: tuple[AccessEntry, ...]
    shares: tuple[ShareState, ...]


def suite_of(kem: int) -> str:
    """An HPKE KEM id as answers name it: "x-wing" (0x647A) or "x25519" (0x0020)."""
    from ..core.hpke import suite_name
    return suite_name(kem)


@dataclass(frozen=True)
class RecipientSuite:
    """A header recipient and the suite its entry is wrapped with ("x-wing" or "x25519")."""
    id: str
    suite: str


@dataclass(frozen=True)
class Rewrapped:
    """``rewrap``: the new root (same segments, entries wrapped again, signed by you) that
    replaces ``replaced`` in the library, and each recipient's suite in it."""
    root: str
    replaced: str
    recipients: tuple[RecipientSuite, ...]


@dataclass(frozen=True)
class LinkRequest:
    """What a new device shows (devices.request_link): the link, or the short code a device
    of the account types instead (grouped ``XXXXX-XXXXX``; it finds the link for 2 minutes)."""
    link: str = field(repr=False)
    code: str = field(repr=False)


@dataclass(frozen=True)
class SendLink:
    """A link that opens one envelope for whoever holds it (its secret is in the #fragment)."""
    link: str = field(repr=False)
    capsule: str = ""
    root: str = ""
    expires: int | None = None
    opens: int | None = None


@dataclass(frozen=True)
class SendLinkState:
    """A send link I made (``send_links.list``): ``opens`` allowed (None: no limit),
    ``opens_used`` (None: not counted, for a link without a limit), ``state`` "live" |
    "used_up" | "expired" | "revoked", ``created`` (the gateway's time)."""
    capsule: str
    root: str
    expires: int | None
    opens: int | None
    opens_used: int | None
    state: str
    created: int | None


@dataclass(frozen=True)
class InboxMessage:
    """A message in an identity's mailbox, its sender proven: a "share" (``root`` opens for me
    now, until ``expires``, under ``policy``) or a "sealed" notice (``root`` was sealed with me
    as a recipient); other kinds are app messages (``kit.messages``). ``size``: the message's
    own bytes, not the file's (``describe(root)`` tells the file). ``acked``: acknowledged.
    Who sent it: as ``Described`` (``sender_name``: the person's name, their account's when
    ``sender_account`` is set)."""
    id: str
    kind: str
    sender: str
    sender_name: str | None
    created: int
    size: int
    acked: bool
    root: str | None = None        # a share's or a sealed notice's envelope
    capsule: str | None = None
    expires: int | None = None
    policy: str | None = None
    sender_account: str | None = None
    sender_fingerprint: str | None = None
    sender_former_device: bool = False


@dataclass(frozen=True)
class Proof:
    """A signed proof, verified here: who sealed ``root`` (statement "sealed") or shared it
    with whom until when ("shared"). ``data``: its bytes, verifiable anywhere."""
    cid: str
    statement: str
    root: str
    signer: str
    time: int
    recipient: str | None
    capsule: str | None
    expires: int | None
    data: bytes = field(repr=False, default=b"")


@dataclass(frozen=True)
class SentMessage:
    cid: str
    kind: str
    to: str
    account: bool
    created: int
    size: int
    posted: tuple = ()       # ({"device", "id"}, ...): each mailbox that took it
    failed: tuple = ()       # ({"device", "code"}, ...)


@dataclass(frozen=True)
class Message:
    """An app message, verified: ``data`` (and ``text`` if sent as text) once read."""
    id: str
    cid: str
    kind: str
    sender: str
    created: int
    size: int
    to: str | None
    type: str                 # "text" | "bytes"
    acked: bool
    received: int | None = None
    sender_account: str | None = None
    data: bytes | None = field(default=None, repr=False)
    text: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Record:
    """An app record (sync state), verified: the newest version this client accepted."""
    name: str
    version: int
    type: str
    updated_by: str
    updated_by_name: str | None
    updated: int
    cid: str
    size: int
    data: bytes | None = field(default=None, repr=False)
    text: str | None = field(default=None, repr=False)


def from_fields(cls, values: dict):
    """``cls`` from a dict of the browser API's shape (camelCase keys as JS has them)."""
    names = {f.name for f in fields(cls)}
    snake = {_snake(k): v for k, v in values.items()}
    return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in snake.items() if k in names})


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


@dataclass(frozen=True)
class LibraryShare:
    """Something shared with the account, as its library keeps it (for every device); who
    shared it as ``Described`` says a sender (``sharer_account``, ``sharer_name``, ...)."""
    root: str
    capsule: str
    sharer: str | None
    sharer_name: str | None
    received: int | None
    sharer_account: str | None = None
    sharer_fingerprint: str | None = None
    sharer_former_device: bool = False


@dataclass(frozen=True)
class Library:
    """An account's library, the same on every device: the envelopes its devices sealed,
    what was shared with it, and its contacts."""
    envelopes: tuple
    shares: tuple
    contacts: tuple


@dataclass(frozen=True)
class EnvelopeEntry:
    """An envelope in my account's library (sealed by any of its devices)."""
    root: str
    name: str
    size: int
    created: int | None



@dataclass(frozen=True)
class Usage:
    """What an identity stores at its gateway against its two quotas (bytes): ``stored`` of
    ``storage_quota`` (blocks it put or pins, and not yet collected, messages, records),
    ``pinned`` of ``pin_quota`` (the envelopes it pins). An unpinned block counts
    ``gc_grace`` seconds more, unless released (``delete``)."""
    stored: int
    storage_quota: int
    pinned: int
    pin_quota: int
    gc_grace: int | None = None


@dataclass(frozen=True)
class Deleted:
    """``delete``: ``unpinned`` (False: I had no pin on it), ``in_library`` (it left my
    account's library on every device; None: no account; False: not yet), the shares and
    send links (capsules) revoked, and the bytes of my storage quota given back at once."""
    root: str
    unpinned: bool
    in_library: bool | None
    revoked: tuple[str, ...]
    released: int
