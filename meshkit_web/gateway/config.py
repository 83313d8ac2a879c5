"""Gateway configuration. Secrets (token key, provider credentials) come from the
environment or files under the data directory, never from command-line arguments (which
other users can read in the process list), and never appear in responses or logs."""

import os
import secrets
from dataclasses import dataclass, field

from ..core.auth import SCOPES  # noqa: F401 - the token scopes (their one home is Core), named here too
from ..core.errors import InvalidArgumentError
from ..core.limits import MAX_SEGMENT_BLOCK

ANONYMOUS_LIMITS = {"directory": "30/minute", "challenge": "300/minute", "accounts": "60/minute",
                    "passkeys": "20/minute"}  # passkey wraps looked up (each needs the passkey's PRF)


@dataclass
class GatewayConfig:
    data_dir: str = "./meshkit-data"
    provider: str = "embedded"                 # embedded | kubo
    kubo_api: str = "http://127.0.0.1:5001"
    metadata_url: str | None = None            # default: sqlite:///DATA/metadata.db
    audience: str = "meshkit-gateway"          # what tokens and challenge answers are bound to
    token_ttl: int = 300                       # seconds a capability token lives
    challenge_ttl: int = 60
    max_block_size: int = MAX_SEGMENT_BLOCK    # a sealed segment of the largest size
    max_message_size: int = 64 << 10
    # POST /v1/blocks: one CAR of many blocks per request (a few requests in flight beat one per block)
    max_batch_size: int = 32 << 20
    max_batch_blocks: int = 256
    pin_quota: int = 1 << 30                   # bytes of pinned DAGs per identity
    storage_quota: int = 2 << 30               # bytes of blocks an identity has put and not yet collected
    # blocks are refused (storage_full) before the disk's free space falls under this: the
    # database and the logs always keep room, so logins, reads and unpins go on when it is full
    min_free: int = 64 << 20
    gc_grace: int = 24 * 3600                  # seconds an unpinned block is kept before it is collected
    gc_interval: int = 3600                    # seconds between garbage collections (0: never in the background)
    # per client address, `limits` notation: new identities (and accounts) in the directory; login
    # probes (challenges for unknown ids, wrong answers); account records posted. A key left out
    # of a configured dict keeps its default (ANONYMOUS_LIMITS).
    anonymous_limits: dict = field(default_factory=lambda: dict(ANONYMOUS_LIMITS))
    # per identity, after its signature checked out: logins (and challenges asked from one address)
    login_limit: str = "60/minute"
    account_limit: str = "20/minute"           # versions of one account published (after they verify)
    account_versions_kept: int = 256           # newest versions of each account record kept
    passkeys_per_account: int = 10             # passkey wraps of one account's recovery secret
    link_codes_per_identity: int = 4           # live short codes of device links one identity keeps
    link_code_limit: str = "10/minute"         # short codes looked up, per identity and per address (each
                                               # a guess at 50 bits: never many)
    # mailboxes: what one sender may leave unread in one mailbox, how long messages are kept
    mailbox_sender_limit: int = 64             # unacknowledged messages from one sender to one recipient
    mailbox_notice_limit: int = 1024           # unacknowledged share/sealed notices, likewise (each one an
                                               # envelope or capsule the sender stored and pays for)
    mailbox_retention: int = 90 * 24 * 3600    # seconds an unacknowledged message is kept
    mailbox_acked_grace: int = 7 * 24 * 3600   # seconds an acknowledged message is still listed (all=true)
    public_urls: list[str] = field(default_factory=list)  # the URLs clients use (logins are bound to them)
    # how much of a DAG one trustless read may walk: the CAR of one envelope stays well inside
    max_read_blocks: int = 70_000
    max_read_cbor_bytes: int = 4 << 20
    rate_limit: str = "1200/minute"            # per identity, `limits` notation
    rate_limit_storage: str = "memory://"      # e.g. redis://host:6379 when several gateways share limits
    cors_origins: list[str] = field(default_factory=list)
    policy_url: str | None = None              # the policy provider's base URL
    policy_timeout: float = 2.0
    provider_timeout: float = 30.0
    site_dir: str | None = None                # the PWA built by build.py, served from this origin
    # secrets: filled from the environment / data dir by load_secrets(), never printed
    token_key: bytes = field(default=b"", repr=False)
    kubo_auth: str | None = field(default=None, repr=False)
    redis_url: str | None = field(default=None, repr=False)  # may hold a password: from the environment only

    @property
    def metadata(self) -> str:
        return self.metadata_url or "sqlite:///" + os.path.join(os.path.abspath(self.data_dir), "metadata.db")

    def load_secrets(self) -> None:
        """MESHKIT_TOKEN_KEY (shared by every gateway behind one load balancer) or a key file
        created once under the data directory (0600); MESHKIT_KUBO_AUTH for the Kubo API's
        Authorization header value; MESHKIT_REDIS_URL for the state replicas share."""
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        env_key = os.environ.get("MESHKIT_TOKEN_KEY")
        if env_key:
            self.token_key = env_key.encode()
        else:
            path = os.path.join(self.data_dir, "token-key")
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(48))
            except FileExistsError:
                pass
            with open(path) as f:
                self.token_key = f.read().strip().encode()
        if len(self.token_key) < 32:
            raise InvalidArgumentError("the token key must be at least 32 bytes")
        self.kubo_auth = os.environ.get("MESHKIT_KUBO_AUTH") or None
        # replicas behind one load balancer share rate limits here (challenges: the database)
        self.redis_url = os.environ.get("MESHKIT_REDIS_URL") or self.redis_url
