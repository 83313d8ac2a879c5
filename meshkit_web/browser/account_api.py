"""Accounts in the browser runtime: ``meshkit.identity.recover / confirmRecoveryKit``, the
passkey methods (``addPasskey / recoverWithPasskey / passkeys / removePasskey``: WebAuthn runs
in the page, meshkit.js, and only the PRF output reaches Core) and
``meshkit.devices.*`` (static/meshkit.js). The protocol is clients/accounts.py, the same as
the CLI's; here the device keys are non-extractable CryptoKeys, the verified account record
and the kit state live in IndexedDB, and the recovery phrase exists only inside one call:
returned once by ``identity.create``, never stored.
"""

import logging
import time

from ..clients import accounts, passkeys
from ..core.account import AccountRecord, RecoveryPhraseError, derive_recovery_keys, kit_state, secret_from_phrase
from ..core.cid import cid_str
from ..core.errors import (IdentityExistsError, InvalidArgumentError, MeshKitError, PasskeyStaleError,
                           UnknownIdentityError)
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

    async def _create_account(self, name: str, device_name: str | None = None) -> tuple[str, AccountRecord]:
        """The account around a new device identity: (the phrase, shown once; its record).
        ``name``: the account's (the person's); ``device_name``: the device's in it."""
        client = await self._client(name)
        phrase, record = await accounts.create_account(client, name, device_name=device_name)
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

    async def library_envelopes(self, name: str, cached: bool = False) -> list:
        """The envelopes in ``name``'s account library, from the gateway; ``cached``: as last
        verified here (clients.accounts.library_state, kept in IndexedDB: no request), each
        row ``cached: true``."""
        known, _ = await self.store.load_account(name)
        if known is None:
            return []
        client = await self._client(name)
        if cached:
            library = (await accounts.library_state(client, known.id)).library
        else:
            library, _ = await accounts.load_library(client, await self._account(name))
        return [{"root": root, **value, "status": "uploaded", "from_library": True, **({"cached": True} if cached else {})}
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

    async def remember_contact(self, public, account: str | None = None) -> None:
        """A new contact goes into the library of each account this browser is a device of,
        with ``account``: the account verified here that it is a device of."""
        for name in await self._account_devices():
            await accounts.remember_contact(await self._client(name), await self._account(name), public, account)

    async def sync_contacts(self) -> None:
        """Contacts another device of the account added: kept here too (so names resolve),
        each with its account verified here (accounts.adopt_contacts)."""
        for name in await self._account_devices():
            client = await self._client(name)
            library, _ = await accounts.load_library(client, await self._account(name))
            local = await self.store.contacts()
            taken = {p.name for p in local} | {p.name for p in await self.store.identities()}
            await accounts.adopt_contacts(client, library, self.people, local=local, taken=taken,
                                          add=self.store.add_contact)

    async def fresh_account(self, name: str) -> tuple[AccountRecord | None, bool]:
        """(``name``'s account record, refreshed through its chain when the gateway answers,
        else as kept here; this browser's own old confirmation flag). A rolled-back or
        forked record is still refused (``rollback``): only a retryable error falls back."""
        known, confirmed = await self.store.load_account(name)
        if known is not None:
            try:
                known = await self._account(name)
            except MeshKitError as exc:
                if not exc.retryable:  # unavailable, busy, rate_limited: as kept; never a rollback
                    raise
        return known, confirmed

    async def kit_states(self) -> dict:
        """Each identity's recovery kit, account-wide (core.account.kit_state)."""
        states = {}
        for public in await self.store.identities():
            record, confirmed = await self.store.load_account(public.name)
            states[public.name] = kit_state(record, confirmed)
        return states

    @api
    async def identity_recover(self, name, phrase, device_name=None) -> dict:
        """A new device identity ``name`` added to the phrase's account, with access to
        everything in its library again (re-wrapped here with the recovery key). The device
        is listed under ``device_name`` in the account (default: ``name``)."""
        name, phrase = arg.text(name, "the identity's name"), arg.text(phrase, "the recovery phrase")
        device_name = arg.text(device_name, "identity.recover's deviceName", default="") or None
        secret = secret_from_phrase(phrase)  # a typo fails here, before anything changes

        async def typed(client):
            return secret
        return await self._recover_with_secret(name, typed, device_name=device_name)

    @api
    async def identity_recover_passkey(self, name, prf, credential, device_name=None) -> dict:
        """identity_recover with a passkey instead of the phrase (FORMAT.md 11.8): the page ran
        WebAuthn and passes only the PRF output (32 bytes) and the credential id. The wrap is
        fetched and opened, and its secret must be the account's current one (passkey_stale
        otherwise: the phrase was replaced since the passkey was added)."""
        name = arg.text(name, "the identity's name")
        device_name = arg.text(device_name, "identity.recoverWithPasskey's deviceName", default="") or None
        prf, credential = arg.data(prf, "the passkey's PRF output"), arg.data(credential, "the credential id")

        async def unwrapped(client):
            return await passkeys.secret_from_passkey(client, prf, credential)
        try:
            return await self._recover_with_secret(name, unwrapped, device_name=device_name, stale=PasskeyStaleError(
                "this passkey was added before the recovery phrase was changed: recover with the new phrase, "
                "then add the passkey again"))
        finally:
            del prf

    async def _recover_with_secret(self, name: str, secret_of, stale=None, device_name=None) -> dict:
        """The one recovery, whatever gave the secret (``secret_of(client)``: the phrase, a
        passkey): a new device identity ``name`` in the secret's account, everything in its
        library re-wrapped to it. All or nothing: on any typed error no identity is left."""
        if await self.store.load_identity(name) is not None:
            raise IdentityExistsError(f"an identity named {name!r} already exists in this browser")
        identity = await create_identity(self.backend, name, int(time.time()))
        await self.store.save_identity(identity)
        client = await self._client(name)
        try:
            record, keys = await accounts.recover_with_secret(client, await secret_of(client), stale=stale,
                                                              device_name=device_name)
            await self.store.save_account(name, record, kit_confirmed=True)  # they just typed it
            _, restored = await accounts.recover_library(client, record, keys)
            del keys
        except MeshKitError:
            await self.store.db.delete("identities", name)  # nothing half-made is left behind
            raise
        return {**identity_json(identity.public, record), "restored": restored}

    @api
    async def identity_add_passkey(self, name, phrase, prf, credential) -> dict:
        """Wrap the account's recovery secret (from ``phrase``: this device never keeps it)
        under a passkey's PRF output, stored at the gateway: {credentialId, created}."""
        name, phrase = arg.text(name, "the identity's name"), arg.text(phrase, "the recovery phrase")
        prf, credential = arg.data(prf, "the passkey's PRF output"), arg.data(credential, "the credential id")
        try:
            return await passkeys.add_passkey(await self._client(name), await self._account(name), phrase, prf,
                                              credential)
        finally:
            del prf

    @api
    async def identity_passkeys(self, name) -> list:
        """The account's passkeys: [{credentialId, created}]."""
        name = arg.text(name, "the identity's name")
        await self._account(name)  # a device of an account, current (else a typed error)
        return await passkeys.list_passkeys(await self._client(name))

    @api
    async def identity_remove_passkey(self, name, credential_id) -> dict:
        name, credential_id = arg.text(name, "the identity's name"), arg.text(credential_id, "the credential id")
        await self._account(name)
        return await passkeys.remove_passkey(await self._client(name), credential_id)

    @api
    async def identity_confirm_kit(self, name, phrase) -> dict:
        """The user typed the phrase back: it must derive this account's keys. Nothing about
        the phrase is stored to check it against: the account's public keys are the check."""
        name, phrase = arg.text(name, "the identity's name"), arg.text(phrase, "the recovery phrase")
        record = await accounts.confirm_kit(await self._client(name), await self._account(name), phrase)
        await self.store.save_account(name, record, kit_confirmed=True)
        return {"confirmed": True, "accountVersion": record.version}

    @api
    async def identity_new_phrase(self, name) -> dict:
        """A new recovery phrase for ``name``'s account (clients.accounts.new_recovery_phrase),
        in this answer only; the kit starts "not confirmed" on every device."""
        name = arg.text(name, "the identity's name")
        made = await accounts.new_recovery_phrase(await self._client(name), await self._account(name))
        await self.store.save_account(name, made.record, kit_confirmed=False)
        return {**identity_json((await self._identity(name)).public, made.record), "recoveryPhrase": made.phrase,
                "rewrapped": made.rewrapped, "librarySealed": made.library}

    async def _phrase_account(self, name: str, phrase: str) -> AccountRecord:
        """``name``'s account, refreshed, if ``phrase`` is its current recovery phrase (else
        bad_phrase)."""
        record = await self._account(name)
        keys = await derive_recovery_keys(self.backend, secret_from_phrase(phrase))
        if not record.is_phrase(keys):
            raise RecoveryPhraseError("that is not this account's current recovery phrase")
        return record

    @api
    async def identity_passkey_account(self, name, phrase) -> dict:
        """Before addPasskey's WebAuthn prompt: the phrase is checked (bad_phrase, and no
        passkey made for nothing); the page learns what to name the passkey after, and the
        account's passkeys (an authenticator holding one of them refuses to make another)."""
        name, phrase = arg.text(name, "the identity's name"), arg.text(phrase, "the recovery phrase")
        record = await self._phrase_account(name, phrase)
        existing = [p["credentialId"] for p in await passkeys.list_passkeys(await self._client(name))]
        return {"account": record.id, "name": record.name, "passkeys": existing}

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
        made = await accounts.request_link(await self._client(name))
        return {"link": made.link, "code": made.code, "identity": name}

    @api
    async def devices_approve(self, name, link_or_code, on_code=None) -> dict:
        """``link_or_code``: the new device's link or its short code. ``on_code(code)``:
        shows the code the user types on the new device."""
        on_code = arg.callback(on_code, "devices.approve's onCode (it shows the code to type on the new device)",
                               required=True)
        name = arg.text(name, "the identity's name")
        client = await self._client(name)
        link = await accounts.resolve_link(client, arg.text(link_or_code, "the link or its code"))
        record = await accounts.approve_link(client, await self._account(name), link,
                                             show_code=lambda code: on_code(code))
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


def identity_json(public, record: AccountRecord | None, confirmed_here: bool = False) -> dict:
    """An identity as every method answers it (identity.create, list, recover,
    devices.waitForLink): this device's name, id and fingerprint, and its account's, with
    the account's recovery kit state."""
    return {"name": public.name, "id": public.id, "fingerprint": public.fingerprint,
            "account": record.id if record else None, "accountFingerprint": record.fingerprint if record else None,
            "accountVersion": record.version if record else None,
            "recoveryKit": kit_state(record, confirmed_here)}
