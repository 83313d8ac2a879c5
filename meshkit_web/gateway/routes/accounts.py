"""The account directory: the newest versions of every account record (account_versions_kept),
each accepted only if it follows the newest stored one through the account's chain (or is
signed by the account root), removes only devices that version knew, with compare-and-swap
on the version. Devices removed from their account get no token (context.requires checks
the device index kept here)."""

import asyncio

from fastapi import APIRouter, Path, Query, Request

from ...core import codec
from ...core.account import AccountChainError, AccountRecord, parse_account_record, verify_account_record
from ...core.errors import BusyError, ConflictError, MissingMetadataError
from ...core.signing import identity_id
from ..context import Gateway
from ..http import CBOR_MEDIA, binary_body, read_body

# The largest record the parser accepts, measured (FORMAT.md 11.3): a hybrid device's
# certificate is at most 2,143 bytes (its 1,216-byte X-Wing key, a name of 128 four-byte
# characters, 2^53-1 times), 64 of them 137,152; 1,024 removed ids about 36,900; the rest
# (the account's keys, both X-Wing recovery keys, a 128-character name) about 3,400:
# 177,457 bytes in all. 192 KiB holds it (64 KiB held 64 classic devices with short names).
MAX_RECORD = 192 << 10
# The record bytes one answer of GET /v1/accounts/<id> carries (base64: 4/3 of it, under the
# client's 1.5 MiB reply limit): more versions than fit are the next page ("more": true).
PAGE_BYTES = 1 << 20
CHECK_QUEUE = 16       # records waiting to be checked, at most


def check_removed(offered: AccountRecord, prev: AccountRecord | None) -> None:
    """A record may list as removed only what the newest stored version listed as a device
    or as removed already (the first version stored removes nothing): made-up ids would
    only cost the directory work and room. Checked here, on the gateway's own copy."""
    known = {d.id for d in prev.devices} | set(prev.removed) if prev is not None else set()
    unknown = set(offered.removed) - known
    if unknown:
        raise AccountChainError(f"{len(unknown)} removed id(s) were never devices of account {offered.id} here")


async def check_devices_free(store, record: AccountRecord) -> None:
    """A device is a device of one account: a record that lists one that another account
    lists (current or removed) is refused, whatever consent it carries. Listing needs the
    device's own consent, so nobody claims a device by listing it first; and a device
    removed from an account gets no token anywhere again (context.requires)."""
    for device in record.devices:
        status = await store.device_status(device.id)
        if status is not None and status["account"] != record.id:
            raise ConflictError(f"device {device.id} is a device of another account")


class CheckSlot:
    """Record checks in a worker thread, one at a time, at most ``queue`` waiting (then busy,
    with Retry-After): the ~40 ms of signature checks of a 64-device record never run on
    the event loop, where they would hold up every request in flight."""

    def __init__(self, queue: int = CHECK_QUEUE):
        self.queue, self.waiting, self.slot = queue, 0, None

    async def run(self, check, *args):
        if self.slot is None:
            self.slot = asyncio.Semaphore(1)
        if self.waiting >= self.queue:
            busy = BusyError("the gateway is busy checking account records; try again shortly")
            busy.retry_after = 1
            raise busy
        self.waiting += 1
        try:
            async with self.slot:
                return await asyncio.to_thread(lambda: asyncio.run(check(*args)))
        finally:
            self.waiting -= 1


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["accounts"])
    store = gw.store
    checks = CheckSlot()

    @api.post("/v1/accounts", status_code=201,
              openapi_extra=binary_body("an account record (DAG-CBOR, FORMAT.md section 11)", CBOR_MEDIA))
    async def publish_account(request: Request):
        """Anyone may publish (records prove themselves), only a record that follows the
        newest stored one: version + 1 signed through the chain, or a higher root-signed one.
        Limited per address before any work, per account once it verifies; signatures are
        checked before the (short) write transaction, which only swaps the version."""
        await gw.limit_anonymous(request, "accounts", "account records")
        data = await read_body(request, MAX_RECORD)
        offered, _ = parse_account_record(data)
        newest = await store.latest_account(offered.id)
        prev = parse_account_record(newest)[0] if newest else None  # verified when it was stored
        if prev is None:  # a new account is a new identity: limited per address like the directory
            await gw.limit_anonymous(request, "directory", "new accounts")
        if prev is not None and offered.version <= prev.version:
            if data == prev.data:
                return {"id": offered.id, "version": prev.version}
            raise ConflictError(f"account {offered.id} is at version {prev.version}")
        check_removed(offered, prev)
        follows = prev is not None and offered.version == prev.version + 1 and offered.prev == prev.hash
        # a re-anchor is checked against the newest stored record's phrase (a replaced one signs nothing)
        record = await checks.run(verify_account_record, gw.backend, data, prev if follows else None,
                                  None if follows else prev)
        if not follows and record.signer != record.id:
            raise AccountChainError("a record that does not follow the newest one must be root-signed")
        await gw.limit(gw.account_rate, f"too many versions of account {record.id}", "account", record.id)
        await check_devices_free(store, record)
        if record.phrase is not None and (prev is None or prev.phrase != record.phrase):
            # before the record: a new phrase is never published without its hint (a hint
            # whose record then lost the compare-and-swap names a phrase nobody was shown)
            await store.add_account_phrase(identity_id(record.phrase_root), record.id)
        await store.publish_account(record.id, record.version, data, prev.version if prev else 0,
                                    [d.id for d in record.devices], keep=gw.config.account_versions_kept)
        return {"id": record.id, "version": record.version, "fingerprint": record.fingerprint}

    @api.get("/v1/accounts/of/{ident}")
    async def account_of(ident: str = Path(max_length=64)):
        """Which account ``ident`` (an account id, or a device of one, current or removed)
        belongs to, or whose replaced recovery phrase's root it is ({"phrase": true}, FORMAT.md
        11.7): a hint only. The client fetches that account's records and checks the chain,
        and that it certified the device (or the phrase), before it acts on it."""
        if await store.latest_account(ident) is not None:
            return {"account": ident}
        status = await store.device_status(ident)
        if status is None:
            phrase_of = await store.account_of_phrase(ident)  # a replaced phrase's root: its recovery finds it
            if phrase_of is not None:
                return {"account": phrase_of, "phrase": True}
            raise MissingMetadataError(f"{ident} is not in any account")
        return {"account": status["account"], "removed": bool(status["removed"])}

    @api.get("/v1/accounts/{account}")
    async def account_records(account: str = Path(max_length=64), since: int = Query(0, ge=0, le=(1 << 31) - 1)):
        """The versions after ``since`` (ascending, at most 256, of the newest
        account_versions_kept): the client checks the chain from the newest version it
        verified itself, never trusting this answer."""
        records = await store.account_records(account, since)
        if not records and since == 0:
            raise MissingMetadataError(f"no account {account}")
        page, size = [], 0
        for record in records:  # at least one (a record is at most MAX_RECORD): hybrid records are bigger
            if page and size + len(record) > PAGE_BYTES:
                break
            page.append(record)
            size += len(record)
        return {"records": [codec.b64e(r) for r in page], "more": len(page) < len(records)}

    return api
