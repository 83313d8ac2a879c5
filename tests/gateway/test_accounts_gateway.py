"""The gateway's account directory (FORMAT.md section 11): records accepted only through
the account's chain, compare-and-swap on the version, rollback refused by clients, and a
removed device refused at once."""

import os

import httpx
import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core.account import (AccountRollbackError, certify_device, derive_recovery_keys, device_consent,
                                      make_account_record)
from meshkit_web.core import codec
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.signing import sign_map
from meshkit_web.core.identity import create_identity
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.providers.embedded import EmbeddedProvider

from support.aio import run
from support.constants import NOW
from support.servers import ServerThread


@pytest.fixture
def gateway(tmp_path, metadata_url):
    config = GatewayConfig(data_dir=str(tmp_path / "data"), metadata_url=metadata_url)
    server = ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "data" / "blockstore")))).start()
    yield server.url
    server.stop()


class Account:
    """An account with devices, built the way a runtime builds one."""

    def __init__(self, backend, keys, devices):
        self.backend, self.keys, self.devices = backend, keys, devices
        self.records = []

    @classmethod
    async def create(cls, backend, *names):
        keys = await derive_recovery_keys(backend, os.urandom(32))
        devices = {n: await create_identity(backend, n, NOW) for n in names}
        return cls(backend, keys, devices)

    async def cert(self, name, signer=None, can_add=True):
        device = self.devices[name]
        by = self.devices[signer] if signer else None
        return await certify_device(self.backend, account=self.keys.account_id, device=device.public,
                                    consent=await device_consent(self.backend, device.sig_private,
                                                                 self.keys.account_id, device.id, device.public.pq_key),
                                    added=NOW, can_add=can_add, signer_id=by.id if by else self.keys.account_id,
                                    signer_private=by.sig_private if by else self.keys.root_private)

    async def record(self, certs, removed=(), signer=None):
        prev = self.records[-1] if self.records else None
        by = self.devices[signer] if signer else None
        record = await make_account_record(
            self.backend, name="alice", root_key=self.keys.root_key, recovery_key=self.keys.recovery_key,
            version=prev.version + 1 if prev else 1, prev=prev, devices=certs, removed=list(removed), created=NOW,
            signer_id=by.id if by else self.keys.account_id,
            signer_private=by.sig_private if by else self.keys.root_private)
        self.records.append(record)
        return record


def test_records_follow_the_chain_and_removed_devices_lose_access(gateway, backend):
    async def go():
        acct = await Account.create(backend, "laptop", "phone")
        laptop, phone = acct.devices["laptop"], acct.devices["phone"]
        async with GatewayClient(gateway, backend, laptop) as on_laptop, \
                GatewayClient(gateway, backend, phone) as on_phone:
            await on_laptop.publish()
            await on_phone.publish()
            v1 = await acct.record([await acct.cert("laptop")])
            assert (await on_laptop.publish_account(v1))["version"] == 1
            v2 = await acct.record([await acct.cert("laptop"), await acct.cert("phone", signer="laptop")],
                                   signer="laptop")
            await on_laptop.publish_account(v2)
            seen = await on_phone.fetch_account(acct.keys.account_id)
            assert seen.version == 2 and {d.id for d in seen.devices} == {laptop.id, phone.id}
            assert await on_phone.token()  # a current device logs in
            # a second version 2 (a fork) is refused by compare-and-swap
            fork = await make_account_record(
                backend, name="alice", root_key=acct.keys.root_key, recovery_key=acct.keys.recovery_key, version=2,
                prev=v1, devices=[await acct.cert("laptop")], removed=[], created=NOW + 1,
                signer_id=laptop.id, signer_private=laptop.sig_private)
            with pytest.raises(MeshKitError) as refused:
                await on_laptop.publish_account(fork)
            assert refused.value.code == "conflict"
            # remove the phone: its next request and its next login are refused
            v3 = await acct.record([await acct.cert("laptop")], removed=[phone.id], signer="laptop")
            await on_laptop.publish_account(v3)
            with pytest.raises(MeshKitError) as locked:
                await on_phone.request("GET", "/v1/pins")
            assert locked.value.code == "unauthorized" and "removed" in locked.value.message
            on_phone.session.forget_token()
            with pytest.raises(MeshKitError) as locked:
                await on_phone.token()
            assert locked.value.code == "unauthorized"
            # a client that saw version 3 refuses an older answer (a rolled-back directory)
            newest = await on_laptop.fetch_account(acct.keys.account_id)
            assert newest.version == 3
            from meshkit_web.core.account import verify_chain
            with pytest.raises(AccountRollbackError):
                await verify_chain(backend, [v1.data, v2.data], known=newest)
            # the removed phone cannot sign itself back in: it is no device of version 3
            obj = codec.decode_map(v3.data, "account")
            obj.update(version=4, prev=v3.hash, signer=phone.id,
                       devices=sorted([(await acct.cert("laptop")).map, (await acct.cert("phone")).map],
                                      key=lambda d: d["id"]), removed=[])
            obj.pop("sig")
            forged = codec.encode(await sign_map(backend, phone.sig_private, "account", obj))
            reply = httpx.post(gateway + "/v1/accounts", content=forged, headers={"Content-Type": "application/cbor"})
            assert (reply.status_code, reply.json()["error"]) == (400, "bad_account_chain")
            assert (await on_laptop.fetch_account(acct.keys.account_id, known=newest)).version == 3
    run(go())


def test_only_root_signed_records_may_skip_ahead(gateway, backend):
    async def go():
        acct = await Account.create(backend, "laptop", "phone")
        async with GatewayClient(gateway, backend, acct.devices["laptop"]) as c:
            await c.publish()
            v1 = await acct.record([await acct.cert("laptop")])
            await c.publish_account(v1)
            # recovery: every device lost, the phrase re-anchors at a higher version, root-signed
            recovered = await make_account_record(
                backend, name="alice", root_key=acct.keys.root_key, recovery_key=acct.keys.recovery_key, version=7,
                prev=v1, devices=[await acct.cert("phone")], removed=[acct.devices["laptop"].id], created=NOW,
                signer_id=acct.keys.account_id, signer_private=acct.keys.root_private)
            assert (await c.publish_account(recovered))["version"] == 7
            assert (await c.fetch_account(acct.keys.account_id, known=v1)).version == 7
    run(go())


def test_records_of_64_hybrid_devices_are_accepted_and_answers_are_paged_by_size(gateway, backend):
    """64 hybrid devices (1,216-byte X-Wing keys in their certificates) make a record of about
    104 KB: the gateway takes it (MAX_RECORD, 192 KiB), and answers at most 1 MiB of records
    at a time ("more"), which the client follows to the newest version."""
    from meshkit_web.gateway.routes.accounts import PAGE_BYTES

    async def go():
        acct = await Account.create(backend, *[f"d{i}" for i in range(64)])
        certs = [await acct.cert(name) for name in acct.devices]
        async with GatewayClient(gateway, backend, acct.devices["d0"]) as client:
            for _ in range(12):  # about 104 KB each: more than 1 MiB in all
                record = await acct.record(certs)
                assert len(record.data) > 64 << 10
                await client.publish_account(record)
            first = (await client.request("GET", f"/v1/accounts/{record.id}?since=0", auth=False)).json()
            assert first["more"] is True and sum(len(codec.b64d(r)) for r in first["records"]) <= PAGE_BYTES
            assert len(first["records"]) < 12
            fetched = await client.fetch_account(record.id)
            assert fetched.version == 12 and all(d.device.pq_key for d in fetched.devices)
    run(go())
