"""File metadata sealed inside an envelope (docs/FORMAT.md section 3.7), and the one rule
for turning a sender's file name into a name that is safe to save under.

A recipient must learn what she received (name, media type, size, modification time), and
the gateway must not: the metadata is a DAG-CBOR map sealed with AES-256-GCM under a key
derived from the envelope's content key, stored in the header's ``meta`` field. Pure: no I/O.
"""

import re
import unicodedata
from dataclasses import dataclass

from . import codec, kdf
from .backend import CryptoBackend
from .errors import EnvelopeFormatError
from .text import strip_unsafe

META_KEY_INFO = b"meshkit-web/v1 metadata-key"
META_NONCE = bytes(12)  # the key is used for this one message only
META_KIND = "file metadata"
MAX_NAME = 255            # characters of a name, as sealed
MAX_TYPE = 127
MAX_META = 1024           # bytes of sealed metadata in a header (name and type fit well)
DEFAULT_TYPE = "application/octet-stream"
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


@dataclass(frozen=True)
class FileMetadata:
    name: str
    type: str
    size: int
    mtime: int | None

    def to_json(self) -> dict:
        return {"name": self.name, "type": self.type, "size": self.size, "mtime": self.mtime,
                "saveAs": safe_filename(self.name)}


def media_type(text) -> str:
    """A plain ``type/subtype`` (parameters dropped, lower case), or octet-stream."""
    value = str(text or "").split(";", 1)[0].strip().lower()
    return value if _MEDIA_TYPE.match(value) else DEFAULT_TYPE


def make_metadata(name, type_, size: int, mtime=None) -> FileMetadata:
    """What a sealer knows of a file, cleaned: a name of at most 255 characters without
    control characters (display and save rules come later: safe_filename), a media type."""
    clean = "".join(ch for ch in unicodedata.normalize("NFC", str(name or ""))
                    if unicodedata.category(ch) not in ("Cc", "Cf"))[:MAX_NAME]
    when = int(mtime) if isinstance(mtime, (int, float)) and 0 <= mtime <= codec.MAX_INT else None
    return FileMetadata(clean, media_type(type_), int(size), when)


def metadata_key(content_key: bytes) -> bytes:
    """The key the metadata is sealed under. It opens the metadata and nothing else (HKDF is
    one-way), so it can describe an envelope to someone who may not open it (a send link's
    holder before spending one of its opens, FORMAT.md 5.4)."""
    return kdf.hkdf(content_key, META_KEY_INFO)


async def seal_metadata(backend: CryptoBackend, content_key: bytes, meta: FileMetadata) -> bytes:
    plain = codec.encode({"name": meta.name, "type": meta.type, "size": meta.size, "mtime": meta.mtime})
    sealed = bytes(await backend.aead_seal(await backend.aead_key(metadata_key(content_key)), META_NONCE, plain, b""))
    if len(sealed) > MAX_META:
        raise EnvelopeFormatError("file metadata is too large")
    return sealed


async def open_metadata(backend: CryptoBackend, content_key: bytes, sealed: bytes, size: int) -> FileMetadata:
    """The metadata of an envelope whose key commitment already checked: anything wrong
    with it is the sender's doing (the header is signed), so it is ``malformed``."""
    return await open_metadata_with_key(backend, metadata_key(content_key), sealed, size)


async def open_metadata_with_key(backend: CryptoBackend, key: bytes, sealed: bytes, size: int) -> FileMetadata:
    """The metadata, from the metadata key alone (see metadata_key). The header it comes
    from is signed, so a key that does not open it is refused, never a guess."""
    plain = await backend.aead_open(await backend.aead_key(key), META_NONCE, bytes(sealed), b"")
    plain = None if plain is None else bytes(plain)
    if plain is None:
        raise EnvelopeFormatError("the envelope's file metadata does not authenticate")
    obj = codec.decode_map(plain, META_KIND)
    codec.only_keys(obj, {"name", "type", "size", "mtime"}, META_KIND)
    name = codec.field(obj, "name", str, META_KIND)
    type_ = codec.field(obj, "type", str, META_KIND)
    mtime = codec.field(obj, "mtime", int, META_KIND, optional=True)
    if codec.field(obj, "size", int, META_KIND) != size:
        raise EnvelopeFormatError("the file metadata's size is not the envelope's")
    if len(name) > MAX_NAME or len(type_) > MAX_TYPE:
        raise EnvelopeFormatError("file metadata field too long")
    return FileMetadata(name, media_type(type_), size, mtime)


# --- saving under the sender's name -------------------------------------------------------------

_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)
_UNSAFE = re.compile(r'[<>:"/\\|?*]')
MAX_SAVE_BYTES = 200


def safe_filename(name, fallback: str = "download") -> str:
    """A name to save a received file under on any filesystem: no directories (the last
    path part only), no control, format or bidi characters, no characters Windows refuses,
    no leading dots (hidden files, "..") or trailing dots and spaces, no device names,
    at most 200 UTF-8 bytes with the extension kept. The sender chose the name: nothing of
    it may choose a directory or hide what the file is."""
    text = unicodedata.normalize("NFC", str(name or ""))
    text = re.split(r"[/\\]", text)[-1]
    text = strip_unsafe(text)  # control, format, bidi, separators: core.text's one definition
    text = _UNSAFE.sub("_", text).strip().lstrip(".").rstrip(". ")
    if _RESERVED.match(text):
        text = "_" + text
    if len(text.encode()) > MAX_SAVE_BYTES:
        stem, dot, ext = text.rpartition(".")
        ext = ext if dot and 0 < len(ext.encode()) <= 16 else ""
        stem = (stem if ext else text).encode()[:MAX_SAVE_BYTES - len(ext.encode()) - (1 if ext else 0)]
        text = stem.decode(errors="ignore").rstrip(". ") + ("." + ext if ext else "")
    return text or fallback
