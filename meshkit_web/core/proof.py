"""Proofs: signed statements anyone can verify offline (who sealed which root, when; which
share was granted). The signer's id is derived from the embedded key, so no directory
lookup is needed to check who signed."""

from dataclasses import dataclass

from . import codec
from .backend import CryptoBackend
from .cid import DAG_CBOR, cid_bytes, parse_cid, to_link
from .errors import EnvelopeFormatError, InvalidArgumentError
from .identity import Identity
from .signing import KEY_LEN, check_identity_key, sign_map, verify_map

KIND = "proof"
SEALED = "sealed"
SHARED = "shared"
PROOF_KEYS = {"meshkit", "v", "statement", "root", "signer", "time", "recipient", "capsule", "expires", "sig"}


@dataclass(frozen=True)
class Proof:
    statement: str
    root: bytes
    signer_id: str
    signer_key: bytes
    time: int
    recipient: str | None
    capsule: bytes | None
    expires: int | None
    data: bytes

    @property
    def cid(self) -> bytes:
        return cid_bytes(DAG_CBOR, self.data)


async def make_proof(backend: CryptoBackend, signer: Identity, statement: str, root: bytes, *, now: int,
                     recipient: str | None = None, capsule: bytes | None = None,
                     expires: int | None = None) -> Proof:
    if statement not in (SEALED, SHARED):
        raise InvalidArgumentError("proof statement must be 'sealed' or 'shared'")
    if statement == SHARED and (recipient is None or capsule is None):
        raise InvalidArgumentError("a share proof names the recipient and the capsule")
    obj = {"meshkit": KIND, "v": 1, "statement": statement, "root": to_link(root),
           "signer": {"id": signer.id, "key": signer.public.sig_key}, "time": now,
           "recipient": recipient, "capsule": to_link(capsule) if capsule else None, "expires": expires}
    return await verify_proof(backend, codec.encode(await sign_map(backend, signer.sig_private, KIND, obj)))


async def verify_proof(backend: CryptoBackend, data: bytes) -> Proof:
    obj = codec.decode_map(data, KIND)
    codec.check_type(obj, KIND)
    codec.only_keys(obj, PROOF_KEYS, KIND)
    statement = codec.field(obj, "statement", str, KIND)
    if statement not in (SEALED, SHARED):
        raise EnvelopeFormatError("unknown proof statement")
    signer = codec.field(obj, "signer", dict, KIND)
    signer_id = codec.field(signer, "id", str, "signer")
    signer_key = codec.field(signer, "key", bytes, "signer", length=KEY_LEN)
    check_identity_key(signer_id, signer_key)
    await verify_map(backend, KIND, obj, signer_key, signer_id)
    capsule = obj.get("capsule")
    recipient = codec.field(obj, "recipient", str, KIND, optional=True)
    if statement == SHARED and (capsule is None or not recipient):
        raise EnvelopeFormatError("share proof must name its recipient and capsule")
    return Proof(statement, parse_cid(obj.get("root")), signer_id, signer_key,
                 codec.field(obj, "time", int, KIND),
                 recipient,
                 parse_cid(capsule) if capsule is not None else None,
                 codec.field(obj, "expires", int, KIND, optional=True), data)
