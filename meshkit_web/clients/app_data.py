"""App messages and app records (FORMAT.md section 12): the product model's mailbox and
sync records as public API for apps, the same in every runtime (the browser's
``browser/app_data_api.py``, the CLI or any CPython program).

**Messages.** A message is a CARv1 holding one ordinary envelope (section 3), posted as the
body of a mailbox message (``POST /v1/mailbox/<device>?kind=app-...``) to every current
device of the recipient's account (or to the one identity). Its plaintext is a small
DAG-CBOR map binding the app's kind, the id the sender addressed and the data; the
envelope's signed header proves the sender and names the recipients. A reader shows a
message only when it verifies here: the CAR holds exactly the envelope, every block matches
its CID, the header is signed by the sender it names, this identity is a recipient, and the
gateway's labels (kind, sender) agree with the signed ones. What does not verify is never
shown (counted and logged). A message this client acknowledged is remembered by its CID
(bounded, with a horizon), so a gateway that serves it again, under any id, shows nothing.

**Records.** An app record is the account-wide sync record ``app.<name>`` (compare-and-swap
at the gateway) whose data is a CARv1 of one envelope sealed to the account's current
devices and its recovery key, signed by the writing device. Its plaintext binds the
account, the name and the version. A reader accepts it only when its signer is a current
device of the account (by the account record the reader verified itself), its name and
account are the ones asked for, its signed version is the gateway's version, and it is not
older than the newest version this client accepted (kept per account and name: IndexedDB
in the browser, the home folder or memory on CPython).

Nothing here trusts the gateway for more than availability.
"""

import hashlib
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import quote

from ..core import car, codec
from ..core.account import AccountRecord
from ..core.cid import DAG_CBOR, cid_str, is_supported
from ..core.envelope import Header, open_envelope, read_header, seal
from ..core.errors import (AccountChainError, AccountRollbackError, ConflictError, EnvelopeFormatError,
                           IdentityMismatchError, InvalidArgumentError, LimitExceededError, MeshKitError,
                           MissingBlockError, MissingMetadataError, PolicyUnavailableError, UnavailableError)
from ..core.identity import Identity, PublicIdentity
from ..core.recipients import Reach, resolve_reach

log = logging.getLogger("meshkit.app_data")

MESSAGE_KIND = "message"        # the plaintext map's "meshkit" value (FORMAT.md 12.1)
RECORD_KIND = "app-record"      # (FORMAT.md 12.3)
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,31}$")      # any mailbox kind the gateway takes
APP_KIND = re.compile(r"^app-[a-z0-9][a-z0-9-]{0,27}$")  # the kinds apps send and read
DEFAULT_KIND = "app-message"
MAX_KINDS = 8                   # kinds one listing may ask for (the gateway's bound)
MAX_MESSAGE_DATA = 48 << 10     # bytes of data one message carries
MAX_MESSAGE_SIZE = 64 << 10     # the whole CAR: what the gateway takes by default (max_message_size)
LIST_DEFAULT = 100              # messages one listing returns by default ...
LIST_MAX = 500                  # ... and at most
LIST_SCAN = 1000                # listing rows read to find app messages among others (no kind given)
LIST_BYTES = 8 << 20            # message bytes one listing fetches at most
MAX_ACKED = 2048                # acknowledged message CIDs remembered per identity
ACK_SLACK = 86400               # seconds: a kept "created" is never later than a day from now
MAX_CACHED = 4096               # verified messages remembered per client (by gateway id)

RECORD_PREFIX = "app."          # sync record names of app records: never MeshKit's own ("library")
RECORD_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_RECORD_DATA = 256 << 10     # bytes of data one record holds
MAX_RECORD_SIZE = 384 << 10     # the whole CAR (a sync record holds at most 768 KiB)
MAX_VERSION = (1 << 31) - 1     # the gateway's sync versions are 32-bit


# --- data in, data out ---------------------------------------------------------------------

def payload(data) -> tuple[bytes, bool]:
    """(the bytes, whether they are text): a str is sent as UTF-8 and read back as a str."""
    if isinstance(data, str):
        try:
            return data.encode("utf-8"), True
        except UnicodeEncodeError:
            raise InvalidArgumentError("the text is not valid Unicode (a lone surrogate)") from None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data), False
    raise InvalidArgumentError("data is bytes or a string")


