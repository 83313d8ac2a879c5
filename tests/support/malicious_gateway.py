"""The malicious gateway: the real `meshkit serve` app behind a small proxy that rewrites the
replies a test chooses (hold back, replace, roll back, answer 404), while the clients stay
unmodified. Clients talk to ``proxy.url``; the real gateway signs its logins for that URL.

    gw.on("GET", r"^/v1/mailbox$", gw.rewrite_json(lambda reply: ...))
    gw.on("GET", r"^/v1/account-sync/library$", gw.answer(404))
"""

import re
import threading

import httpx
import pytest

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "upgrade"}


class Reply:
    def __init__(self, status: int, headers: list, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        import json
        return json.loads(self.body)


class MaliciousGateway:
    """An ASGI app forwarding to ``upstream``; rules (first match wins) may change a reply."""

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.rules: list = []
        self.seen: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self._lock = threading.Lock()
        self._http = None

    # --- what a test says -------------------------------------------------------------
    def on(self, method: str, path: str, action, times: int | None = None):
        """From now on, requests matching ``method`` and the regex ``path`` (query included)
        get ``action(request_body, forward) -> Reply`` (``times``: only that many)."""
        rule = {"method": method, "path": re.compile(path), "action": action, "left": times}
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    @staticmethod
    def answer(status: int, body: bytes = b'{"error":"missing_metadata","message":"no such thing"}'):
        async def action(_body, _forward):
            return Reply(status, [(b"content-type", b"application/json")], body)
        return action

    @staticmethod
    def rewrite_json(change):
        """The real reply with its JSON body changed by ``change(value) -> value``."""
        async def action(_body, forward):
            import json
            reply = await forward()
            if reply.status == 200:
                reply.body = json.dumps(change(reply.json())).encode()
            return reply
        return action

    @staticmethod
    def replay(recorded: Reply):
        """Always the same (earlier) reply: a rollback."""
        async def action(_body, _forward):
            return Reply(recorded.status, list(recorded.headers), recorded.body)
        return action

    async def record(self, method: str, path: str, headers=None) -> Reply:
        """What the real gateway answers now, asked from a test's own event loop (to replay later)."""
        async with httpx.AsyncClient(timeout=60) as http:
            return self._reply(await http.request(method, self.upstream + path, headers=headers or {}))

    async def fetch(self, method: str, path: str, body: bytes = b"", headers=None) -> Reply:
        return self._reply(await self._http_client().request(method, self.upstream + path, content=body,
                                                             headers=headers or {}))

    @staticmethod
    def _reply(reply) -> Reply:
        return Reply(reply.status_code, [(k.encode(), v.encode()) for k, v in reply.headers.items()
                                         if k.lower() not in HOP_BY_HOP], reply.content)

    # --- ASGI ------------------------------------------------------------------------------
    def _http_client(self):
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=60)
        return self._http

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        method = scope["method"]
        path = scope["path"] + (("?" + scope["query_string"].decode()) if scope["query_string"] else "")
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.decode().lower() not in HOP_BY_HOP}
        with self._lock:
            self.seen.append((method, path))
            rule = next((r for r in self.rules if r["method"] == method and r["path"].search(path)
                         and r["left"] != 0), None)
            if rule is not None and rule["left"] is not None:
                rule["left"] -= 1

        async def forward() -> Reply:
            return await self.fetch(method, path, body, headers)
        reply = await (rule["action"](body, forward) if rule else forward())
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": [(k, v) for k, v in reply.headers if k.decode().lower() not in HOP_BY_HOP]})
        await send({"type": "http.response.body", "body": reply.body})


def start(tmp_path, **config):
    """A real gateway (embedded provider, SQLite) behind the proxy: (proxy, its server, the
    gateway's server). Stop both servers when done."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread, free_port
    port = free_port()
    data = tmp_path / "gateway-behind-proxy"
    gateway = ServerThread(create_app(GatewayConfig(data_dir=str(data), public_urls=[f"http://127.0.0.1:{port}"],
                                                    **config),
                                      EmbeddedProvider(str(data / "blockstore")))).start()
    proxy = MaliciousGateway(gateway.url)
    server = ServerThread(proxy, port=port).start()
    proxy.url = server.url
    return proxy, server, gateway


@pytest.fixture
def lying_app(browser, site, tmp_path):
    """(proxy, page): the app served through the lying proxy, booted in a new context."""
    from support.browser import ready
    proxy, server, gateway = start(tmp_path, site_dir=str(site))
    context = browser.new_context(base_url=proxy.url)
    page = context.new_page()
    ready(page)
    yield proxy, page
    context.close()
    server.stop()
    gateway.stop()
