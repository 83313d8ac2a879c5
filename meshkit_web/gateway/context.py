"""What every route family shares: the config, the stores, the token issuer, the rate
limiter, the dependency that decides who is calling (``requires``), and how often a caller
may do something (``limit``; per client address for anonymous callers: ``limit_anonymous``)."""

import asyncio
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from fastapi import Depends, Request
from limits import parse as parse_rate
from limits.aio.strategies import MovingWindowRateLimiter

from ..core.account import recovery_recipient_id
from ..core.auth import canonical_url
from ..core.cid import cid_str
from ..core.envelope import read_header
from ..core.errors import AuthError, ForbiddenError, MissingBlockError, RateLimitedError
from ..crypto.nacl_backend import NaclBackend
from ..providers.base import INLINE_DECODE, BlockProvider
from ..stores.metadata import MetadataStore
from ..stores.shared_state import StorageError, limit_storage, unavailable
from .config import ANONYMOUS_LIMITS, GatewayConfig
from .tokens import TokenIssuer


@dataclass
class Gateway:
    config: GatewayConfig
    provider: BlockProvider
    store: MetadataStore
    issuer: TokenIssuer = field(init=False)
    backend: NaclBackend = field(default_factory=NaclBackend)
    policy: object = None  # PolicyClient, made in the app's lifespan (it owns an HTTP client)
    headers: OrderedDict = field(default_factory=OrderedDict, repr=False)  # verified envelope headers by root

    def __post_init__(self):
        c = self.config
        self.issuer = TokenIssuer(c.token_key, c.audience, c.token_ttl, c.challenge_ttl)
        # with Redis, every replica counts in the same windows (used challenges: the database)
        self.limiter = MovingWindowRateLimiter(limit_storage(c.redis_url, c.rate_limit_storage))
        self.rate = parse_rate(c.rate_limit)
        self.anonymous_rates = {name: parse_rate(value)
                                for name, value in {**ANONYMOUS_LIMITS, **c.anonymous_limits}.items()}
        self.login_rate = parse_rate(c.login_limit)
        self.account_rate = parse_rate(c.account_limit)
        self.public_urls = {canonical_url(url) for url in c.public_urls}

    async def audit(self, identity: str | None, action: str, target: str | None, outcome: str = "ok") -> None:
        """An entry in ``identity``'s audit view, written only on behalf of that identity
        (anonymous events are counted per identity instead: store.count_anonymous)."""
        await self.store.audit(identity, action, target[:160] if target else target, outcome)

    def own_urls(self, request: Request) -> set[str]:
        """The URLs clients may have signed a login for: the configured public URLs (behind a
        proxy or TLS terminator; `meshkit serve` adds localhost on loopback), else exactly
        the address this socket is bound to, taken from the server, never from the Host
        header a relaying gateway controls. No other name: another process listening on
        another loopback address with the same port must not be able to relay logins."""
        if self.public_urls:
            return self.public_urls
        server = request.scope.get("server")
        if not server:
            return set()
        host, port = server[0], server[1]
        return {canonical_url(f"http://{host if ':' not in host else f'[{host}]'}:{port}")}

    def requires(self, scope: str):
        async def check(request: Request) -> str:
            header = request.headers.get("authorization", "")
            if not header.lower().startswith("bearer "):
                raise AuthError("a capability token is required (Authorization: Bearer ...)")
            identity = self.issuer.verify(header[7:].strip(), scope)
            await self.require_current_device(identity)
            if not await self._hit(self.rate, identity):
                raise RateLimitedError(f"rate limit {self.config.rate_limit} exceeded for {identity}",
                                       await self._retry_after(self.rate, identity))
            return identity
        return Depends(check)

    async def require_current_device(self, identity: str) -> None:
        """A device removed from its account is refused at once, whatever token it holds."""
        status = await self.store.device_status(identity)
        if status is not None and status["removed"]:
            raise AuthError(f"this device was removed from account {status['account']}")

    async def current_account(self, identity: str) -> str:
        """The account the caller is a current device of, or ForbiddenError: account-scoped
        state (account sync records, passkey wraps) is for the account's current devices."""
        status = await self.store.device_status(identity)
        if status is None or status["removed"]:
            raise ForbiddenError("this is for the current devices of an account")
        return status["account"]

    async def aliases(self, identity: str) -> set[str]:
        """The recipient ids the caller answers for: its own, and for a current device of an
        account, the account's recovery key (FORMAT.md 11.1). Unwrapping anything sealed to
        the recovery key still takes the key, which only the recovery phrase gives."""
        status = await self.store.device_status(identity)
        if status is None or status["removed"]:
            return {identity}
        return {identity, recovery_recipient_id(status["account"])}

    async def own_devices(self, identity: str) -> set[str]:
        """The caller, and for a current device of an account: the account's other current
        devices and its recovery key (a capsule among them is a re-wrap, not a share)."""
        status = await self.store.device_status(identity)
        if status is None or status["removed"]:
            return {identity}
        return {identity, recovery_recipient_id(status["account"]),
                *await self.store.account_device_ids(status["account"])}

    async def limit_anonymous(self, request: Request, kind: str, what: str) -> None:
        """One more ``kind`` (anonymous_limits) from this client address, or RateLimitedError:
        what anyone may do without a token is limited per address (new identities are not free)."""
        await self.limit(self.anonymous_rates[kind], f"too many {what} from this address",
                         "anon", kind, client_address(request))

    async def limit(self, rate, refusal: str, *key: str) -> None:
        """One more request in ``key``'s window of ``rate`` (shared through Redis when
        configured), or RateLimitedError with ``refusal`` and when to come back."""
        if not await self._hit(rate, *key):
            raise RateLimitedError(f"{refusal}; try again later", await self._retry_after(rate, *key))

    async def _hit(self, rate, *key: str) -> bool:
        """One more request in the window; a limiter store that fails refuses (fails closed)."""
        try:
            return await self.limiter.hit(rate, *key)
        except StorageError as exc:
            raise unavailable(exc.storage_error) from None

    async def _retry_after(self, rate, *key: str) -> int:
        """Whole seconds until the moving window lets one more request through."""
        try:
            stats = await self.limiter.get_window_stats(rate, *key)
        except StorageError as exc:
            raise unavailable(exc.storage_error) from None
        return max(1, math.ceil(stats.reset_time - time.time()))