def check_kind(kind) -> str:
    kind = DEFAULT_KIND if kind in (None, "") else kind
    if not isinstance(kind, str) or not APP_KIND.fullmatch(kind):
        raise InvalidArgumentError("a message kind is 'app-' and then 1-28 lower-case letters, digits or dashes "
                                   "(e.g. app-chat): MeshKit's own kinds (share, sealed, link-...) are not for apps")
    return kind


def check_name(name) -> str:
    if not isinstance(name, str) or not RECORD_NAME.fullmatch(name):
        raise InvalidArgumentError("a record name is 1-64 lower-case letters, digits, '.', '_' or '-', starting "
                                   "with a letter or digit")
    return name


# --- the formats (FORMAT.md 12.1, 12.3): pure, no network ------------------------------------

def car_bytes(root: bytes, blocks: list) -> bytes:
    """A CARv1 of ``blocks`` (Core's Block list, the root among them), the root's frame first."""
    ordered = sorted(blocks, key=lambda b: b.cid != root)  # stable: the root, then the rest in order
    return car.encode([root], ((block.cid, block.data) for block in ordered))


def read_car(data: bytes, limit: int) -> tuple[bytes, dict]:
    """(the single root, {cid: block}) of a small CARv1, bounded by ``limit`` bytes. Blocks
    are not checked against their CIDs here: the opener does, before decrypting."""
    if len(data) > limit:
        raise LimitExceededError(f"a CAR of {len(data)} bytes is over {limit}")
    header_len, pos = car.decode_varint(data, 0)
    if not 0 < header_len <= car.MAX_HEADER_LEN or pos + header_len > len(data):
        raise EnvelopeFormatError("not a CARv1 (its header)")
    roots = car.decode_header(data[pos:pos + header_len])
    pos += header_len
    if len(roots) != 1 or not is_supported(roots[0], DAG_CBOR):
        raise EnvelopeFormatError("the CAR must name exactly one root, an envelope header")
    blocks: dict[bytes, bytes] = {}
    while pos < len(data):
        frame_len, pos = car.decode_varint(data, pos)
        cid = data[pos:pos + car.CID_LEN]
        data_len = car.check_frame(cid, frame_len)
        if pos + frame_len > len(data):
            raise EnvelopeFormatError("CAR truncated inside a block")
        if cid in blocks:
            raise EnvelopeFormatError("a CID appears twice in the CAR")
        blocks[cid] = data[pos + car.CID_LEN:pos + car.CID_LEN + data_len]
        pos += frame_len
    return roots[0], blocks


async def open_car(backend, data: bytes, identity: Identity, limit: int) -> tuple[Header, bytes]:
    """(the verified header, the plaintext) of the one envelope a CAR holds, for ``identity``.
    The CAR must hold the header and its segments, nothing else (no index form: these are
    small). Every check of FORMAT.md section 4 applies, each with its typed error."""
    root, blocks = read_car(data, limit)

    async def get(cid: bytes) -> bytes:
        try:
            return blocks[cid]
        except KeyError:
            raise MissingBlockError(f"the CAR lacks block {cid_str(cid)}") from None
    header = await read_header(backend, root, get)
    if header.index:
        raise EnvelopeFormatError("an envelope this small has no segment index")
    if not set(blocks) <= {root, *header.segments}:  # one it lacks is missing_block when it is read
        raise EnvelopeFormatError("the CAR holds blocks its envelope does not link")
    opened = await open_envelope(backend, root, get, identity, header=header)
    return header, b"".join([chunk async for chunk in opened.plaintext()])


def _text_flag(obj: dict, data: bytes, kind: str) -> bool:
    text = obj.get("text")
    if not isinstance(text, bool):
        raise EnvelopeFormatError(f"{kind} field 'text' has the wrong type")
    if text:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise EnvelopeFormatError(f"{kind} says it is text but is not UTF-8") from None
    return text


