"""Capsules: what one recipient needs to open one envelope, granted after sealing.

A capsule carries the envelope's content key wrapped to the recipient with HPKE, an
optional expiry and policy reference, and the sharer's signature. Revocable or
policy-gated capsules are released by the metadata service at open time; Core checks
what can be checked offline (signature, root, recipient, expiry) and fails closed.
"""

from dataclasses import dataclass

from . import codec
from .backend import CryptoBackend
from .cid import DAG_CBOR, cid_bytes, cid_str, parse_cid, to_link
from .envelope import BlockGetter, WrappedKey, parse_wrapped_key, read_header, unwrap_content_key, wrap_content_key
from .errors import EnvelopeFormatError, ExpiredError, InvalidArgumentError, NotARecipientError
from .identity import Identity, PublicIdentity
from .signing import KEY_LEN, check_identity_key, sign_map, verify_map

KIND = "capsule"
CAPSULE_KEYS = {"meshkit", "v", "root", "recipient", "expires", "policy", "sharer", "created", "sig"}
MAX_POLICY_LEN = 512


@dataclass(frozen=True)
class Capsule:
    root: bytes
    wrapped_key: WrappedKey
    expires: int | None
    policy: str | None
    sharer_id: str
    sharer_key: bytes
    created: int
    data: bytes  # the signed DAG-CBOR encoding

    @property
    def cid(self) -> bytes:
        return cid_bytes(DAG_CBOR, self.data)

    @property
    def recipient(self) -> str:
        return self.wrapped_key.recipient

    def check_fresh(self, now: int, tolerance: int = 0) -> None:
        """ExpiredError once ``now`` is ``tolerance`` seconds past the expiry (a client allows
        core.clock.CLOCK_SKEW_ALLOWED for a clock it cannot know exactly)."""
        if self.expires is not None and now >= self.expires + tolerance:
            raise ExpiredError(f"the share of {cid_str(self.root)} to {self.recipient} expired")


async def make_capsule(backend: CryptoBackend, sharer: Identity, root: bytes, get_block: BlockGetter,
                       recipient: PublicIdentity, *, now: int, expires: int | None = None,
                       policy: str | None = None, opener: Identity | None = None,
                       wrapped_key: WrappedKey | None = None) -> Capsule:
    """Share an envelope the sharer can open with another identity. ``opener`` and
    ``wrapped_key``: the key the sharer opens it with when that is not its own header entry
    (its account's recovery key, a capsule it received); the sharer still signs."""
    if expires is not None and expires <= now:
        raise InvalidArgumentError("a capsule's expiry must be in the future")
    if policy is not None and (not policy or len(policy) > MAX_POLICY_LEN):
        raise InvalidArgumentError("policy reference must be 1-512 characters")
    header = await read_header(backend, root, get_block)
    opener = opener or sharer
    entry = wrapped_key or header.recipient_entry(opener.id)
    content_key = await unwrap_content_key(backend, opener, entry, header.commitment)
    wrapped = await wrap_content_key(backend, content_key, header.commitment, recipient)
    obj = {"meshkit": KIND, "v": 1, "root": to_link(root), "recipient": wrapped.to_map(),
           "expires": expires, "policy": policy,
           "sharer": {"id": sharer.id, "key": sharer.public.sig_key}, "created": now}
    return await _parse(backend, codec.encode(await sign_map(backend, sharer.sig_private, KIND, obj)))


async def _parse(backend: CryptoBackend, data: bytes) -> Capsule:
    obj = codec.decode_map(data, KIND)
    codec.check_type(obj, KIND)
    codec.only_keys(obj, CAPSULE_KEYS, KIND)
    root = obj.get("root")
    if not hasattr(root, "codec"):
        raise EnvelopeFormatError("capsule root is not a CID link")
    expires = codec.field(obj, "expires", int, KIND, optional=True)
    policy = codec.field(obj, "policy", str, KIND, optional=True)
    if policy is not None and not 1 <= len(policy) <= MAX_POLICY_LEN:
        raise EnvelopeFormatError(f"capsule policy reference must be 1-{MAX_POLICY_LEN} characters")
    entry = codec.field(obj, "recipient", dict, KIND)
    sharer = codec.field(obj, "sharer", dict, KIND)
    sharer_id = codec.field(sharer, "id", str, "sharer")
    sharer_key = codec.field(sharer, "key", bytes, "sharer", length=KEY_LEN)
    check_identity_key(sharer_id, sharer_key)
    await verify_map(backend, KIND, obj, sharer_key, sharer_id)
    return Capsule(
        root=parse_cid(root),
        wrapped_key=parse_wrapped_key(entry), expires=expires, policy=policy,
        sharer_id=sharer_id, sharer_key=sharer_key,
        created=codec.field(obj, "created", int, KIND), data=data)


async def verify_capsule(backend: CryptoBackend, data: bytes, *, root: bytes | None = None,
                         recipient: str | None = None, now: int | None = None, tolerance: int = 0) -> Capsule:
    """Decode and verify a capsule; with ``root``/``recipient``/``now`` also check it applies
    (``tolerance``: Capsule.check_fresh)."""
    capsule = await _parse(backend, data)
    if root is not None and capsule.root != root:
        raise EnvelopeFormatError(f"capsule is for {cid_str(capsule.root)}, not {cid_str(root)}")
    if recipient is not None and capsule.recipient != recipient:
        raise NotARecipientError(f"capsule is for {capsule.recipient}, not {recipient}")
    if now is not None:
        capsule.check_fresh(now, tolerance)
    return capsule
