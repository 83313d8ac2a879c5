"""A second origin for security tests: a tiny ASGI app serving fixed pages and recording
every request it gets (an attacker's site, or a beacon the attacker's script would call)."""

import asyncio


class AttackerSite:
    """ASGI app: GET <path> answers pages[path] (HTML); every request is recorded in hits."""

    def __init__(self, pages: dict[str, str] | None = None):
        self.pages = dict(pages or {})
        self.hits: list[str] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        query = scope.get("query_string", b"").decode()
        self.hits.append(path + ("?" + query if query else ""))
        body = self.pages.get(path)
        status = 200 if body is not None or path == "/healthz" else 404
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"text/html; charset=utf-8"), (b"access-control-allow-origin", b"*")]})
        await send({"type": "http.response.body", "body": (body or "").encode()})
        await asyncio.sleep(0)