@dataclass(frozen=True)
class OpenedMessage:
    root: bytes
    header: Header
    kind: str
    to: str
    data: bytes
    text: bool

    @property
    def sender(self) -> str:
        return self.header.sender_id

    @property
    def cid(self) -> str:
        return cid_str(self.root)


async def seal_message(backend, sender: Identity, recipients: list[PublicIdentity], *, kind: str, data: bytes,
                       to: str, now: int, text: bool = False, segment_size: int | None = None) -> tuple[bytes, bytes]:
    """(root, the message: a CAR of one envelope) from ``sender`` to ``recipients``."""
    plaintext = codec.encode({"meshkit": MESSAGE_KIND, "v": 1, "kind": kind, "to": to, "data": bytes(data),
                              "text": bool(text)})
    extra = {"segment_size": segment_size} if segment_size else {}
    blocks = [b async for b in seal(backend, [plaintext], sender=sender, recipients=recipients, now=now,
                                    include_sender=False, **extra)]
    return blocks[-1].cid, car_bytes(blocks[-1].cid, blocks)


async def open_message(backend, data: bytes, identity: Identity) -> OpenedMessage:
    """A message (FORMAT.md 12.1) verified and opened for ``identity``; typed errors else."""
    header, plaintext = await open_car(backend, data, identity, MAX_MESSAGE_SIZE)
    obj = codec.decode_map(plaintext, "message")
    codec.check_type(obj, MESSAGE_KIND)
    codec.only_keys(obj, {"meshkit", "v", "kind", "to", "data", "text"}, "message")
    kind = codec.field(obj, "kind", str, "message")
    if not KIND_PATTERN.fullmatch(kind):
        raise EnvelopeFormatError("message kind is not a mailbox kind")
    to = codec.field(obj, "to", str, "message")
    body = codec.field(obj, "data", bytes, "message")
    return OpenedMessage(header.root, header, kind, to, body, _text_flag(obj, body, "message"))


@dataclass(frozen=True)
class OpenedRecord:
    root: bytes
    header: Header
    scope: str
    name: str
    version: int
    data: bytes
    text: bool

    @property
    def signer(self) -> str:
        return self.header.sender_id


async def seal_record(backend, signer: Identity, recipients: list[PublicIdentity], *, scope: str, name: str,
                      version: int, data: bytes, now: int, text: bool = False) -> tuple[bytes, bytes]:
    """(root, the record's data: a CAR of one envelope) of version ``version`` of ``name``."""
    plaintext = codec.encode({"meshkit": RECORD_KIND, "v": 1, "scope": scope, "name": name, "version": int(version),
                              "data": bytes(data), "text": bool(text)})
    blocks = [b async for b in seal(backend, [plaintext], sender=signer, recipients=recipients, now=now,
                                    include_sender=False)]
    return blocks[-1].cid, car_bytes(blocks[-1].cid, blocks)


async def open_record(backend, data: bytes, identity: Identity, *, scope: str, name: str) -> OpenedRecord:
    """An app record (FORMAT.md 12.3) verified and opened for ``identity``; it must be the
    record of ``scope`` (the account id, or the identity's own id) named ``name``. Who signed
    it, and whether its version is fresh, is the caller's to check (get_record)."""
    header, plaintext = await open_car(backend, data, identity, MAX_RECORD_SIZE)
    obj = codec.decode_map(plaintext, "app record")
    codec.check_type(obj, RECORD_KIND)
    codec.only_keys(obj, {"meshkit", "v", "scope", "name", "version", "data", "text"}, "app record")
    found_scope = codec.field(obj, "scope", str, "app record")
    found_name = codec.field(obj, "name", str, "app record")
    if (found_scope, found_name) != (scope, name):
        raise EnvelopeFormatError(f"this is not the record {name!r} of {scope} (another record was served)")
    version = codec.field(obj, "version", int, "app record")
    if not 1 <= version <= MAX_VERSION:
        raise EnvelopeFormatError("app record version is out of range")
    body = codec.field(obj, "data", bytes, "app record")
    return OpenedRecord(header.root, header, scope, name, version, body, _text_flag(obj, body, "app record"))


# --- what a client keeps (no rollback, no replay) --------------------------------------------

