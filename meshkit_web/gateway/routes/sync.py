"""Sync records: client-encrypted, versioned per-identity state (compare-and-swap)."""

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from ...core import codec
from ...core.errors import MissingMetadataError
from ..context import Gateway

NAME = {"max_length": 128, "pattern": "^[A-Za-z0-9._-]+$"}


class SyncWrite(BaseModel):
    # le: the next version (version + 1) must fit the metadata store's 32-bit INTEGER column;
    # larger values were a 500 (OverflowError / DataError) instead of a 422.
    version: int = Field(ge=0, le=(1 << 31) - 2,
                         description="the version the caller last read (0: the record must not exist)")
    data: str = Field(max_length=1 << 20, description="base64url of the client-encrypted record")


def router(gw: Gateway) -> APIRouter:
    api = APIRouter(tags=["sync"])

    @api.get("/v1/sync/{name}")
    async def get_sync(name: str = Path(**NAME), identity: str = gw.requires("sync")):
        row = await gw.store.get_sync(identity, name)
        if row is None:
            raise MissingMetadataError(f"no sync record {name!r}")
        return {"version": row["version"], "data": codec.b64e(row["data"]), "updated": row["updated"]}

    @api.put("/v1/sync/{name}")
    async def put_sync(body: SyncWrite, name: str = Path(**NAME), identity: str = gw.requires("sync")):
        version = await gw.store.put_sync(identity, name, body.version, codec.b64d(body.data),
                                          gw.config.storage_quota)
        await gw.audit(identity, "sync.put", name)
        return {"version": version}

    async def account_of(identity: str) -> str:
        return "account:" + await gw.current_account(identity)

    @api.get("/v1/account-sync/{name}")
    async def get_account_sync(name: str = Path(**NAME), identity: str = gw.requires("sync")):
        """A sync record shared by every current device of the caller's account (e.g. where
        its library is); the data is the client's, sealed to the account."""
        row = await gw.store.get_sync(await account_of(identity), name)
        if row is None:
            raise MissingMetadataError(f"no account sync record {name!r}")
        return {"version": row["version"], "data": codec.b64e(row["data"]), "updated": row["updated"]}

    @api.put("/v1/account-sync/{name}")
    async def put_account_sync(body: SyncWrite, name: str = Path(**NAME), identity: str = gw.requires("sync")):
        version = await gw.store.put_sync(await account_of(identity), name, body.version, codec.b64d(body.data),
                                          gw.config.storage_quota)
        await gw.audit(identity, "account-sync.put", name)
        return {"version": version}

    return api
