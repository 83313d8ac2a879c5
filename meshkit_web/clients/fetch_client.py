"""The gateway client over the browser's ``fetch`` (page and service worker): same protocol
code as the CPython client, only the transport differs."""

import js
from pyodide.ffi import JsException, to_js

from ..core.errors import UnavailableError
from .gateway import GatewayClient, Response


class FetchGatewayClient(GatewayClient):
    async def _send(self, method: str, path: str, *, headers: dict, body: bytes | None) -> Response:
        init = {"method": method, "headers": to_js(headers, dict_converter=js.Object.fromEntries),
                "cache": "no-store", "credentials": "omit"}
        if body is not None:
            payload = js.Uint8Array.new(len(body))
            payload.assign(body)
            # Chromium uploads a Blob body ~3x faster than a typed array (measured: 1 MiB PUT
            # 12 ms vs 35 ms on loopback)
            init["body"] = js.Blob.new(to_js([payload]))
        try:
            reply = await js.fetch(self.base_url + path, to_js(init, dict_converter=js.Object.fromEntries))
            data = (await reply.arrayBuffer()).to_bytes()
        except JsException:  # TypeError "Failed to fetch": offline, refused, CORS
            raise UnavailableError(f"gateway {self.base_url} unreachable") from None
        reply_headers = {}
        reply.headers.forEach(lambda value, key, *_: reply_headers.__setitem__(key, value))
        return Response(int(reply.status), reply_headers, data)

    async def close(self) -> None:
        pass
