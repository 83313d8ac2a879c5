"""The gateway client's transport over the browser's ``fetch`` (page and service worker):
``GatewayClient(url, backend, identity, transport=FetchTransport(backend))`` runs the same
session and protocol code as on CPython (clients/transport.py), only the bytes travel
differently."""

import asyncio

from ..clients.transport import ReplyStream, Response, check_declared_length, gateway_name, too_large
from ..core.errors import UnavailableError
from .ffi import JsException, js, js_bytes, js_object, to_js


SLOWEST_UPLOAD = 64 << 10  # bytes/s: the slowest upload a request is given time for


class FetchTransport:
    """``backend``: a WebCrypto backend whose JS copies of blocks are sent and kept (no
    copy made again); ``timeout``: seconds one exchange may take (plus upload time)."""

    def __init__(self, backend=None, *, timeout: float = 60.0):
        self.backend = backend
        self.timeout = timeout

    async def send(self, method: str, url: str, *, headers: dict, body: bytes | list | None,
                   limit: int) -> Response:
        """As the CPython transport: a reply over ``limit`` bytes is refused, never buffered.
        The whole exchange is bounded (the timeout, plus time to send the body at
        SLOWEST_UPLOAD), and one that stalls, or whose caller gives up, is aborted: a fetch
        left pending holds one of the browser's few connections to the gateway, and enough of
        them stall every later request of the page."""
        controller = js.AbortController.new()
        init = {"method": method, "headers": to_js(headers, dict_converter=js.Object.fromEntries),
                "cache": "no-store", "credentials": "omit", "signal": controller.signal}
        size = 0
        if body is not None:
            # Chromium uploads a Blob body ~3x faster than a typed array (measured: 1 MiB PUT
            # 12 ms vs 35 ms on loopback); a list of parts becomes one Blob of them
            # (a block the WebCrypto backend just sealed is sent from its JS copy, not copied again)
            parts = body if isinstance(body, list) else [body]
            size = sum(len(part) for part in parts)
            copy = getattr(self.backend, "js_array", js_bytes)
            init["body"] = js.Blob.new(to_js([copy(part) for part in parts]))
        deadline = self.timeout + size / SLOWEST_UPLOAD
        try:
            return await asyncio.wait_for(self._exchange(url, init, limit), deadline)
        except asyncio.TimeoutError:
            controller.abort()
            raise UnavailableError(f"gateway {gateway_name(url)}: no answer in {deadline:.0f} s") from None
        except asyncio.CancelledError:
            controller.abort()
            raise

    async def _exchange(self, url: str, init: dict, limit: int) -> Response:
        try:
            reply = await js.fetch(url, to_js(init, dict_converter=js.Object.fromEntries))
            declared = reply.headers.get("content-length")
            check_declared_length(None if declared is None else str(declared), limit, url)
            data, array = await _read_bounded(reply, limit, url,
                                              trust_length=declared is not None and reply.headers.get("content-encoding") is None)
            remember = getattr(self.backend, "remember_js", None)
            if array is not None and remember is not None:
                remember(data, array)  # a block fetched is hashed and decrypted next: from this JS copy
        except JsException:  # TypeError "Failed to fetch": offline, refused, CORS; or a broken stream
            raise UnavailableError(f"gateway {gateway_name(url)} unreachable") from None
        reply_headers = {}
        reply.headers.forEach(lambda value, key, *_: reply_headers.__setitem__(key, value))
        return Response(int(reply.status), reply_headers, data)

    async def stream_get(self, url: str, *, accept: str) -> ReplyStream:
        """As the CPython transport: each wait (the reply, then every chunk) is bounded by the
        timeout, and closing aborts the request (its connection is free again)."""
        controller = js.AbortController.new()
        init = js_object({"method": "GET", "headers": {"Accept": accept}, "cache": "no-store", "credentials": "omit"})
        init.signal = controller.signal
        reply = await self._bounded(js.fetch(url, init), controller, url, "unreachable")
        reader = reply.body.getReader() if reply.body is not None else None

        async def chunks():
            while reader is not None:
                step = await self._bounded(reader.read(), controller, url, "reply broken off")
                if step.done:
                    return
                yield step.value.to_bytes()

        async def aclose():
            controller.abort()  # ends the body too; an aborted fetch has nothing left to cancel
        # the browser decodes a content coding itself: what the stream gives is the body
        return ReplyStream(int(reply.status), str(reply.headers.get("content-type") or ""), chunks(), aclose)

    async def _bounded(self, promise, controller, url: str, what: str):
        """``promise`` within the timeout; a stall or a failure aborts the request."""
        try:
            return await asyncio.wait_for(_settled(promise), self.timeout)
        except (asyncio.TimeoutError, JsException):  # offline, refused, CORS, a broken stream, silence
            controller.abort()
            raise UnavailableError(f"gateway {gateway_name(url)}: {what}") from None
        except asyncio.CancelledError:
            controller.abort()
            raise

    def offline(self) -> bool:
        return not js.navigator.onLine

    async def close(self) -> None:
        pass  # fetch keeps no connection of ours open


async def _settled(promise):
    return await promise


async def _read_bounded(reply, limit: int, url: str, *, trust_length: bool) -> tuple[bytes, object]:
    """The body, refused once over ``limit``. With a Content-Length already checked and no
    content coding, the browser delivers at most that many bytes: one arrayBuffer() read
    (the fast path for blocks), whose JS array comes back too. Otherwise (chunked, or gzip whose decoded size is not
    declared) the stream is read chunk by chunk and cancelled once over the limit."""
    if trust_length or reply.body is None:
        array = js.Uint8Array.new(await reply.arrayBuffer())
        return array.to_bytes(), array
    reader = reply.body.getReader()
    data = bytearray()
    while True:
        step = await reader.read()
        if step.done:
            return bytes(data), None
        data += step.value.to_bytes()
        if len(data) > limit:
            await reader.cancel()
            raise too_large(url, limit)
