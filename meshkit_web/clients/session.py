"""The gateway client's middle layer: one identity's session with one gateway.

``GatewaySession`` owns what every request shares: the one retry and pacing loop, the
gateway's clock (learned from each reply's Date), the capability token (fetched by
challenge-response, renewed by the gateway's clock) and turning an error reply into Core's
typed error (same ``code``). It sends through a Transport (clients/transport.py) and knows
no route but the login's; the protocol calls are clients/gateway.py.
"""

import asyncio
import json
import logging
import random
import re
from typing import Iterable

from ..core import codec
from ..core import clock as clocks  # clocks.local_now, looked up at each call: the one seam for the device's clock
from ..core.auth import challenge_message
from ..core.backend import CryptoBackend
from ..core.clock import GatewayClock
from ..core.errors import (EnvelopeFormatError, MeshKitError, MissingMetadataError, NotARecipientError, UnavailableError,
                           error_for_code)
from ..core.identity import Identity
from ..core.limits import MAX_REPLY_SIZE
from ..core.urls import redact_url
from .transport import HttpxTransport, ReplyStream, Response, Transport

log = logging.getLogger("meshkit.client")

ALL_SCOPES = ("blocks:write", "pins", "mailbox", "capsules", "proofs", "sync", "audit")
# Retrying. A dropped connection or a retryable 502/503/504 (a replica that died, a load
# balancer with none ready, the gateway's database down or busy) is waited out and the
# request sent again when it is safe to repeat: the gateway's Retry-After, else a doubling
# backoff with jitter, each wait at most RETRY_MAX_WAIT and all of them RETRY_BUDGET (a
# longer Retry-After, a policy service down, 507 storage_full: the typed error goes to the
# caller at once, with its retry_after, and the outbox comes back then). A 429 whose
# Retry-After is short is waited out likewise (nothing was done, so any request may go
# again), within the larger PACE_ bounds: a big upload slows to the gateway's rate.
RETRY_BACKOFF = (0.2, 0.5, 1.2, 2.5, 5.0)  # seconds before the 2nd, 3rd, ... send
RETRY_MAX_WAIT = 5     # seconds: the longest single wait for a 5xx (a database restart answers 3)
RETRY_BUDGET = 20      # seconds: all the waiting one request may do for 5xx answers
PACE_MAX_WAIT = 30     # seconds: the longest Retry-After of a 429 waited out here
PACE_BUDGET = 60       # seconds: all the waiting one request may do for 429s
RETRY_MAX_TRIES = 8    # sends of one request, at most
FAILOVER_STATUSES = (502, 503, 504)
# POSTs whose repetition changes nothing: content-addressed records (the same bytes make the
# same CID), pins, a fresh login challenge. Not /v1/auth/token (one-time) nor mailbox sends.
REPEATABLE_POSTS = ("/v1/blocks", "/v1/capsules", "/v1/proofs", "/v1/directory", "/v1/pins/", "/v1/accounts",
                    "/v1/auth/challenge", "/v1/release")
TOKEN_RENEW_MARGIN = 30  # seconds before a token's expiry (gateway time) that a new one is fetched
TOKEN_RENEW_MIN = 2      # seconds: the least margin (a Date header has whole seconds, a request takes time)


