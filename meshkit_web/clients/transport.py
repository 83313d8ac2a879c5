"""The gateway client's bottom layer: one HTTP exchange, nothing of the protocol.

A ``Transport`` sends a request and hands back the reply; it neither retries nor logs in
(clients/session.py does) nor knows a route (clients/gateway.py does). CPython uses
``HttpxTransport``; the browser runtime passes ``browser.fetch_client.FetchTransport``.
Each transport enforces the same two rules itself, because only it sees the bytes as they
arrive: a reply body over ``limit`` is refused as it streams in (a hostile gateway must not
make us buffer more than the largest legal answer), and replies come in identity encoding
(the bytes counted are the bytes kept: no decompression bomb).

This module imports no HTTP library at import time: Core users and the browser need none.
"""

import json
import re
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable, Protocol
from urllib.parse import urlsplit

from ..core.errors import EnvelopeFormatError, LimitExceededError, MeshKitError, UnavailableError
from ..core.urls import redact_url


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def json(self):
        """The body as JSON; a gateway's reply that is not JSON is malformed (typed)."""
        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past Python's stack
            raise EnvelopeFormatError("the gateway's reply is not JSON") from None


@dataclass
class ReplyStream:
    """A reply read as it arrives: ``chunks`` (bytes; transport failures raise
    UnavailableError), and ``aclose()`` to let go of it early."""
    status: int
    media_type: str
    chunks: AsyncIterator[bytes]
    aclose: Callable[[], Awaitable[None]]


class Transport(Protocol):
    """What the session needs of a runtime's HTTP (``body``: bytes, or a list of byte parts
    sent as one body). Failures to reach the gateway raise UnavailableError; a reply over
    ``limit`` bytes raises LimitExceededError (too_large)."""

    async def send(self, method: str, url: str, *, headers: dict, body: bytes | list | None,
                   limit: int) -> Response: ...

    async def stream_get(self, url: str, *, accept: str) -> ReplyStream: ...

    def offline(self) -> bool:
        """True when the runtime knows it has no network (then a failed send is not tried again)."""

    async def close(self) -> None: ...


def gateway_name(url: str) -> str:
    """The gateway of ``url`` as a message may name it: scheme and host, no credentials."""
    scheme, sep, rest = redact_url(url).partition("://")
    return scheme + sep + re.split(r"[/?#]", rest, maxsplit=1)[0]


def _path(url: str) -> str:
    try:
        return urlsplit(url).path or "/"
    except ValueError:
        return "?"


def too_large(url: str, limit: int) -> LimitExceededError:
    return LimitExceededError(f"gateway reply to {_path(url)} is over {limit} bytes: refused")


def check_declared_length(value: str | None, limit: int, url: str) -> None:
    """Refuse before reading when the reply says up front that it is too large."""
    if value is not None and value.strip().isdigit() and int(value) > limit:
        raise too_large(url, limit)


class HttpxTransport:
    """HTTP on CPython. ``transport``: an httpx transport to use instead of the network
    (MeshKit.local passes an ASGITransport that calls the gateway app in this process).
    The connection pool is made at the first request and again after ``close()`` (a
    client may be used from one event loop after another)."""

    def __init__(self, transport=None, *, timeout: float = 60.0):
        self.transport = transport
        self.timeout = timeout
        self._http = None

    def _client(self):
        import httpx  # here, not at import: Core users and the browser need no httpx
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout, transport=self.transport)
        return self._http

    async def send(self, method: str, url: str, *, headers: dict, body: bytes | list | None,
                   limit: int) -> Response:
        import httpx
        http = self._client()
        headers = {**headers, "Accept-Encoding": "identity"}
        try:
            if isinstance(body, list):
                body = b"".join(body)
            async with http.stream(method, url, headers=headers, content=body) as reply:
                check_declared_length(reply.headers.get("content-length"), limit, url)
                if reply.headers.get("content-encoding", "identity").lower() != "identity":
                    raise UnavailableError(f"gateway sent an encoded reply to {_path(url)} (asked for identity)")
                data = bytearray()
                async for chunk in reply.aiter_raw():
                    data += chunk
                    if len(data) > limit:
                        raise too_large(url, limit)
        except MeshKitError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, OverflowError, OSError) as exc:
            # an unparsable URL (a password with '/' in it, a port out of range) included: its
            # text may carry credentials, so only its redacted form and the error's type are told
            raise UnavailableError(f"gateway {gateway_name(url)} unreachable ({type(exc).__name__})") from None
        return Response(reply.status_code, dict(reply.headers), bytes(data))

    async def stream_get(self, url: str, *, accept: str) -> ReplyStream:
        import httpx
        http = self._client()
        try:
            request = http.build_request("GET", url, headers={"Accept": accept, "Accept-Encoding": "identity"})
            reply = await http.send(request, stream=True)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError, OverflowError, OSError) as exc:
            raise UnavailableError(f"gateway {gateway_name(url)} unreachable ({type(exc).__name__})") from None

        async def chunks():
            try:
                async for chunk in reply.aiter_raw():
                    yield chunk
            except (httpx.HTTPError, OSError) as exc:
                raise UnavailableError(f"gateway {gateway_name(url)}: reply broken off ({type(exc).__name__})") from None
        encoded = reply.headers.get("content-encoding", "identity").lower() != "identity"
        media_type = "" if encoded else reply.headers.get("content-type", "")  # an encoded body is no CAR to us
        return ReplyStream(reply.status_code, media_type, chunks(), reply.aclose)

    def offline(self) -> bool:
        return False  # CPython cannot tell: a request finds out

    async def close(self) -> None:
        if self._http is not None:
            http, self._http = self._http, None
            await http.aclose()
