"""The library that follows an account: my envelopes (with names), received shares and
contacts, as one document sealed to the account (FORMAT.md section 11.4).

A library is a set with tombstones: each entry has a key (``envelope:<root>``,
``share:<capsule>``, ``contact:<id>``, ``link:<capsule>``: a send link I made) and the time it was last written; a removal is a
tombstone with its time. Two devices that edit at once both win: ``merge`` keeps, per key,
the newest write, and a tombstone beats any write that is not newer than it. Merging is
commutative, associative and idempotent, so retrying a compare-and-swap that lost is safe.
"""

from dataclasses import dataclass, field

from . import codec
from .errors import EnvelopeFormatError, InvalidArgumentError, LimitExceededError

KIND = "library"
MAX_ENTRIES = 100_000
KINDS = ("envelope", "share", "contact", "link")  # what this version writes and reads
MAX_KIND = 32  # a kind a newer version writes is kept as it is (merged, folded on), never read


@dataclass
class Library:
    account: str
    entries: dict = field(default_factory=dict)     # key -> {"t": time, "value": map}
    tombstones: dict = field(default_factory=dict)  # key -> time

    def put(self, key: str, value: dict, now: int) -> None:
        _check_key(key)
        self.entries[key] = {"t": now, "value": value}
        self.tombstones.pop(key, None)
        self._bound()

    def remove(self, key: str, now: int) -> None:
        _check_key(key)
        self.entries.pop(key, None)
        self.tombstones[key] = now
        self._bound()

    def items(self, kind: str) -> dict:
        prefix = kind + ":"
        return {k[len(prefix):]: v["value"] for k, v in sorted(self.entries.items()) if k.startswith(prefix)}

    def _bound(self) -> None:
        if len(self.entries) + len(self.tombstones) > MAX_ENTRIES:
            raise LimitExceededError(f"a library holds at most {MAX_ENTRIES} entries and removals")

    def to_bytes(self) -> bytes:
        return codec.encode({"meshkit": KIND, "v": 1, "account": self.account, "entries": self.entries,
                             "tombstones": self.tombstones})


def _check_key(key: str, kinds=KINDS) -> None:
    kind, sep, rest = str(key).partition(":")
    known = kind in kinds if kinds else (0 < len(kind) <= MAX_KIND and kind.isascii() and kind.isalpha()
                                         and kind.islower())
    if not sep or not known or not rest or len(key) > 256:
        raise InvalidArgumentError(f"a library key is <{'|'.join(KINDS)}>:<id>")


def merge(a: Library, b: Library) -> Library:
    if a.account != b.account:
        raise EnvelopeFormatError("libraries of two accounts do not merge")
    out = Library(a.account)
    for key in set(a.entries) | set(b.entries) | set(a.tombstones) | set(b.tombstones):
        write = max((e for e in (a.entries.get(key), b.entries.get(key)) if e),
                    key=lambda e: (e["t"], codec.encode(e["value"])), default=None)
        gone = max((t for t in (a.tombstones.get(key), b.tombstones.get(key)) if t is not None), default=None)
        if write is not None and (gone is None or write["t"] > gone):
            out.entries[key] = write
        elif gone is not None:
            out.tombstones[key] = gone
    out._bound()
    return out


def library_from_bytes(data: bytes, account: str) -> Library:
    obj = codec.decode_map(data, KIND)
    codec.check_type(obj, KIND)
    codec.only_keys(obj, {"meshkit", "v", "account", "entries", "tombstones"}, KIND)
    if codec.field(obj, "account", str, KIND) != account:
        raise EnvelopeFormatError("this library belongs to another account")
    entries, tombstones = codec.field(obj, "entries", dict, KIND), codec.field(obj, "tombstones", dict, KIND)
    if len(entries) + len(tombstones) > MAX_ENTRIES:
        raise LimitExceededError(f"a library holds at most {MAX_ENTRIES} entries and removals")
    library = Library(account)
    try:
        for key in list(entries) + list(tombstones):
            _check_key(key, None)  # a kind of a newer version: kept, so a fold here does not drop it
    except InvalidArgumentError as exc:
        raise EnvelopeFormatError(exc.message) from None
    for key, entry in entries.items():
        if not isinstance(entry, dict) or set(entry) != {"t", "value"} or not isinstance(entry["value"], dict):
            raise EnvelopeFormatError("a library entry is {t, value}")
        codec.field(entry, "t", int, KIND)
        library.entries[key] = entry
    for key, when in tombstones.items():
        codec.field(tombstones, key, int, KIND)
        library.tombstones[key] = when
    return library