class GatewaySession:
    """One identity's session with one gateway (``identity`` None: anonymous requests only).
    ``transport``: how requests travel (default: an HttpxTransport with ``timeout``). Closing
    the session closes its transport (which opens again at its next request), but
    a sibling only borrows its parent's."""

    def __init__(self, base_url: str, backend: CryptoBackend, identity: Identity | None = None, *,
                 transport: Transport | None = None, scopes: Iterable[str] = ALL_SCOPES, timeout: float = 60.0,
                 clock: GatewayClock | None = None):
        self.base_url = base_url.rstrip("/")
        self.backend = backend
        self.identity = identity
        self.transport = transport if transport is not None else HttpxTransport(timeout=timeout)
        self.scopes = tuple(scopes)
        self.clock = clock or GatewayClock()  # the gateway's time, learned from its replies (core.clock)
        self._owns_transport = True
        self._token: str | None = None
        self._token_expires = 0
        self._token_margin = TOKEN_RENEW_MARGIN
        self._token_lock = asyncio.Lock()

    def sibling(self, identity: Identity | None = None) -> "GatewaySession":
        """A session of another identity with the same gateway, transport and clock. It
        borrows the transport: closing it leaves the transport to this session."""
        other = GatewaySession(self.base_url, self.backend, identity, transport=self.transport, scopes=self.scopes,
                               clock=self.clock)
        other._owns_transport = False
        return other

    @property
    def safe_url(self) -> str:
        """The base URL as messages and logs may show it (no userinfo, no query values)."""
        return redact_url(self.base_url)

    async def close(self) -> None:
        if self._owns_transport:
            await self.transport.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    # --- requests ------------------------------------------------------------------------
    async def request(self, method: str, path: str, *, body: bytes | list | None = None, json_body=None,
                      auth: bool = True, accept: str | None = None, content_type: str | None = None,
                      ok=(200, 201, 204), limit: int = MAX_REPLY_SIZE) -> Response:
        """One request, sent again while that is safe and worth it (see RETRY_BACKOFF);
        a reply whose status is not in ``ok`` raises its typed error."""
        headers = {}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        if accept:
            headers["Accept"] = accept
        retries = _Retries(repeatable(method, path))
        while True:
            if auth:
                headers["Authorization"] = "Bearer " + await self.token()
            try:
                sent = clocks.local_now()
                reply = await self.transport.send(method, self.base_url + path, headers=headers, body=body,
                                                  limit=limit)
                self.clock.observe(reply.headers, sent, clocks.local_now())
            except UnavailableError:
                if not self.transport.offline() and await retries.wait(None, "the gateway cannot be reached"):
                    continue
                raise
            if reply.status in ok:
                return reply
            wait = _retry_after(reply)
            if reply.status == 429 and wait is not None and await retries.wait(wait, "rate limit", pacing=True):
                continue
            if reply.status in FAILOVER_STATUSES and await retries.wait(wait, f"HTTP {reply.status}"):
                continue
            error = _error(reply)
            if wait is not None:  # rate limited, busy, unavailable, storage full: the outbox comes back then
                error.retry_after = wait
            raise error

    async def stream_get(self, path: str, *, accept: str) -> ReplyStream:
        """A GET whose body is read as it arrives (a streamed CAR): no failover or pacing here,
        its user falls back to single requests, which have both."""
        return await self.transport.stream_get(self.base_url + path, accept=accept)

    # --- the gateway's time and the token ------------------------------------------------
    async def gateway_now(self) -> int:
        """The gateway's time now (core.clock), asking it once if no reply told it yet."""
        if self.clock.offset is None:
            try:
                await self.request("GET", "/healthz", auth=False)
            except MeshKitError as exc:
                log.info("gateway time not known (%s): this device's clock is used", exc.code)
        return self.clock.now()

    async def token(self) -> str:
        """A capability token for this identity, fetched by challenge-response when needed."""
        async with self._token_lock:
            # the token's expiry is on the gateway's clock: so is the decision to renew it
            if self._token and self.clock.server_now() < self._token_expires - self._token_margin:
                return self._token
            if self.identity is None:
                raise NotARecipientError("this client has no identity to authenticate as")
            retries = _Retries(True)
            while True:
                try:
                    granted = await self._login()
                    break
                except UnavailableError as exc:
                    # the answer may have been used by a replica that died before replying, or
                    # the database was down: a challenge is one-time, so start from a new one
                    if self.transport.offline() or not await retries.wait(getattr(exc, "retry_after", None), "login"):
                        raise
            self._token, self._token_expires = granted["token"], int(granted["expires"])
            # renewed TOKEN_RENEW_MARGIN early, or a quarter of its life early if it is short, but
            # never later than TOKEN_RENEW_MIN before (the gateway's time is known to about a second)
            life = self._token_expires - self.clock.server_now()
            self._token_margin = max(TOKEN_RENEW_MIN, min(TOKEN_RENEW_MARGIN, life / 4))
            return self._token

    def forget_token(self) -> None:
        """The next authenticated request logs in afresh."""
        self._token = None

    async def _login(self) -> dict:
        """One challenge-response: a new challenge, signed, answered once."""
        challenge = (await self.request("POST", "/v1/auth/challenge", json_body={"id": self.identity.id},
                                        auth=False)).json()
        # signed over the URL this client chose, not anything the gateway said (no relaying)
        message = challenge_message(self.base_url, challenge["challenge"])
        signature = await self.backend.ed25519_sign(self.identity.sig_private, message)
        return (await self.request("POST", "/v1/auth/token", auth=False, json_body={
            "challenge": challenge["challenge"], "signature": codec.b64e(signature),
            "scopes": list(self.scopes)})).json()


