"""App messages and app records in the browser runtime: ``meshkit.messages.*`` and
``meshkit.records.*`` (sdk/meshkit.js). The protocol is clients/app_data.py, the same as on
CPython (FORMAT.md section 12); here what must never go back (the newest record version
accepted, the messages acknowledged) is kept in IndexedDB (store ``app_state``), and data
crosses to JS as a Uint8Array (and a string, for what was sent as text)."""

import logging
import time

from ..clients import accounts, app_data
from ..core.errors import InvalidArgumentError, MeshKitError
from .ffi import js, js_bytes
from .jsapi import _py, api

log = logging.getLogger("meshkit.browser")
SENDER_ACCOUNT_TTL = 300  # seconds a sender's verified account is reused by listings


def _given(value) -> bool:
    return value is not None and value is not js.undefined and value != ""


def _data(value):
    """A JS string, typed array or ArrayBuffer as Python (str or bytes)."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        return value
    if _given(value) and not isinstance(value, (bool, int, float)) and callable(getattr(value, "to_bytes", None)):
        if js.ArrayBuffer.isView(value) or str(js.Object.prototype.toString.call(value)) == "[object ArrayBuffer]":
            return bytes(value.to_bytes())
    raise InvalidArgumentError("data is a string, a Uint8Array (or another typed array) or an ArrayBuffer")


def _out(answer: dict | None) -> dict | None:
    """``data`` as a Uint8Array for JS."""
    if answer is not None and isinstance(answer.get("data"), (bytes, bytearray)):
        answer = {**answer, "data": js_bytes(answer["data"])}
    return answer


class AppDataMethods:
    """Mixed into browser.runtime.Runtime (self._client, self._reach, self.store)."""

    async def _app_client(self, name):
        if not _given(name) or not isinstance(name, str):
            raise InvalidArgumentError("name the identity to act as (its name in this browser)")
        client = await self._client(name)
        client.app_data_keeper = self.store  # no rollback, no replay: kept in IndexedDB
        return client

    async def _own_account(self, name: str):
        """The account ``name`` is a device of, verified now (None: an identity without one)."""
        known, _ = await self.store.load_account(name)
        return None if known is None else await self._account(name)

    async def _sender_accounts(self, client, senders: set) -> dict:
        """{sender: the account it is a device of, verified through its chain (kept here,
        never rolled back), or None}; looked up again at most every SENDER_ACCOUNT_TTL seconds."""
        cache = self.__dict__.setdefault("_sender_account_cache", {})
        found, now = {}, time.monotonic()
        for sender in sorted(senders):
            if sender in cache and now - cache[sender][1] < SENDER_ACCOUNT_TTL:
                found[sender] = cache[sender][0]
                continue
            try:
                kept = await accounts.account_reaching(client, sender, await self.store.known_account(sender))
                if kept is not None:
                    await self.store.save_known_account(kept)
                found[sender] = kept.record.id if kept is not None else None
            except MeshKitError as exc:
                log.info("the account of a message's sender is not known (%s)", exc.code)
                found[sender] = None
            if len(cache) > 1024:
                cache.clear()
            cache[sender] = (found[sender], now)
        return found

    @api
    async def message_send(self, to, data, sender=None, kind=None) -> dict:
        """Seal ``data`` to ``to`` (an identity id, an account id or a local name: the one
        rule of core.recipients) as ``sender``, and post it to each of its mailboxes."""
        if not _given(sender):
            raise InvalidArgumentError("messages.send needs {from}: the identity that sends")
        if not isinstance(to, str) or not to:
            raise InvalidArgumentError("messages.send needs a recipient: an identity id, an account id or a name")
        client = await self._app_client(sender)
        reach = await self._reach(client, to)
        return await app_data.send_message(client, reach, _data(data), kind=kind if _given(kind) else None)

    @api
    async def message_list(self, as_name, kind=None, include_acked=False, limit=None) -> list:
        client = await self._app_client(as_name)
        kinds = _py(kind) if _given(kind) else None
        rows = await app_data.list_messages(client, kind=kinds, include_acked=bool(_py(include_acked) or False),
                                            limit=int(limit) if _given(limit) else app_data.LIST_DEFAULT)
        owners = await self._sender_accounts(client, {row["sender"] for row in rows})
        return [{**row, "senderAccount": owners.get(row["sender"])} for row in rows]

    @api
    async def message_read(self, as_name, message_id) -> dict:
        client = await self._app_client(as_name)
        message = await app_data.read_message(client, str(message_id))
        message["senderAccount"] = (await self._sender_accounts(client, {message["sender"]}))[message["sender"]]
        return _out(message)

    @api
    async def message_ack(self, as_name, message_id) -> dict:
        return await app_data.ack_message(await self._app_client(as_name), str(message_id))

    @api
    async def record_get(self, as_name, name) -> dict | None:
        client = await self._app_client(as_name)
        return _out(await app_data.get_record(client, await self._own_account(as_name), str(name), refresh=False))

    @api
    async def record_put(self, as_name, name, data, expected_version=None) -> dict:
        client = await self._app_client(as_name)
        expected = None
        if _given(expected_version):
            value = _py(expected_version)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            expected = value
        return await app_data.put_record(client, await self._own_account(as_name), str(name), _data(data),
                                         expected_version=expected, refresh=False)
