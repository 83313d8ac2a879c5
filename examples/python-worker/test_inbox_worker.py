"""The worker's tests, written on meshkit_web.testing's fixtures only (as an app developer
would: no helper of MeshKit's own suite)."""


from meshkit_web import MeshKit
from meshkit_web.testing import run

from inbox_worker import file_new


def test_it_files_what_is_shared_and_sealed_to_it(meshkit_gateway, tmp_path):
    async def go():
        async with MeshKit.connect(meshkit_gateway.url, home=tmp_path / "alice") as alice, \
                MeshKit.connect(meshkit_gateway.url, home=tmp_path / "worker") as worker:
            await alice.identity.create("alice")
            me = await worker.identity.create("worker")
            sealed = await alice.seal(b"invoice 1", from_="alice", to=me.account, name="../../invoice.pdf")
            report = await alice.seal(b"report", from_="alice", name="report.txt")
            await alice.share(report.root, from_="alice", to=me.account)
            again = await alice.seal(b"invoice 2", from_="alice", to=me.account, name="invoice.pdf")

            filed = await file_new(worker, "worker", tmp_path / "inbox")
            assert sorted(p.name for p in filed) == ["invoice (2).pdf", "invoice.pdf", "report.txt"]
            assert {p.read_bytes() for p in filed} == {b"invoice 1", b"invoice 2", b"report"}
            assert not list((tmp_path).glob("invoice*"))  # the sender's "../../" went nowhere
            assert await file_new(worker, "worker", tmp_path / "inbox") == []  # acknowledged: filed once
            return sealed, again
    run(go())


def test_a_revoked_share_is_skipped_and_the_rest_filed(meshkit_local, tmp_path):
    async def go():
        async with meshkit_local as kit:  # two identities in one local home: no server at all
            await kit.identity.create("alice")
            worker = await kit.identity.create("worker")
            gone = await kit.seal(b"withdrawn", from_="alice", name="gone.txt")
            await kit.share(gone.root, from_="alice", to=worker.account)
            await kit.revoke(gone.root, from_="alice", to=worker.account)
            await kit.seal(b"kept", from_="alice", to=worker.account, name="kept.txt")
            filed = await file_new(kit, "worker", tmp_path / "inbox")
            assert [p.read_bytes() for p in filed] == [b"kept"]
            assert [m for m in await kit.inbox("worker")] == []  # the revoked one was acknowledged too
    run(go())
