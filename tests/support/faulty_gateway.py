"""`meshkit serve`'s app wrapped in fault injection (slow block puts, one tampered block,
request counts) on a fixed port, so it can be stopped and started again on the same origin
with the same data: the service-worker and outbox tests."""

import asyncio
import json
import sqlite3

from meshkit_web.core import car

from support.servers import ServerThread, free_port


class Faults:
    """ASGI wrapper: counts blocks put (PUT, POST batches), pin and proof requests, can slow block puts and flip one byte of
    the n-th raw block served, alone (?format=raw) or in a streamed CAR (a whole open's read)."""

    def __init__(self, app):
        self.app = app
        self.put_delay = 0.0
        self.tamper_raw_block = None  # 0-based index among raw blocks served
        self.raw_served = 0
        self.puts: dict[str, int] = {}
        self.pins = 0
        self.pinned: dict[str, int] = {}  # root -> pin requests for it
        self.proofs = 0
        # set to a threading.Event: the browser's fetches of the service-worker script (the
        # register's, "Service-Worker: script") wait for it, so a test decides when the worker
        # can install and take control
        self.worker_script_gate = None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"], scope["method"]
        if self.worker_script_gate is not None and method == "GET" and \
                (b"service-worker", b"script") in scope.get("headers", []):
            await asyncio.to_thread(self.worker_script_gate.wait, 120)
        if method == "PUT" and path.startswith("/v1/blocks/"):
            self.puts[path.rsplit("/", 1)[1]] = self.puts.get(path.rsplit("/", 1)[1], 0) + 1
            await asyncio.sleep(self.put_delay)
        elif method == "POST" and path == "/v1/blocks":  # a batch: counted per block stored, slowed per block
            held = []

            async def hold(message):
                held.append(message)
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
                    stored = json.loads(body).get("blocks", []) if held[0]["status"] == 201 else []
                    for block in stored:
                        self.puts[block["cid"]] = self.puts.get(block["cid"], 0) + 1
                    await asyncio.sleep(self.put_delay * len(stored))
                    for item in held:
                        await send(item)
            return await self.app(scope, receive, hold)
        elif method == "POST" and path.startswith("/v1/pins/"):
            self.pins += 1
            root = path.rsplit("/", 1)[1]
            self.pinned[root] = self.pinned.get(root, 0) + 1
        elif method == "POST" and path == "/v1/proofs":
            self.proofs += 1
        elif (method == "GET" and b"format=car" in scope["query_string"] and self.tamper_raw_block is not None):
            return await self.app(scope, receive, self._car_tamperer(send))
        elif method == "GET" and path.startswith("/ipfs/bafk") and self.tamper_raw_block is not None:
            index, self.raw_served = self.raw_served, self.raw_served + 1
            if index == self.tamper_raw_block:
                async def flip(message):
                    if message["type"] == "http.response.body" and message.get("body"):
                        body = bytearray(message["body"])
                        body[len(body) // 2] ^= 1
                        message = {**message, "body": bytes(body)}
                    await send(message)
                return await self.app(scope, receive, flip)
        return await self.app(scope, receive, send)


    def _car_tamperer(self, send):
        """Flips one byte of the CAR's raw block that is the n-th raw block served (the body
        is held whole: the CARs of these tests are a few MiB)."""
        held = []

        async def hold(message):
            if message["type"] != "http.response.body":
                return await send(message)
            held.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = bytearray(b"".join(held))
            header_len, pos = car.decode_varint(body)
            pos += header_len
            while pos < len(body):
                frame_len, start = car.decode_varint(body, pos)
                cid_len = car.split_frame_cid(bytes(body[start:start + 40]))
                if body[start + 1] == 0x55:  # a raw block (a segment)
                    index, self.raw_served = self.raw_served, self.raw_served + 1
                    if index == self.tamper_raw_block:
                        body[start + cid_len + (frame_len - cid_len) // 2] ^= 1
                pos = start + frame_len
            await send({"type": "http.response.body", "body": bytes(body), "more_body": False})
        return hold


class Gateway:
    """`meshkit serve`'s app on a fixed port that can be stopped and started again (same
    origin, same data), wrapped in Faults."""

    def __init__(self, site, data_dir, **config):
        self.site, self.data_dir, self.config = site, data_dir, config
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.faults = None
        self.server = None

    def start(self) -> "Gateway":
        from meshkit_web.gateway.app import create_app
        from meshkit_web.gateway.config import GatewayConfig
        from meshkit_web.providers.embedded import EmbeddedProvider
        config = GatewayConfig(data_dir=str(self.data_dir), site_dir=str(self.site), **self.config)
        app = create_app(config, EmbeddedProvider(str(self.data_dir / "blockstore")))
        faults = self.faults
        self.faults = Faults(app)
        if faults is not None:  # keep counters and knobs across a restart
            self.faults.__dict__.update({k: v for k, v in faults.__dict__.items() if k != "app"})
        self.server = ServerThread(self.faults, port=self.port).start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def count(self, table: str, root: str) -> int:
        with sqlite3.connect(self.data_dir / "metadata.db") as db:
            return db.execute(f"SELECT count(*) FROM {table} WHERE root = ?", (root,)).fetchone()[0]
