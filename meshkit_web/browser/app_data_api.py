"""App messages and app records in the browser runtime: ``meshkit.messages.*`` and
``meshkit.records.*`` (sdk/meshkit.js). The protocol is clients/app_data.py, the same as on
CPython (FORMAT.md section 12); here what must never go back (the newest record version
accepted, the messages acknowledged) is kept in IndexedDB (store ``app_state``), and data
crosses to JS as a Uint8Array (and a string, for what was sent as text)."""

import logging

from ..clients import app_data
from ..core.errors import InvalidArgumentError
from . import jsapi as arg
from .ffi import js_bytes
from .jsapi import api

log = logging.getLogger("meshkit.browser")


def _out(answer: dict | None) -> dict | None:
    """``data`` as a Uint8Array for JS."""
    if answer is not None and isinstance(answer.get("data"), (bytes, bytearray)):
        answer = {**answer, "data": js_bytes(answer["data"])}
    return answer


def _acting(name, why: str = "name the identity to act as (its name in this browser)") -> str:
    """The identity an app acts as: its name in this browser, never left out."""
    name = arg.text(name, "the identity to act as", default="")
    if not name:
        raise InvalidArgumentError(why)
    return name


class AppDataMethods:
    """Mixed into browser.runtime.Runtime (self._client, self._reach, self.store)."""

    async def _app_client(self, name: str):
        client = await self._client(name)
        client.app_data_keeper = self.store  # no rollback, no replay: kept in IndexedDB
        return client

    async def _own_account(self, name: str):
        """The account ``name`` is a device of, verified now (None: an identity without one)."""
        known, _ = await self.store.load_account(name)
        return None if known is None else await self._account(name)

    async def _sender_accounts(self, client, senders: set) -> dict:
        """{sender: the account it is a device of, verified through its chain (kept here,
        never rolled back), or None} (the runtime's one resolver, accounts.People)."""
        people = await self.people.people(client, senders)
        return {sender: person.account if person else None for sender, person in people.items()}

    @api
    async def message_send(self, to, data, sender=None, kind=None) -> dict:
        """Seal ``data`` to ``to`` (an identity id, an account id or a local name: the one
        rule of core.recipients) as ``sender``, and post it to each of its mailboxes."""
        sender = _acting(sender, "messages.send needs {from}: the identity that sends")
        to = arg.text(to, "messages.send's recipient", default="")
        if not to:
            raise InvalidArgumentError("messages.send needs a recipient: an identity id, an account id or a name")
        client = await self._app_client(sender)
        reach = await self._reach(client, to)
        return await app_data.send_message(client, reach, arg.data(data), kind=arg.optional(kind))

    @api
    async def message_list(self, as_name, kind=None, include_acked=False, limit=None) -> list:
        client = await self._app_client(_acting(as_name))
        rows = await app_data.list_messages(client, kind=arg.optional(kind), include_acked=arg.flag(include_acked),
                                            limit=arg.number(limit, "limit", default=app_data.LIST_DEFAULT))
        owners = await self._sender_accounts(client, {row["sender"] for row in rows})
        return [{**row, "senderAccount": owners.get(row["sender"])} for row in rows]

    @api
    async def message_read(self, as_name, message_id) -> dict:
        client = await self._app_client(_acting(as_name))
        message = await app_data.read_message(client, arg.text(message_id, "a message id"))
        message["senderAccount"] = (await self._sender_accounts(client, {message["sender"]}))[message["sender"]]
        return _out(message)

    @api
    async def message_ack(self, as_name, message_id) -> dict:
        return await app_data.ack_message(await self._app_client(_acting(as_name)),
                                          arg.text(message_id, "a message id"))

    @api
    async def record_get(self, as_name, name) -> dict | None:
        as_name = _acting(as_name)
        client = await self._app_client(as_name)
        return _out(await app_data.get_record(client, await self._own_account(as_name), arg.text(name, "a record name"),
                                              refresh=False))

    @api
    async def record_put(self, as_name, name, data, expected_version=None) -> dict:
        as_name = _acting(as_name)
        client = await self._app_client(as_name)
        return await app_data.put_record(client, await self._own_account(as_name), arg.text(name, "a record name"),
                                         arg.data(data), refresh=False,
                                         expected_version=arg.number(expected_version, "expectedVersion", default=None))
