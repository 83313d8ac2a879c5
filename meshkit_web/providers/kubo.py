"""Kubo RPC provider: blocks, pins and CAR export through Kubo's HTTP RPC API (/api/v0).

Only the gateway talks to Kubo, with the operator's credentials (``MESHKIT_KUBO_AUTH``,
sent as the Authorization header); browsers never see this API. Reads run with
``offline=true``: the gateway serves what its node holds rather than hanging on a network
search, and a block it does not hold is a clean 404.

Endpoints (https://docs.ipfs.tech/reference/kubo/rpc/): block/put, block/get, block/stat,
pin/add, pin/rm, dag/export. Every RPC call is a POST.
"""

from typing import AsyncIterator

import httpx

from ..core.cid import CODEC_NAMES, cid_str, codec_of, parse_cid
from ..core.errors import CIDMismatchError, MissingBlockError, UnavailableError
from .base import BlockProvider

_NOT_FOUND_HINTS = ("not found", "could not find", "no link named", "block was not found")


class KuboProvider(BlockProvider):
    name = "kubo"

    def __init__(self, api_url: str, *, auth: str | None = None, timeout: float = 30.0):
        self.api_url = api_url.rstrip("/")
        self._headers = {"Authorization": auth} if auth else {}
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never the credentials
        return f"<KuboProvider {self.api_url}>"

    async def start(self) -> None:
        self._client = httpx.AsyncClient(base_url=self.api_url + "/api/v0", headers=self._headers,
                                         timeout=self._timeout)
        reply = await self._rpc("version")
        self.version = reply.json().get("Version", "?")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def _rpc(self, command: str, *, params: dict | None = None, files=None,
                   missing: bytes | None = None) -> httpx.Response:
        try:
            reply = await self._client.post("/" + command, params=params, files=files)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"Kubo RPC {command} failed ({type(exc).__name__})") from None
        return self._check(command, reply, missing)

    def _check(self, command: str, reply: httpx.Response, missing: bytes | None) -> httpx.Response:
        if reply.status_code == 200:
            return reply
        try:
            message = str(reply.json().get("Message", ""))
        except ValueError:
            message = ""
        if missing is not None and any(hint in message.lower() for hint in _NOT_FOUND_HINTS):
            raise MissingBlockError(f"block {cid_str(missing)} is not stored")
        if reply.status_code in (401, 403):
            raise UnavailableError(f"Kubo RPC {command} refused the gateway's credentials")
        # Kubo's message may echo request details; the client gets only the command and status
        raise UnavailableError(f"Kubo RPC {command} answered HTTP {reply.status_code}")

    async def put(self, cid: bytes, data: bytes) -> None:
        params = {"cid-codec": CODEC_NAMES[codec_of(cid)], "mhtype": "sha2-256", "mhlen": "32", "pin": "false"}
        reply = await self._rpc("block/put", params=params, files={"file": ("block", bytes(data),
                                                                            "application/octet-stream")})
        stored = parse_cid(reply.json()["Key"])
        if stored != cid:  # Kubo computed another CID: never report success for the wrong block
            raise CIDMismatchError(f"Kubo stored {cid_str(stored)}, not {cid_str(cid)}")

    async def get(self, cid: bytes) -> bytes:
        reply = await self._rpc("block/get", params={"arg": cid_str(cid), "offline": "true"}, missing=cid)
        return reply.content

    async def size(self, cid: bytes) -> int | None:
        try:
            reply = await self._rpc("block/stat", params={"arg": cid_str(cid), "offline": "true"}, missing=cid)
        except MissingBlockError:
            return None
        return int(reply.json()["Size"])

    async def pin(self, root: bytes) -> None:
        await self._rpc("pin/add", params={"arg": cid_str(root), "recursive": "true", "offline": "true"},
                        missing=root)

    async def unpin(self, root: bytes) -> None:
        try:
            await self._rpc("pin/rm", params={"arg": cid_str(root), "recursive": "true"}, missing=root)
        except UnavailableError:
            pass  # "not pinned": the result the caller wanted

    async def export_car(self, root: bytes) -> AsyncIterator[bytes]:
        """Kubo's own CARv1 export of the DAG, streamed through."""
        if await self.size(root) is None:
            raise MissingBlockError(f"block {cid_str(root)} is not stored")
        request = self._client.build_request("POST", "/dag/export",
                                             params={"arg": cid_str(root), "offline": "true"})
        try:
            reply = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise UnavailableError(f"Kubo RPC dag/export failed ({type(exc).__name__})") from None
        try:
            if reply.status_code != 200:
                await reply.aread()
                self._check("dag/export", reply, root)
            async for chunk in reply.aiter_bytes():
                yield chunk
        finally:
            await reply.aclose()