class MemoryKeeper:
    """What this process keeps: gone when it ends (the default when a client has no keeper)."""

    def __init__(self):
        self._data: dict[str, bytes] = {}

    async def app_state(self, key: str) -> bytes | None:
        return self._data.get(key)

    async def save_app_state(self, key: str, data: bytes) -> None:
        self._data[key] = bytes(data)


class DirectoryKeeper:
    """What a CPython client keeps in a folder (e.g. the MeshKit home): one 0600 file a key,
    named by the key's SHA-256, in a 0700 folder, each replaced atomically."""

    def __init__(self, folder: str):
        self.folder = os.path.abspath(folder)

    def _path(self, key: str) -> str:
        return os.path.join(self.folder, hashlib.sha256(key.encode()).hexdigest() + ".cbor")

    async def app_state(self, key: str) -> bytes | None:
        try:
            with open(self._path(key), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    async def save_app_state(self, key: str, data: bytes) -> None:
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        os.chmod(self.folder, 0o700)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.folder)  # 0600 from the first byte
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, self._path(key))
        except BaseException:
            os.unlink(tmp)
            raise


def keeper_of(client):
    """The client's ``app_data_keeper`` (IndexedDB in the browser, a folder on CPython), else
    one in memory for this client's life."""
    found = getattr(client, "app_data_keeper", None)
    if found is None:
        found = client.__dict__.setdefault("_app_data_memory", MemoryKeeper())
    return found


@dataclass
class Acked:
    """Messages this identity acknowledged: their CIDs with their signed ``created``, at most
    MAX_ACKED; the oldest are let go, and ``horizon`` (the newest ``created`` let go) says
    that anything created at or before it counts as acknowledged too: it may be one of them.
    A ``created`` is kept as at most ACK_SLACK past the time of the acknowledgement, so a
    sender who dates messages far ahead cannot push the horizon over future messages."""
    roots: dict
    horizon: int = 0

    def has(self, root: str, created: int) -> bool:
        return root in self.roots or created <= self.horizon

    def add(self, root: str, created: int, now: int | None = None) -> None:
        # a date in the future (the sender's clock, or a sender who wants the horizon to pass
        # everything) is kept as at most a day ahead: the horizon never runs ahead of time
        now = int(time.time()) if now is None else now
        self.roots[root] = min(int(created), now + ACK_SLACK)
        while len(self.roots) > MAX_ACKED:
            oldest = min(self.roots, key=lambda r: (self.roots[r], r))
            self.horizon = max(self.horizon, self.roots.pop(oldest))

    def to_bytes(self) -> bytes:
        return codec.encode({"acked": [[r, c] for r, c in sorted(self.roots.items())], "horizon": self.horizon})


async def acked_state(keeper, identity_id: str) -> Acked:
    data = await keeper.app_state(f"acked {identity_id}")
    if data is None:
        return Acked({})
    try:
        obj = codec.decode_map(bytes(data), "acknowledged messages")
        roots = {str(r): int(c) for r, c in obj["acked"][:MAX_ACKED]}
        return Acked(roots, int(obj["horizon"]))
    except (MeshKitError, KeyError, TypeError, ValueError):
        # damaged: start again from now, so nothing acknowledged before can show again
        log.warning("the acknowledged messages kept here do not read: only newer messages are shown")
        return Acked({}, int(time.time()))


async def _remember_ack(keeper, identity_id: str, root: str, created: int) -> None:
    state = await acked_state(keeper, identity_id)
    state.add(root, created)
    await keeper.save_app_state(f"acked {identity_id}", state.to_bytes())


@dataclass(frozen=True)
class KeptRecord:
    version: int
    root: bytes


async def kept_record(keeper, scope: str, name: str) -> KeptRecord | None:
    data = await keeper.app_state(f"record {scope} {name}")
    if data is None:
        return None
    obj = codec.decode_map(bytes(data), "kept record")
    return KeptRecord(codec.field(obj, "version", int, "kept record"), codec.field(obj, "root", bytes, "kept record"))


async def _keep_record(keeper, scope: str, name: str, version: int, root: bytes) -> None:
    """Never lowers what is kept: the newest version accepted here stays the floor."""
    kept = await kept_record(keeper, scope, name)
    if kept is not None and kept.version >= version:
        return
    await keeper.save_app_state(f"record {scope} {name}", codec.encode({"version": version, "root": root}))


