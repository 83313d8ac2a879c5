"""Kubo RPC provider: blocks, pins and CAR export through Kubo's HTTP RPC API (/api/v0).

Only the gateway talks to Kubo, with the operator's credentials (``MESHKIT_KUBO_AUTH``,
sent as the Authorization header); browsers never see this API. Reads run with
``offline=true``: the gateway serves what its node holds rather than hanging on a network
search, and a block it does not hold is a clean 404. A node that ignores ``offline`` (js-ipfs)
searches until the RPC's own ``timeout`` option, sent on every read a little under the
gateway's, stops it: then the gateway answers ``provider_timeout`` (504), never hangs.

Written to Kubo's documented API and checked against two servers: Kubo's behaviour as its
source defines it (tests/kubo_fake.py) and js-ipfs 0.66, a second, independent implementation
(tests/ipfs/). Where they differ the provider uses what both accept: ``block/put`` names the
codec with ``format`` (js-ipfs ignores ``cid-codec`` and would answer a CIDv0).

Endpoints (https://docs.ipfs.tech/reference/kubo/rpc/): block/put, block/get, block/stat,
pin/add, pin/rm, dag/export. Every RPC call is a POST.
"""

import logging
import re
from typing import AsyncIterator


import httpx

from ..core.cid import CODEC_NAMES, cid_str, codec_of, parse_cid
from ..core.errors import (CIDMismatchError, EnvelopeFormatError, MissingBlockError, ProviderTimeoutError,
                           UnavailableError)
from .base import BlockProvider

_NOT_FOUND_HINTS = ("not found", "could not find", "no link named", "block was not found")
log = logging.getLogger("meshkit.kubo")
# pin/rm of a root that is not pinned: boxo pinner's ErrNotPinned (Kubo), ipfs-core's wording (js-ipfs)
_NOT_PINNED = ("not pinned or pinned indirectly", "is not pinned")
# the RPC's own timeout option fired (Kubo: context deadline; js-ipfs: TimeoutError)
_TIMED_OUT = ("context deadline exceeded", "request timed out", "timeouterror")
TIMEOUT_MARGIN = 2.0  # seconds the server's timeout leaves the gateway's HTTP timeout, to answer in
_COULD_NOT_FIND = re.compile(r"could not find ([A-Za-z0-9]+)")  # "ipld: could not find <cid>"


def _message(reply: httpx.Response) -> str:
    """Kubo's error message: {"Message", "Code", "Type": "error"} for command errors; plain
    text (405, 404, 403 from API.Authorizations) carries none worth keeping."""
    try:
        body = reply.json()
    except ValueError:
        return ""
    return str(body.get("Message", "")) if isinstance(body, dict) else ""


def _named_cid(message: str) -> bytes | None:
    """The CID of the absent block Kubo names, if it is one of ours."""
    found = _COULD_NOT_FIND.search(message)
    if not found:
        return None
    try:
        return parse_cid(found.group(1))
    except EnvelopeFormatError:
        return None