def _error(reply: Response) -> MeshKitError:
    """The typed error an error reply stands for (its ``error`` code; else by status)."""
    try:
        payload = reply.json()
        return error_for_code(str(payload["error"]), str(payload.get("message", ""))[:300])
    except (EnvelopeFormatError, KeyError, TypeError):  # not JSON, or JSON without an error code
        if reply.status >= 500:
            return UnavailableError(f"gateway answered HTTP {reply.status}")
        if reply.status == 404:  # e.g. a route an older gateway does not have
            return MissingMetadataError(f"gateway answered HTTP {reply.status}")
        return MeshKitError(f"gateway answered HTTP {reply.status}")


def repeatable(method: str, path: str) -> bool:
    """May this request be sent again when its reply was lost? (idempotent, or content-addressed)"""
    if method in ("GET", "HEAD", "PUT", "DELETE"):
        return True
    return method == "POST" and path.startswith(REPEATABLE_POSTS) and not path.startswith("/v1/mailbox")


class _Retries:
    """The waiting one request may do before it is sent again (see RETRY_BACKOFF)."""

    def __init__(self, repeatable: bool):
        self.repeatable, self.tries = repeatable, 0
        self.waited = {False: 0.0, True: 0.0}  # for 5xx answers, for 429s

    async def wait(self, retry_after: int | None, why: str, *, pacing: bool = False) -> bool:
        """Wait before the next send, saying so; False when the request may not (or may no
        longer) be sent again. ``pacing``: a 429 (any request may go again)."""
        if not (self.repeatable or pacing) or self.tries >= RETRY_MAX_TRIES - 1:
            return False
        longest, budget = (PACE_MAX_WAIT, PACE_BUDGET) if pacing else (RETRY_MAX_WAIT, RETRY_BUDGET)
        pause = retry_after if retry_after is not None else RETRY_BACKOFF[min(self.tries, len(RETRY_BACKOFF) - 1)]
        if pause > longest:
            return False
        pause = min(longest, pause * random.uniform(1.0, 1.25))  # jitter: parallel requests do not come back at once
        if self.waited[pacing] + pause > budget:
            return False
        self.tries += 1
        self.waited[pacing] += pause
        (log.info if pause < 2 else log.warning)("%s: trying again in %.1f s", why, pause)
        await asyncio.sleep(pause)
        return True


def _retry_after(reply: Response) -> int | None:
    """Retry-After in whole seconds (RFC 9110 10.2.3; the date form is not waited on)."""
    value = next((v for k, v in reply.headers.items() if k.lower() == "retry-after"), None)
    value = (value or "").strip()
    return int(value) if re.fullmatch(r"[0-9]{1,6}", value) else None  # ASCII digits only ("²".isdigit())
