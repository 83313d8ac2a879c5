"""Typed errors for every fail-closed case.

Messages name CIDs, identity ids and positions only: never key material, tokens or
plaintext. Each class has a stable ``code`` that the CLI, the gateway and the browser
runtime report.
"""


class MeshKitError(Exception):
    code = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class EnvelopeFormatError(MeshKitError):
    """Bytes that do not decode as the structure they claim to be (truncated, malformed)."""
    code = "malformed"


class UnsupportedVersionError(MeshKitError):
    code = "unsupported_version"


class CIDMismatchError(MeshKitError):
    """A block's bytes do not hash to the CID they were asked for."""
    code = "cid_mismatch"


class MissingBlockError(MeshKitError):
    code = "missing_block"


class TruncatedEnvelopeError(MeshKitError):
    """The final segment is missing or the stream ended early."""
    code = "truncated"


class SegmentAuthenticationError(MeshKitError):
    """A segment failed AES-GCM authentication: tampered, reordered or from another envelope."""
    code = "segment_auth_failed"


class SignatureError(MeshKitError):
    code = "bad_signature"


class IdentityMismatchError(MeshKitError):
    """An identity id does not match its key, or a known contact's key changed."""
    code = "identity_mismatch"


class NotARecipientError(MeshKitError):
    code = "not_recipient"


class KeyUnwrapError(MeshKitError):
    """The wrapped content key does not open, or does not match the header's key commitment."""
    code = "unwrap_failed"


class ExpiredError(MeshKitError):
    code = "expired"


class RevokedError(MeshKitError):
    code = "revoked"


class PolicyDeniedError(MeshKitError):
    code = "policy_denied"


class PolicyUnavailableError(MeshKitError):
    code = "policy_unavailable"


class MissingMetadataError(MeshKitError):
    code = "missing_metadata"


class UnsupportedError(MeshKitError):
    """The crypto backend or runtime lacks a required primitive."""
    code = "unsupported"


class LimitExceededError(MeshKitError):
    code = "limit_exceeded"


class UnknownIdentityError(MeshKitError):
    code = "unknown_identity"


class UnavailableError(MeshKitError):
    """The gateway or provider could not be reached or answered with a server error."""
    code = "unavailable"


class AuthError(MeshKitError):
    """Missing, expired, tampered or out-of-scope capability token; failed challenge."""
    code = "unauthorized"


class ForbiddenError(MeshKitError):
    """Authenticated, but this identity may not do this (not its root, not its capsule)."""
    code = "forbidden"


class ConflictError(MeshKitError):
    """A compare-and-swap lost: the stored version is not the one the caller expected."""
    code = "conflict"


class QuotaExceededError(MeshKitError):
    code = "quota_exceeded"


class RateLimitedError(MeshKitError):
    code = "rate_limited"


class InvalidArgumentError(MeshKitError, ValueError):
    """A caller's argument is not acceptable (a past expiry, an ambiguous recipient name)."""
    code = "invalid_argument"


def _all_error_classes(cls=MeshKitError):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_error_classes(sub)


def error_for_code(code: str, message: str) -> MeshKitError:
    """Rebuild the typed error a server reported by its stable code (unknown codes stay generic)."""
    for cls in _all_error_classes():
        if cls.code == code:
            return cls(message)
    return MeshKitError(message)
