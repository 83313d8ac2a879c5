"""The account directory: every version of every account record, each accepted only if it
follows the newest stored one through the account's chain (or is signed by the account
root), with compare-and-swap on the version. Devices removed from their account get no
token (context.requires checks the device index kept here)."""

from fastapi import APIRouter, Path, Query, Request

from ...core import codec
from ...core.account import AccountChainError, parse_account_record, verify_account_record
from ...core.errors import ConflictError, MissingMetadataError
from ..context import Gateway
from ..http import CBOR_MEDIA, binary_body, read_body

MAX_RECORD = 64 << 10  # 64 devices' certificates fit in well under this


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["accounts"])
    store = gw.store

    @api.post("/v1/accounts", status_code=201,
              openapi_extra=binary_body("an account record (DAG-CBOR, FORMAT.md section 11)", CBOR_MEDIA))
    async def publish_account(request: Request):
        """Anyone may publish (records prove themselves), only a record that follows the
        newest stored one: version + 1 signed through the chain, or a higher root-signed one."""
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
        if prev is not None and offered.version == prev.version + 1 and offered.prev == prev.hash:
            record = await verify_account_record(gw.backend, data, prev)
        else:
            record = await verify_account_record(gw.backend, data, None)
            if record.signer != record.id:
                raise AccountChainError("a record that does not follow the newest one must be root-signed")
        await store.publish_account(record.id, record.version, data, prev.version if prev else 0,
                                    [d.id for d in record.devices], list(record.removed))
        return {"id": record.id, "version": record.version, "fingerprint": record.fingerprint}

    @api.get("/v1/accounts/of/{ident}")
    async def account_of(ident: str = Path(max_length=64)):
        """Which account ``ident`` (an account id, or a device of one, current or removed)
        belongs to: a hint only. The client fetches that account's records and checks the
        chain, and that it certified the device, before it seals to the account."""
        if await store.latest_account(ident) is not None:
            return {"account": ident}
        status = await store.device_status(ident)
        if status is None:
            raise MissingMetadataError(f"{ident} is not in any account")
        return {"account": status["account"], "removed": bool(status["removed"])}

    @api.get("/v1/accounts/{account}")
    async def account_records(account: str = Path(max_length=64), since: int = Query(0, ge=0, le=(1 << 31) - 1)):
        """The versions after ``since`` (ascending, at most 256): the client checks the chain
        from the newest version it verified itself, never trusting this answer."""
        records = await store.account_records(account, since)
        if not records and since == 0:
            raise MissingMetadataError(f"no account {account}")
        return {"records": [codec.b64e(r) for r in records]}

    return api
