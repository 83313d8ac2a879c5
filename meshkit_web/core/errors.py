"""Typed errors for every fail-closed case.

Messages name CIDs, identity ids and positions only: never key material, tokens or
plaintext. Each class has a stable ``code`` that the CLI, the gateway and the browser
runtime report, and is the one source of what goes with it: the gateway's HTTP ``status``,
whether waiting and trying again can help (``retryable``), and the sentence a person reads
(``user``). ``registry()`` lists them all; build.py writes it into the app and the worker.
"""


class MeshKitError(Exception):
    code = "error"
    status = 500
    retryable = False
    user = 'Something went wrong.'

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class EnvelopeFormatError(MeshKitError):
    """Bytes that do not decode as the structure they claim to be (truncated, malformed)."""
    code = "malformed"
    status = 400
    user = 'That is not a valid MeshKit record or envelope: it is damaged or was altered.'


class UnsupportedVersionError(MeshKitError):
    """A format version or crypto suite this MeshKit does not read (made by a newer or
    different version)."""
    code = "unsupported_version"
    status = 400
    user = 'This was made by a newer or different version of MeshKit and cannot be opened here.'


class CIDMismatchError(MeshKitError):
    """A block's bytes do not hash to the CID they were asked for."""
    code = "cid_mismatch"
    status = 400
    user = 'The gateway returned bytes that do not match their content address. Nothing was decrypted.'


class MissingBlockError(MeshKitError):
    """A block an envelope needs is not stored on the gateway, or a content path names
    nothing."""
    code = "missing_block"
    status = 404
    user = 'Part of this envelope is missing from the gateway.'


class TruncatedEnvelopeError(MeshKitError):
    """The final segment is missing or the stream ended early."""
    code = "truncated"
    status = 400
    user = 'This envelope is incomplete (truncated). Nothing past the damage was decrypted.'


class SegmentAuthenticationError(MeshKitError):
    """A segment failed AES-GCM authentication: tampered, reordered or from another envelope."""
    code = "segment_auth_failed"
    status = 400
    user = 'Part of this envelope failed authentication: it was tampered with or reordered.'


class SignatureError(MeshKitError):
    """A signed object's signature is missing or does not verify for the key it names."""
    code = "bad_signature"
    status = 400
    user = 'A signature does not verify: the data was tampered with or forged.'


class IdentityMismatchError(MeshKitError):
    """An identity id does not match its key, or a known contact's key changed."""
    code = "identity_mismatch"
    status = 400
    user = "An identity's id does not match its keys: it is forged or was altered."


class NotARecipientError(MeshKitError):
    """The identity is not among an envelope's recipients and holds no share of it (or a
    capsule is for someone else)."""
    code = "not_recipient"
    status = 403
    user = 'This identity is not a recipient of that envelope and holds no share of it.'


class KeyUnwrapError(MeshKitError):
    """The wrapped content key does not open, or does not match the header's key commitment."""
    code = "unwrap_failed"
    status = 400
    user = "The envelope's key could not be unwrapped for this identity."


class ExpiredError(MeshKitError):
    """A share past its expiry: the gateway releases it no more, and clients refuse it."""
    code = "expired"
    status = 410
    user = 'That share has expired.'


class OpensUsedUpError(MeshKitError):
    """A share made with a limit on its opens (a send link's "download limit") was opened
    that many times: the gateway releases it no more."""
    code = "opens_used_up"
    status = 410
    user = 'This link was opened as many times as its sender allowed; ask them for a new one.'


class RevokedError(MeshKitError):
    """A share its sharer revoked: the gateway releases it no more."""
    code = "revoked"
    status = 410
    user = 'That share was revoked by its owner.'


class PolicyDeniedError(MeshKitError):
    """The policy provider refused access to a policy-gated share."""
    code = "policy_denied"
    status = 403
    user = 'The policy for that share denies access.'


class PolicyUnavailableError(MeshKitError):
    """The policy provider of a policy-gated share did not answer in time (or answered
    nonsense): access fails closed."""
    code = "policy_unavailable"
    status = 503
    retryable = True
    user = "The share's policy provider could not be reached; access is refused until it answers."


class MissingMetadataError(MeshKitError):
    """The gateway holds no such record: capsule, proof, pin, sync record, message or
    account."""
    code = "missing_metadata"
    status = 404
    user = 'The gateway has no record of that.'


class UnsupportedError(MeshKitError):
    """The crypto backend or runtime lacks a required primitive."""
    code = "unsupported"
    status = 400
    user = 'This browser lacks something MeshKit needs.'


class LimitExceededError(MeshKitError):
    """A body, block, batch, read or list over the limit the gateway (or Core) sets for
    it."""
    code = "limit_exceeded"
    status = 413
    user = 'That is larger than the gateway accepts.'


class UnknownIdentityError(MeshKitError):
    """No identity or contact by that name or id: here, or in the gateway's directory."""
    code = "unknown_identity"
    status = 404
    user = 'No such identity or contact.'