class KuboProvider(BlockProvider):
    name = "kubo"

    def __init__(self, api_url: str, *, auth: str | None = None, timeout: float = 30.0):
        self.api_url = api_url.rstrip("/")
        self._headers = {"Authorization": auth} if auth else {}
        self._timeout = timeout
        # Kubo's global --timeout option (and js-ipfs's): the server gives up first and says so
        self._rpc_timeout = f"{max(1.0, timeout - TIMEOUT_MARGIN):g}s"
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never the credentials
        return f"<KuboProvider {self.api_url}>"

    async def start(self) -> None:
        self._client = httpx.AsyncClient(base_url=self.api_url + "/api/v0", headers=self._headers,
                                         timeout=self._timeout)
        try:
            self.version = str(self._json("version", await self._rpc("version"))["Version"])
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @staticmethod
    def _json(command: str, reply: httpx.Response) -> dict:
        try:
            value = reply.json()
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise UnavailableError(f"Kubo RPC {command} answered something that is not Kubo's JSON")
        return value

    def _read(self, cid: bytes, **params) -> dict:
        """Query parameters of a read: offline, and the server-side timeout for nodes that search anyway."""
        return {"arg": cid_str(cid), "offline": "true", "timeout": self._rpc_timeout, **params}

    async def _rpc(self, command: str, *, params: dict | None = None, files=None,
                   missing: bytes | None = None, tolerate: tuple[str, ...] = ()) -> httpx.Response | None:
        if self._client is None:
            raise UnavailableError("the Kubo provider is not started")
        try:
            reply = await self._client.post("/" + command, params=params, files=files)
        except httpx.TimeoutException:
            raise self._timed_out(command, missing) from None
        except httpx.HTTPError as exc:
            raise UnavailableError(f"Kubo RPC {command} failed ({type(exc).__name__})") from None
        return self._check(command, reply, missing, tolerate)

    def _timed_out(self, command: str, missing: bytes | None) -> ProviderTimeoutError:
        what = f"block {cid_str(missing)}" if missing is not None else command
        return ProviderTimeoutError(f"the IPFS node did not produce {what} within {self._timeout:g} s")

    def _check(self, command: str, reply: httpx.Response, missing: bytes | None,
               tolerate: tuple[str, ...] = ()) -> httpx.Response | None:
        """The reply if it is a 200; None if Kubo's error message contains one of ``tolerate``;
        otherwise the typed error (MissingBlockError naming the absent block Kubo names)."""
        if reply.status_code == 200:
            return reply
        message = _message(reply)
        if any(hint in message for hint in tolerate):
            return None
        if any(hint in message.lower() for hint in _TIMED_OUT):
            raise self._timed_out(command, missing)
        if missing is not None and any(hint in message.lower() for hint in _NOT_FOUND_HINTS):
            absent = _named_cid(message) or missing
            if absent == missing:
                raise MissingBlockError(f"block {cid_str(missing)} is not stored")
            raise MissingBlockError(f"block {cid_str(absent)} of {cid_str(missing)} is not stored")
        if reply.status_code in (401, 403):
            raise UnavailableError(f"Kubo RPC {command} refused the gateway's credentials")
        if reply.status_code == 413:  # js-ipfs's default: request bodies over 1 MiB (a block + multipart)
            raise UnavailableError(f"Kubo RPC {command} refused the request as too large (HTTP 413): the "
                                   "IPFS node must accept request bodies of at least 2 MiB + 4 KiB")
        # Kubo's message may echo request details; the client gets only the command and status
        raise UnavailableError(f"Kubo RPC {command} answered HTTP {reply.status_code}")

    async def put(self, cid: bytes, data: bytes) -> None:
        # ``format`` (Kubo: deprecated, still honoured, gives CIDv1 for raw/dag-cbor), not
        # ``cid-codec``, which js-ipfs ignores: both servers then compute the CID we expect
        params = {"format": CODEC_NAMES[codec_of(cid)], "mhtype": "sha2-256", "mhlen": "32", "pin": "false"}
        reply = await self._rpc("block/put", params=params, files={"file": ("block", bytes(data),
                                                                            "application/octet-stream")})
        try:
            stored = parse_cid(self._json("block/put", reply).get("Key", ""))
        except EnvelopeFormatError:
            raise UnavailableError("Kubo RPC block/put answered no usable CID") from None
        if stored != cid:  # Kubo computed another CID: never report success for the wrong block
            raise CIDMismatchError(f"Kubo stored {cid_str(stored)}, not {cid_str(cid)}")

    async def get(self, cid: bytes) -> bytes:
        reply = await self._rpc("block/get", params=self._read(cid), missing=cid)
        return reply.content

    async def size(self, cid: bytes) -> int | None:
        try:
            reply = await self._rpc("block/stat", params=self._read(cid), missing=cid)
        except MissingBlockError:
            return None
        size = self._json("block/stat", reply).get("Size")
        if not isinstance(size, int) or size < 0:
            raise UnavailableError("Kubo RPC block/stat answered no usable size")
        return size

    async def pin(self, root: bytes) -> None:
        await self._rpc("pin/add", params=self._read(root, recursive="true"), missing=root)

    async def unpin(self, root: bytes) -> None:
        # "not pinned" is the result the caller wanted; an unreachable Kubo or refused
        # credentials are not, and must not pass for success (the pin would stay forever)
        await self._rpc("pin/rm", params={"arg": cid_str(root), "recursive": "true"}, tolerate=_NOT_PINNED)

    async def delete(self, cid: bytes) -> None:
        """Kubo's block/rm: it refuses pinned blocks (kept then); an absent block is fine."""
        reply = await self._client.post("/block/rm", params={"arg": cid_str(cid)}) if self._client else None
        if reply is None:
            raise UnavailableError("the Kubo provider is not started")
        if reply.status_code != 200:
            log.info("Kubo kept block %s (block/rm answered HTTP %d)", cid_str(cid), reply.status_code)

    async def export_car(self, root: bytes, budget=None) -> AsyncIterator[bytes]:
        """Kubo's own CARv1 export of the DAG, streamed through."""
        if await self.size(root) is None:
            raise MissingBlockError(f"block {cid_str(root)} is not stored")
        request = self._client.build_request("POST", "/dag/export", params=self._read(root))
        try:
            reply = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            raise self._timed_out("dag/export", root) from None
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