# --- messages over a gateway ------------------------------------------------------------------

async def reach_of(client, who: str, *, own=(), contacts=(), known: dict | None = None) -> Reach:
    """Whom a message or record to ``who`` reaches, by core.recipients' one rule: an id means
    exactly that id (the directory's verified record), a name only a local one (``own``,
    ``contacts``), and a person with an account is reached through its current devices and
    recovery key, verified through its chain. ``known``: {account id: KnownAccount} this
    program keeps (updated here), so an account is never rolled back."""
    from .accounts import account_reaching
    kept = known if known is not None else {}

    async def account(ident: str):
        found = await account_reaching(client, ident, next((k for k in kept.values() if k.means(ident)), None))
        if found is not None:
            kept[found.record.id] = found
        return found
    return await resolve_reach(who, own=own, contacts=contacts, directory=client.resolve, account=account)


def _mailboxes(reach: Reach) -> list[str]:
    """Where a message to ``reach`` is posted: each identity it names that has a mailbox of
    its own (an account's devices; the recovery key reads nothing until a recovery)."""
    return [p.id for p in reach.identities if not p.id.endswith(".recovery")]


async def send_message(client, reach: Reach, data, *, kind: str | None = None) -> dict:
    """Seal ``data`` (bytes, or a str read back as text) once to everyone ``reach`` names
    (core.recipients: an account's current devices and its recovery key) and post it to each
    one's mailbox. Returns {cid, kind, to, account, created, size, posted: [{device, id}],
    failed: [{device, code}]}; the first error when no mailbox took it."""
    kind = check_kind(kind)
    body, text = payload(data)
    if len(body) > MAX_MESSAGE_DATA:
        raise LimitExceededError(f"a message carries at most {MAX_MESSAGE_DATA} bytes ({len(body)} given): "
                                 "seal a file and share it instead")
    now = int(time.time())
    root, message = await seal_message(client.backend, client.identity, list(reach.identities), kind=kind,
                                       data=body, to=reach.id, now=now, text=text)
    if len(message) > MAX_MESSAGE_SIZE:
        raise LimitExceededError(f"this message is {len(message)} bytes sealed to {len(reach.identities)} "
                                 f"recipients: over the {MAX_MESSAGE_SIZE} a mailbox takes")
    posted, failed, first = [], [], None
    for device in _mailboxes(reach):
        try:
            reply = await client.request("POST", f"/v1/mailbox/{quote(device, safe='')}?kind={kind}", body=message,
                                         content_type=car.CAR_MEDIA)
            posted.append({"device": device, "id": str(reply.json()["id"])})
        except MeshKitError as exc:
            first = first or exc
            failed.append({"device": device, "code": exc.code})
    if not posted:
        raise first or MissingMetadataError(f"{reach.id} has no mailbox to post to")
    if failed:
        log.warning("message %s: %d of %d mailboxes refused it (%s)", cid_str(root), len(failed),
                    len(failed) + len(posted), ", ".join(sorted({f["code"] for f in failed})))
    return {"cid": cid_str(root), "kind": kind, "to": reach.id, "account": reach.account, "created": now,
            "size": len(body), "posted": posted, "failed": failed}


def _summary(row: dict, message: OpenedMessage, acked: bool) -> dict:
    return {"id": str(row["id"]), "cid": message.cid, "kind": message.kind, "sender": message.sender,
            "created": message.header.created, "size": len(message.data), "to": message.to,
            "type": "text" if message.text else "bytes", "acked": acked, "received": row.get("created")}


def _agrees(message: OpenedMessage, kind: str | None, sender: str | None) -> str | None:
    """Why the gateway's labels disagree with the signed message (None: they agree). Who
    posts a message is its signer; a relabelled or re-posted one is not shown."""
    if not APP_KIND.fullmatch(message.kind):
        return "its sealed kind is not an app kind"
    if kind is not None and kind != message.kind:
        return "the gateway's kind is not the sealed one"
    if sender is not None and sender != message.sender:
        return "it was posted by someone other than its signer"
    return None


