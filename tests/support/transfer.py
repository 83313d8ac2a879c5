"""What a server really sent: an ASGI wrapper that records, per response, the path, status,
Content-Encoding and the body bytes that went on the wire (tests/sdk/test_site_compression.py,
bench/first_visit.py)."""

import dataclasses
import os
import threading


@dataclasses.dataclass
class Sent:
    method: str
    path: str
    status: int
    encoding: str  # Content-Encoding, "" for none
    content_type: str
    body_bytes: int  # as sent: the compressed size of a compressed response
    header_bytes: int  # the status line's and headers' size as HTTP/1.1 writes them (approximately)


class TransferLog:
    """ASGI wrapper around ``app``: every HTTP response it sends, in ``sent``."""

    def __init__(self, app):
        self.app = app
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self.sent.clear()

    def snapshot(self) -> list[Sent]:
        with self._lock:
            return list(self.sent)

    def total(self, since: int = 0) -> int:
        """Bytes sent (headers and bodies) by the responses from index ``since`` on."""
        return sum(s.body_bytes + s.header_bytes for s in self.snapshot()[since:])

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        record = Sent(scope["method"], scope["path"], 0, "", "", 0, 0)

        async def counting(message):
            if message["type"] == "http.response.start":
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
                record.status = message["status"]
                record.encoding = headers.get("content-encoding", "")
                record.content_type = headers.get("content-type", "")
                record.header_bytes = len("HTTP/1.1 200 OK\r\n\r\n") + sum(
                    len(k) + len(v) + 4 for k, v in message.get("headers", []))
                with self._lock:
                    self.sent.append(record)
            elif message["type"] == "http.response.body":
                record.body_bytes += len(message.get("body", b""))
            elif message["type"] == "http.response.pathsend":  # a file sent by the server itself

                record.body_bytes += os.path.getsize(message["path"])
            await send(message)

        await self.app(scope, receive, counting)