class UnavailableError(MeshKitError):
    """The gateway or provider could not be reached or answered with a server error."""
    code = "unavailable"
    status = 502
    retryable = True
    user = 'The gateway cannot be reached right now. Check your connection and try again.'


class ProviderTimeoutError(UnavailableError):
    """The block store behind the gateway did not answer in time (HTTP 504): an IPFS node that
    searches the network for a block it does not hold, or one that is overloaded."""
    code = "provider_timeout"
    status = 504
    retryable = True
    user = 'The storage behind the gateway did not answer in time. Try again in a moment.'


class BusyError(UnavailableError):
    """The gateway's database stayed busy past its wait (many writers at once): nothing was
    changed, and the same request may be sent again."""
    code = "busy"
    status = 503
    retryable = True
    user = 'The gateway is busy right now; MeshKit will try again shortly.'


class AuthError(MeshKitError):
    """Missing, expired, tampered or out-of-scope capability token; failed challenge."""
    code = "unauthorized"
    status = 401
    user = "The gateway did not accept this device's credentials (was it removed from its account?)."


class ForbiddenError(MeshKitError):
    """Authenticated, but this identity may not do this (not its root, not its capsule)."""
    code = "forbidden"
    status = 403
    user = 'The gateway refuses this for your identity.'


class ConflictError(MeshKitError):
    """A compare-and-swap lost: the stored version is not the one the caller expected."""
    code = "conflict"
    status = 409
    user = 'Someone changed this at the same time; try again.'


class QuotaExceededError(MeshKitError):
    """The identity's storage or pin quota on the gateway would be exceeded: nothing was
    stored."""
    code = "quota_exceeded"
    status = 403
    user = 'Your storage quota on the gateway is used up.'


class MailboxFullError(QuotaExceededError):
    """One sender has as many unacknowledged messages in one mailbox as the gateway keeps
    from a single sender: the next waits until the recipient reads (acknowledges) some."""
    code = "mailbox_full"
    status = 403
    user = "That mailbox holds as many unread messages from you as it takes; try again once they read some."


class LocalStorageFullError(MeshKitError):
    """The browser refused to keep a file's encrypted blocks (its storage for this site is full)."""
    code = "local_storage_full"
    status = 507
    user = 'This browser has no room to keep the file while it uploads: free some space, or upload it directly.'


class StorageFullError(MeshKitError):
    """The gateway's own storage is full: nothing was stored or charged; reads still work,
    and the same request succeeds once the operator frees space."""
    code = "storage_full"
    status = 507
    retryable = True
    user = 'The gateway has run out of storage space. Nothing was lost; MeshKit will try again later.'