def _dropped(client, why: str) -> None:
    client.__dict__["app_messages_dropped"] = client.__dict__.get("app_messages_dropped", 0) + 1
    log.warning("a message was not shown: %s", why)


async def _fetch_body(client, message_id: str):
    return await client.request("GET", f"/v1/mailbox/{quote(str(message_id), safe='')}", limit=MAX_MESSAGE_SIZE)


async def _verified(client, row: dict) -> OpenedMessage | None:
    """The message a listing row names, verified (cached by gateway id), or None when it does
    not verify. Gateway trouble (unavailable, rate limited) is raised, never cached."""
    cache = client.__dict__.setdefault("_app_messages", {})
    key = str(row["id"])
    if key in cache:
        return cache[key]
    try:
        body = (await _fetch_body(client, key)).body
    except LimitExceededError:
        body = None
    result, why = None, "it is larger than a message can be"
    if body is not None:
        try:
            result = await open_message(client.backend, body, client.identity)
            why = _agrees(result, row.get("kind"), row.get("sender"))
        except (UnavailableError, PolicyUnavailableError):
            raise
        except MeshKitError as exc:
            result, why = None, f"it does not verify ({exc.code})"
    if why is not None:
        _dropped(client, why)
        result = None
    if len(cache) >= MAX_CACHED:
        cache.clear()
    cache[key] = result
    return result


def _kinds(kind) -> list[str] | None:
    if kind in (None, "", []):
        return None
    kinds = [kind] if isinstance(kind, str) else list(kind)
    if len(kinds) > MAX_KINDS:
        raise InvalidArgumentError(f"at most {MAX_KINDS} kinds at once")
    return [check_kind(k) for k in kinds]


async def list_messages(client, *, kind=None, include_acked: bool = False, limit: int = LIST_DEFAULT) -> list[dict]:
    """This identity's app messages that verify, oldest first: the newest ``limit`` (at most
    LIST_MAX, and LIST_BYTES of messages fetched), each {id, cid, kind, sender, created, size,
    to, type, acked, received}. ``kind``: one app kind or several (the gateway filters);
    ``include_acked``: also those acknowledged and still kept by the gateway (acked: true).
    The same message (CID) listed twice shows once; one acknowledged here never shows again
    unless ``include_acked``."""
    kinds = _kinds(kind)
    limit = max(1, min(int(limit or LIST_DEFAULT), LIST_MAX))
    rows = await client.inbox(bool(include_acked), notices=False, kind=kinds, limit=limit if kinds else LIST_SCAN)
    rows = [r for r in rows if isinstance(r.get("kind"), str) and APP_KIND.fullmatch(r["kind"])
            and isinstance(r.get("id"), str)][-limit:]
    acked = await acked_state(keeper_of(client), client.identity.id)
    shown, seen, spent = [], set(), 0
    for row in reversed(rows):  # the newest first, while the byte budget lasts
        size = row.get("size")
        if isinstance(size, int) and size > MAX_MESSAGE_SIZE:
            _dropped(client, "the gateway lists it larger than a message can be")
            continue
        spent += size if isinstance(size, int) else MAX_MESSAGE_SIZE
        if spent > LIST_BYTES:
            break
        try:
            message = await _verified(client, row)
        except MissingMetadataError:  # acknowledged or expired meanwhile
            continue
        if message is None or message.cid in seen:
            continue
        seen.add(message.cid)
        done = bool(row.get("acked")) or acked.has(message.cid, message.header.created)
        if done and not include_acked:
            continue
        shown.append(_summary(row, message, done))
    return shown[::-1]


async def read_message(client, message_id: str) -> dict:
    """One message, verified now: its summary and ``data`` (bytes), and ``text`` (a str) when
    it was sent as text. A message that does not verify is its typed error (fail closed);
    one whose gateway labels disagree with what is signed is ``identity_mismatch``."""
    reply = await _fetch_body(client, message_id)
    message = await open_message(client.backend, reply.body, client.identity)
    headers = {k.lower(): v for k, v in reply.headers.items()}
    why = _agrees(message, headers.get("x-meshkit-kind"), headers.get("x-meshkit-sender"))
    if why is not None:
        raise IdentityMismatchError(f"message {str(message_id)[:40]} is not shown: {why}")
    acked = await acked_state(keeper_of(client), client.identity.id)
    out = _summary({"id": message_id}, message, acked.has(message.cid, message.header.created))
    out["data"] = message.data
    if message.text:
        out["text"] = message.data.decode("utf-8")
    return out


