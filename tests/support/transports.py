"""Transports that let a test watch a real client's exchanges (clients/transport.py): the
client is built with ``transport=Recording(...)`` instead of being subclassed."""

from urllib.parse import urlsplit

from meshkit_web.clients.transport import HttpxTransport


class Recording(HttpxTransport):
    """HttpxTransport noting every exchange: ``events`` ("start" | "end", method, path without
    the query), in order; ``on_reply(method, path, reply)`` as each reply comes in."""

    def __init__(self, transport=None, *, on_reply=None, **kw):
        super().__init__(transport, **kw)
        self.events: list[tuple[str, str, str]] = []
        self.on_reply = on_reply

    async def send(self, method, url, **kw):
        path = urlsplit(url).path
        self.events.append(("start", method, path))
        reply = await super().send(method, url, **kw)
        self.events.append(("end", method, path))
        if self.on_reply is not None:
            self.on_reply(method, path, reply)
        return reply