def client_address(request: Request) -> str:
    """The caller's address (the trusted proxy's X-Forwarded-For is applied by the server)."""
    return request.client.host if request.client else "unknown"


_HEADERS_KEPT = 4096  # verified headers remembered per gateway (a header's bytes never change)


async def envelope_header(gw: Gateway, root: bytes):
    """The verified header of an envelope root stored here. Its bytes are fetched on the
    event loop, then decoded and checked in the provider's decode slot (a 1 MiB header is
    seconds of pure-Python CPU: never on the loop, never many at once)."""
    cache = gw.headers
    if root in cache:
        cache.move_to_end(root)
        return cache[root]
    data = await gw.provider.get(root)

    async def only(cid: bytes) -> bytes:
        if cid != root:
            raise MissingBlockError("a header is read from its own block only")
        return data
    if len(data) <= INLINE_DECODE:  # a header of a few segments: a millisecond, on the loop
        header = await read_header(gw.backend, root, only)
    else:
        header = await gw.provider.decode_off_loop(lambda: asyncio.run(read_header(gw.backend, root, only)))
    cache[root] = header
    while len(cache) > _HEADERS_KEPT:
        cache.popitem(last=False)
    return header


async def parties_of(gw: Gateway, root: bytes) -> set[str]:
    """Who has a stake in an envelope: its sender, the recipients in its header, and the
    sharers and recipients of its shares."""
    header = await envelope_header(gw, root)
    found = {header.sender_id, *(entry.recipient for entry in header.recipients)}
    for row in await gw.store.find_capsules(root=cid_str(root)):
        found.update((row["sharer"], row["recipient"]))
    return found
