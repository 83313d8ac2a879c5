"""Accounts in the browser runtime: ``meshkit.identity.recover / confirmRecoveryKit`` and
``meshkit.devices.*`` (static/meshkit.js). The protocol is clients/accounts.py, the same as
the CLI's; here the device keys are non-extractable CryptoKeys, the verified account record
and the kit state live in IndexedDB, and the recovery phrase exists only inside one call:
returned once by ``identity.create``, never stored.
"""

import logging
import time

from ..clients import accounts
from ..core.account import AccountRecord, RecoveryPhraseError, derive_recovery_keys, secret_from_phrase
from ..core.cid import cid_str
from ..core.errors import IdentityExistsError, InvalidArgumentError, MeshKitError, UnknownIdentityError
from ..core.identity import create_identity
from . import jsapi as arg
from .jsapi import _js, api

log = logging.getLogger("meshkit.browser")


class AccountMethods:
    """Mixed into browser.runtime.Runtime (self.store, self.backend, self._client). Names
    here are Python strings: the @api methods convert their JS arguments first (jsapi)."""

    async def _account(self, name: str) -> AccountRecord:
        known, _ = await self.store.load_account(name)
        if known is None:
            raise UnknownIdentityError(f"{name!r} is not a device of an account")
        record = await (await self._client(name)).fetch_account(known.id, known=known)
        await self.store.save_account(name, record)
        return record

    async def _create_account(self, name: str) -> tuple[str, AccountRecord]:
        """The account around a new device identity: (the phrase, shown once; its record)."""
        client = await self._client(name)
        phrase, record = await accounts.create_account(client, name)
        await self.store.save_account(name, record, kit_confirmed=False)
        return phrase, record

    async def account_for_seal(self, name: str) -> AccountRecord | None:
        """The account a seal by ``name`` also goes to (clients.accounts.seal_recipients):
        refreshed; offline, the newest record verified here; None for a bare identity."""
        known, _ = await self.store.load_account(name)
        if known is None:
            return None
        try:
            return await self._account(name)
        except MeshKitError as exc:
            if exc.code != "unavailable":
                raise
            return known

    async def remember_in_library(self, name: str, root: bytes, entry: dict) -> None:
        known, _ = await self.store.load_account(name)
        if known is None:
            return
        record = await self._account(name)
        when = int(time.time())
        await accounts.save_library(await self._client(name), record, lambda library: library.put(
            f"envelope:{cid_str(root)}", {k: entry[k] for k in ("name", "size", "created") if k in entry}, when))

    async def library_envelopes(self, name: str) -> list:
        known, _ = await self.store.load_account(name)
        if known is None:
            return []
        library, _ = await accounts.load_library(await self._client(name), await self._account(name))
        return [{"root": root, **value, "status": "uploaded", "from_library": True}
                for root, value in library.items("envelope").items()]

    async def library_shares(self, name: str, rows: list) -> list:
        """Keep the shares among inbox ``rows`` in the account's library, and give back the
        library's shares not among them (received by another device of the account, or
        before a recovery), as inbox rows."""
        known, _ = await self.store.load_account(name)
        if known is None:
            return []
        library, _, _ = await accounts.remember_shares(await self._client(name), await self._account(name), rows)
        seen = {row["share"]["root"] for row in rows if isinstance(row.get("share"), dict)}
        return [{"id": "library:" + capsule, "kind": "share", "sender": share.get("sharer"),
                 "created": share.get("received"), "acked": True, "from_library": True,
                 "share": {"root": share["root"], "capsule": capsule, "sharer": share.get("sharer")}}
                for capsule, share in library.items("share").items() if share.get("root") not in seen]

    async def _account_devices(self) -> list[str]:
        """The names of my identities that are devices of an account."""
        return [p.name for p in await self.store.identities() if (await self.store.load_account(p.name))[0]]

    async def remember_contact(self, public) -> None:
        """A new contact goes into the library of each account this browser is a device of."""
        for name in await self._account_devices():
            await accounts.remember_contact(await self._client(name), await self._account(name), public)

    async def sync_contacts(self) -> None:
        """Contacts another device of the account added: kept here too (so names resolve)."""
        local = await self.store.contacts()
        known = {p.id for p in local}
        names = {p.name for p in local} | {p.name for p in await self.store.identities()}
        for name in await self._account_devices():
            library, _ = await accounts.load_library(await self._client(name), await self._account(name))
            for public in await accounts.library_contacts(self.backend, library):
                if public.id not in known and public.name not in names:  # a hint: never over a local name
                    await self.store.add_contact(public)
                    known.add(public.id)

    async def kit_states(self) -> dict:
        states = {}
        for public in await self.store.identities():
            record, confirmed = await self.store.load_account(public.name)
            states[public.name] = ("no account" if record is None else
                                   "confirmed" if confirmed else "not confirmed")
        return states

    @api
    async def identity_recover(self, name, phrase, device_name=None) -> dict:
        """A new device identity ``name`` added to the phrase's account, with access to
        everything in its library again (re-wrapped here with the recovery key). The device
        is listed under ``name``; ``device_name`` is accepted for the API's shape only."""
        name, phrase = arg.text(name, "the identity's name"), arg.text(phrase, "the recovery phrase")
        secret_from_phrase(phrase)  # a typo fails here, before anything changes
        if await self.store.load_identity(name) is not None:
            raise IdentityExistsError(f"an identity named {name!r} already exists in this browser")
        identity = await create_identity(self.backend, name, int(time.time()))
        await self.store.save_identity(identity)
        client = await self._client(name)
        try:
            record, keys = await accounts.recover_account(client, phrase)
            await self.store.save_account(name, record, kit_confirmed=True)  # they just typed it
            _, restored = await accounts.recover_library(client, record, keys)
            del keys
        except MeshKitError:
            await self.store.db.delete("identities", name)  # nothing half-made is left behind
            raise
        return {**identity_json(identity.public, record), "restored": restored}

    @api
    async def identity_confirm_kit(self, name, phrase) -> dict:
        """The user typed the phrase back: it must derive this account's keys. Nothing about
        the phrase is stored to check it against: the account's public keys are the check."""
        name, phrase = arg.text(name, "the identity's name"), arg.text(phrase, "the recovery phrase")
        record = await self._account(name)
        keys = await derive_recovery_keys(self.backend, secret_from_phrase(phrase))
        if keys.root_key != record.root_key:
            raise RecoveryPhraseError("that is not this account's recovery phrase")
        await self.store.save_account(name, record, kit_confirmed=True)
        return {"confirmed": True}

    @api
    async def devices_list(self, name) -> list:
        """The account's devices, each with who added it; ``new``: added since this browser
        last listed them (a device you did not add yourself deserves a look)."""
        name = arg.text(name, "the identity's name")
        record = await self._account(name)
        me = (await self._identity(name)).id
        seen = await self.store.seen_devices(name)
        await self.store.save_seen_devices(name, sorted({d.id for d in record.devices} | set(seen or [])))
        return [{"id": d.id, "name": d.device.name, "current": d.id == me, "added": d.added,
                 "addedBy": d.signer, "addedByName": record.added_by(d),
                 "new": seen is not None and d.id not in seen} for d in record.devices]

    @api
    async def devices_request_link(self, device_name) -> dict:
        name = arg.text(device_name, "devices.requestLink's deviceName", default="")
        if not name.strip():
            raise InvalidArgumentError("devices.requestLink needs {deviceName}: the name this device gets")
        if await self.store.load_identity(name) is None:
            await self.store.save_identity(await create_identity(self.backend, name, int(time.time())))
        return {"link": await accounts.request_link(await self._client(name)), "identity": name}

    @api
    async def devices_approve(self, name, link, on_code=None) -> dict:
        """``on_code(code)``: shows the code the user types on the new device."""
        on_code = arg.callback(on_code, "devices.approve's onCode (it shows the code to type on the new device)",
                               required=True)
        name, link = arg.text(name, "the identity's name"), arg.text(link, "the link")
        record = await accounts.approve_link(await self._client(name), await self._account(name),
                                             link, show_code=lambda code: on_code(code))
        await self.store.save_account(name, record)
        device_id, _ = accounts.parse_link(link)
        device = record.device(device_id)
        return {"device": {"id": device.id, "name": device.device.name, "added": device.added},
                "version": record.version}

    @api
    async def devices_wait_for_link(self, link, timeout=None, ask_code=None) -> dict:
        """``ask_code(offers)``: resolves to the code the user typed (the one the approving
        device shows); ``offers`` says which account(s) asked, with their fingerprints."""
        ask_code = arg.callback(ask_code, "devices.waitForLink's askCode (it reads the code the approving "
                                          "device shows)", required=True)
        link = arg.text(link, "the link")
        device_id, _ = accounts.parse_link(link)
        mine = [p for p in await self.store.identities() if p.id == device_id]
        if not mine:
            raise accounts.LinkError("this link was not made in this browser")
        name = mine[0].name
        wait = arg.number(timeout, "devices.waitForLink's timeout", whole=False, default=accounts.LINK_WAIT)
        record = await accounts.wait_for_link(await self._client(name), link, timeout=wait,
                                              ask_code=lambda offers: ask_code(_js(offers)))
        await self.store.save_account(name, record)
        return identity_json(mine[0], record)

    @api
    async def devices_remove(self, name, device_ids) -> dict:
        name, ids = arg.text(name, "the identity's name"), arg.texts(device_ids, "a device id")
        record = await accounts.remove_devices(await self._client(name), await self._account(name), ids)
        await self.store.save_account(name, record)
        return {"version": record.version, "removed": ids}


def identity_json(public, record: AccountRecord | None) -> dict:
    """An identity as every method answers it (identity.create, list, recover,
    devices.waitForLink): this device's name, id and fingerprint, and its account's."""
    return {"name": public.name, "id": public.id, "fingerprint": public.fingerprint,
            "account": record.id if record else None, "accountFingerprint": record.fingerprint if record else None,
            "accountVersion": record.version if record else None}