async def ack_message(client, message_id: str) -> dict:
    """Acknowledge a message: deleted at the gateway, and its CID remembered here, so the same
    message never shows again whatever the gateway serves later."""
    message = client.__dict__.get("_app_messages", {}).get(str(message_id))
    if message is None:
        try:
            message = await open_message(client.backend, (await _fetch_body(client, message_id)).body,
                                         client.identity)
        except (UnavailableError, PolicyUnavailableError):
            raise
        except MeshKitError:
            message = None  # gone, or never a message: deleted all the same
    try:
        await client.request("DELETE", f"/v1/mailbox/{quote(str(message_id), safe='')}")
    except MissingMetadataError:
        if message is None:
            raise
    if message is not None:
        await _remember_ack(keeper_of(client), client.identity.id, message.cid, message.header.created)
    return {"id": str(message_id), "acked": True, **({"cid": message.cid} if message else {})}


# --- app records over a gateway -----------------------------------------------------------------

def _record_path(account: AccountRecord | None, name: str) -> str:
    return ("/v1/account-sync/" if account is not None else "/v1/sync/") + RECORD_PREFIX + name


async def _record_row(client, path: str) -> dict | None:
    try:
        row = (await client.request("GET", path)).json()
    except MissingMetadataError:
        return None
    if not isinstance(row, dict) or not isinstance(row.get("version"), int) or not isinstance(row.get("data"), str):
        raise EnvelopeFormatError("the gateway's sync record does not parse")
    return row


async def _fresh(client, account: AccountRecord | None, refresh: bool) -> AccountRecord | None:
    """The newest account record, verified through the chain from ``account`` (never older)."""
    if account is None or not refresh:
        return account
    try:
        return await client.fetch_account(account.id, known=account) or account
    except UnavailableError:
        return account


def _record_json(name: str, opened: OpenedRecord, account: AccountRecord | None) -> dict:
    device = account.device(opened.signer) if account is not None else None
    out = {"name": name, "version": opened.version, "data": opened.data, "type": "text" if opened.text else "bytes",
           "updatedBy": opened.signer, "updatedByName": device.device.name if device else None,
           "updated": opened.header.created, "cid": cid_str(opened.root), "size": len(opened.data)}
    if opened.text:
        out["text"] = opened.data.decode("utf-8")
    return out


async def get_record(client, account: AccountRecord | None, name: str, *, heal: bool = True,
                     refresh: bool = True) -> dict | None:
    """App record ``name`` of ``account`` (None: of this identity alone), verified: {name,
    version, data, type, text?, updatedBy, updatedByName, updated, cid, size}; None when
    there is none (and never was, as far as this client saw). Typed errors: ``rollback``
    (older than the newest accepted here, another record of the same version, or gone after
    one was seen), ``bad_account_chain`` (signed by no current device of the account),
    ``malformed`` (another record's, or not a record), ``not_recipient`` (sealed before this
    device joined, and no device has read it since). ``heal``: when a current device of the
    account cannot open it (it joined since) or its signer has since left, write it again
    (the same data, the next version) sealed to the current devices."""
    check_name(name)
    account = await _fresh(client, account, refresh)
    scope = account.id if account is not None else client.identity.id
    keeper = keeper_of(client)
    kept = await kept_record(keeper, scope, name)
    row = await _record_row(client, _record_path(account, name))
    if row is None:
        if kept is not None:
            raise AccountRollbackError(f"record {name!r} was at version {kept.version} here; the gateway has none")
        return None
    data = codec.b64d(row["data"])
    opened = await open_record(client.backend, data, client.identity, scope=scope, name=name)
    if opened.version != row["version"]:
        raise (AccountRollbackError if opened.version < row["version"] else EnvelopeFormatError)(
            f"record {name!r} is signed as version {opened.version} but served as version {row['version']}")
    if kept is not None and (opened.version < kept.version or (opened.version == kept.version
                                                               and opened.root != kept.root)):
        raise AccountRollbackError(f"record {name!r} is at version {kept.version} here: refusing version "
                                   f"{opened.version}" + (" (another record of that version)"
                                                          if opened.version == kept.version else ""))
    current = {d.id for d in account.devices} if account is not None else {client.identity.id}
    seen_before = kept is not None and (kept.version, kept.root) == (opened.version, opened.root)
    if opened.signer not in current and not seen_before:
        raise AccountChainError(f"record {name!r} (version {opened.version}) is signed by {opened.signer}, not a "
                                "current device of the account")
    await _keep_record(keeper, scope, name, opened.version, opened.root)
    result = _record_json(name, opened, account)
    if heal and account is not None:
        readers = {r.id for r in account.recipients()}
        missing = readers - {e.recipient for e in opened.header.recipients}
        if missing or opened.signer not in current:
            try:
                healed = await put_record(client, account, name, opened.data.decode("utf-8") if opened.text
                                          else opened.data, expected_version=opened.version, refresh=False)
                log.info("record %r written again for %d device(s) that could not read it", name, len(missing))
                result.update(healed, data=opened.data)
            except ConflictError:
                pass  # someone wrote it meanwhile: sealed to the current devices by them
            except MeshKitError as exc:
                log.info("record %r not written again (%s)", name, exc.code)
    return result