class RateLimitedError(MeshKitError):
    """Too many requests from one identity or address; ``Retry-After`` says when to come
    back."""
    code = "rate_limited"
    status = 429
    retryable = True
    user = 'Too many requests right now; MeshKit will try again shortly.'

    def __init__(self, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after  # seconds until the limit lets a request through (Retry-After)


class NotAcceptableError(MeshKitError):
    """A read asked for a response type the gateway does not serve (HTTP 406)."""
    code = "not_acceptable"
    status = 406
    user = 'The gateway does not serve that kind of response.'


class NotCachedError(MeshKitError):
    """``Cache-Control: only-if-cached`` and the block is not stored here (HTTP 412)."""
    code = "not_cached"
    status = 412
    user = 'That block is not stored on this gateway.'


class InvalidArgumentError(MeshKitError, ValueError):
    """A caller's argument is not acceptable (a past expiry, an ambiguous recipient name)."""
    code = "invalid_argument"
    status = 400
    user = 'That input is not valid.'


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


# --- accounts and devices (core.account, clients.accounts) ----------------------------------

class RecoveryPhraseError(InvalidArgumentError):
    """A phrase that is not 24 known words with a valid checksum. Never echoes the words."""
    code = "bad_phrase"
    status = 400
    user = "That is not the recovery phrase: check each word against your kit (24 words, in order)."


class RecoveryPhraseReplacedError(RecoveryPhraseError):
    """A phrase that was this account's, replaced since by a newer one (FORMAT.md 11.7)."""
    code = "phrase_replaced"
    status = 400
    user = "That recovery phrase was replaced by a newer one: use the newest recovery kit."


class AccountRollbackError(MeshKitError):
    """An account record older than (or forking from) one already verified."""
    code = "rollback"
    status = 409
    user = "The gateway offered an older version of an account than one already seen here: refused."


class AccountChainError(MeshKitError):
    """An account record not signed through the account's chain."""
    code = "bad_account_chain"
    status = 400
    user = "An account record is not signed through its account's chain of devices: refused."


class LinkError(MeshKitError):
    """A link that is malformed, for another device, already used, or answered wrongly."""
    code = "bad_link"
    status = 400
    user = "That device link cannot be used (already used, expired, or not a MeshKit link)."


class LinkCodeMismatchError(MeshKitError):
    """The code typed on a new device is not the one the approving device showed."""
    code = "link_code_mismatch"
    status = 400
    user = "The code does not match the one on the new device. Nothing was changed."


class InUseError(MeshKitError):
    """A MeshKit folder (``MeshKit.local``) is open in another program: one at a time uses
    it, and waiting helps only once that program closed it."""
    code = "in_use"
    status = 409
    user = "This MeshKit folder is in use by another program: close that one first."


class IdentityExistsError(MeshKitError):
    """An identity of that name exists in this store already."""
    code = "identity_exists"
    status = 409
    user = "An identity with that name exists here already: choose another name."


class PasskeyError(MeshKitError):
    """A passkey's stored recovery record that does not open for that passkey: altered at
    the gateway, another passkey's, or not for the account it names. Nothing was changed."""
    code = "bad_passkey"
    status = 400
    user = "This passkey's recovery record does not open: it was altered or belongs to another passkey. " \
           "Nothing was changed; use the recovery phrase."


class PasskeyStaleError(MeshKitError):
    """A passkey added before the account's recovery phrase changed: what it wraps is the old
    recovery secret, which no longer matches the account's keys."""
    code = "passkey_stale"
    status = 409
    user = "This passkey was added before the recovery phrase was changed: recover with the new phrase, " \
           "then add the passkey again."


class PasskeyExistsError(MeshKitError):
    """The authenticator already holds a passkey of this account (WebAuthn excludeCredentials):
    adding another there would orphan the first one's wrap. Nothing was changed."""
    code = "passkey_exists"
    status = 409
    user = "This passkey provider already holds a passkey for this account: remove that one first to add it again."


class PasskeyCancelledError(MeshKitError):
    """The browser's passkey prompt was cancelled, timed out, or refused (WebAuthn
    NotAllowedError): nothing was changed."""
    code = "passkey_cancelled"
    status = 400
    user = "The passkey prompt was cancelled or timed out. Nothing was changed."


# --- reported by the runtimes and the gateway themselves ------------------------------------

class InternalError(MeshKitError):
    """A failure that is nobody's input: reported without details (they could carry values)."""
    code = "internal"
    status = 500
    user = "Something went wrong inside MeshKit. Nothing was changed; try again, or copy the diagnostics."


class NotFoundError(MeshKitError):
    """An address the gateway does not have: no route for that path (or a file of the app
    that is not part of its build). Not a missing block or record: those have their codes."""
    code = "not_found"
    status = 404
    user = "The gateway has no such address: check the gateway's URL."


class MethodNotAllowedError(MeshKitError):
    """The gateway has that path, but not for that HTTP method (the reply's Allow header
    says which it takes)."""
    code = "method_not_allowed"
    status = 405
    user = "The gateway does not accept that kind of request at this address."


class LocalIOError(MeshKitError):
    """A local file the CLI reads or writes failed: not found, no permission, disk full. The
    message names the file and the system's reason, never the file's content."""
    code = "io_error"
    status = 500
    user = "A file on this computer could not be read or written (missing, no permission, or the disk is full)."


class IntegrityError(MeshKitError):
    """A file of the app itself does not match its build-time hash."""
    code = "integrity"
    status = 500
    user = "This copy of MeshKit was altered after it was built: it refuses to run."


class GatewayOriginRefusedError(MeshKitError):
    """The gateway answers, but not to this app's origin (CORS): it was started without
    ``--cors-origin`` for it. Raised by createMeshKit before anything is created."""
    code = "gateway_origin_refused"
    status = 400
    user = ("The gateway does not accept requests from this app's address. Its operator must allow it "
            "(meshkit serve --cors-origin).")


class CspBlockedError(MeshKitError):
    """The page's Content-Security-Policy blocks something MeshKit needs: connect-src for the
    gateway, worker-src blob: for Core's worker. Raised by createMeshKit."""
    code = "csp_blocked"
    status = 400
    user = ("This page's Content-Security-Policy blocks MeshKit (connect-src must name the gateway, worker-src "
            "must allow blob:).")


class InsecureContextError(MeshKitError):
    """The page or worker is not a secure context (https or localhost): WebCrypto and
    service workers are not available there."""
    code = "insecure_context"
    status = 400
    user = "MeshKit needs a secure page (https://, or localhost while developing)."


class StagingInterruptedError(MeshKitError):
    """A file's sealing into the outbox stopped before the whole file was read."""
    code = "interrupted"
    status = 400
    user = "Encrypting stopped before the whole file was read (the page was closed?). Encrypt it again."


def registry() -> dict:
    """Every error code: {code: {"status", "retryable", "message"}} (the user's sentence)."""
    found = {MeshKitError.code: MeshKitError}
    for cls in _all_error_classes():
        found.setdefault(cls.code, cls)
    return {code: {"status": cls.status, "retryable": cls.retryable, "message": cls.user}
            for code, cls in sorted(found.items())}