async def put_record(client, account: AccountRecord | None, name: str, data, *, expected_version: int | None = None,
                     refresh: bool = True) -> dict:
    """Write version ``expected_version + 1`` of app record ``name`` (compare-and-swap):
    ``expected_version`` is the version last read (0: there must be none yet; None: the
    newest this client accepted, 0 if none). Sealed to the account's current devices and
    its recovery key (or to this identity alone), signed by this device. ``conflict`` when
    someone else wrote first: read it again, then write. Returns {name, version, type,
    updatedBy, updatedByName, updated, cid, size}."""
    check_name(name)
    body, text = payload(data)
    if len(body) > MAX_RECORD_DATA:
        raise LimitExceededError(f"a record holds at most {MAX_RECORD_DATA} bytes ({len(body)} given)")
    account = await _fresh(client, account, refresh)
    scope = account.id if account is not None else client.identity.id
    keeper = keeper_of(client)
    if expected_version is None:
        kept = await kept_record(keeper, scope, name)
        expected = kept.version if kept is not None else 0
    else:
        if isinstance(expected_version, bool) or not isinstance(expected_version, int) or \
                not 0 <= expected_version < MAX_VERSION:
            raise InvalidArgumentError(f"expectedVersion is a whole number 0..{MAX_VERSION - 1}")
        expected = expected_version
    recipients = account.recipients() if account is not None else [client.identity.public]
    now = int(time.time())
    root, sealed = await seal_record(client.backend, client.identity, recipients, scope=scope, name=name,
                                     version=expected + 1, data=body, now=now, text=text)
    if len(sealed) > MAX_RECORD_SIZE:
        raise LimitExceededError(f"this record is {len(sealed)} bytes sealed: over {MAX_RECORD_SIZE}")
    path = _record_path(account, name)
    try:
        stored = (await client.request("PUT", path, json_body={"version": expected,
                                                               "data": codec.b64e(sealed)})).json()
    except ConflictError:
        row = await _record_row(client, path)  # our write may have landed, its reply lost and resent
        if row is None or codec.b64d(row["data"]) != sealed:
            raise ConflictError(f"record {name!r} is at version {row['version'] if row else 0}, not {expected}: "
                                "another device wrote it first (read it again, then write)") from None
        stored = {"version": row["version"]}
    if stored.get("version") != expected + 1:
        raise EnvelopeFormatError(f"the gateway stored record {name!r} as version {stored.get('version')}, not "
                                  f"{expected + 1}")
    await _keep_record(keeper, scope, name, expected + 1, root)
    device = account.device(client.identity.id) if account is not None else None
    return {"name": name, "version": expected + 1, "type": "text" if text else "bytes", "updatedBy": client.identity.id,
            "updatedByName": device.device.name if device else None, "updated": now, "cid": cid_str(root),
            "size": len(body)}
