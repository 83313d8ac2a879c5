"""The outbox: sealed envelopes waiting to be uploaded, and the uploader that drains it.

A job is staged by the page: the file is sealed and every block (ciphertext only, never
plaintext) is written to IndexedDB under a job id, with a signed 'sealed' proof made at the
same time. The service worker (on Background Sync) or, without it, the page uploads the
blocks, pins the root and stores the proof. Every step is idempotent (blocks and proofs are
content-addressed, pins are per identity and root) and progress is saved as blocks land,
so a job interrupted anywhere (page closed, worker killed, gateway restarted) resumes
where it stopped and finishes once. Each job is worked on under a Web Lock named after
it, so a page and a worker never upload the same job at the same time.

Job states: staging -> queued -> uploading -> done; "retrying" after a temporary failure
(offline, gateway down, rate limit) with exponential backoff; "failed" after a permanent
refusal (quota, forbidden, ...): its blocks stay until the user retries or discards it
(what of it had landed at the gateway then stops counting against the quota at once).
"""

import asyncio
import logging
import random
import time
import uuid

from ..core.cid import cid_str, parse_cid
from ..core.errors import InvalidArgumentError, LocalIOError, MeshKitError, registry
from ..core.proof import SEALED, make_proof
from . import ffi
from .ffi import broadcast, web_lock

log = logging.getLogger("meshkit.outbox")

TEMPORARY = {code for code, entry in registry().items() if entry["retryable"]}  # worth retrying by themselves
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0    # seconds: 1, 2, 4, ... 30, with jitter
RETRY_AFTER_MAX = 3600.0                  # the longest Retry-After the outbox honours
STALE_STAGING = 300                       # a job still "staging" after this was interrupted
RUNNABLE = ("queued", "uploading", "retrying")


def _now() -> float:
    return time.time()


def public_job(job: dict) -> dict:
    """What the app sees of a job (everything but the stored proof)."""
    return {k: v for k, v in job.items() if k != "proof"}


class Outbox:
    def __init__(self, db, clients, on_done=None):
        """``db``: the IndexedDB (or memory) store; ``clients(owner_name, gateway)``: an
        authenticated gateway client for one of this browser's identities; ``on_done(job)``:
        awaited once a job's upload finished (e.g. to put it in the account's library)."""
        self.db = db
        self.clients = clients
        self.on_done = on_done

    # --- staging (the page) --------------------------------------------------------------
    async def stage(self, client, blocks, *, gateway: str, name: str, size: int, recipients: list[str]) -> dict:
        """Write a sealed envelope's blocks (async iterable of Block) to the outbox and queue
        the job. Returns the job."""
        job = {"id": "job-" + uuid.uuid4().hex, "state": "staging", "owner": client.identity.name,
               "owner_id": client.identity.id, "gateway": gateway, "name": name, "size": size,
               "recipients": recipients, "root": None, "blocks": 0, "sent": 0, "attempts": 0,
               "next_attempt": 0, "error": None, "created": int(_now()), "updated": _now()}
        async with job_lock(job["id"], wait=True):  # a discard meanwhile waits, then finds every block
            await self.db.put("jobs", job)
            root, seq = None, 0
            try:
                async for block in blocks:
                    await self.db.put("outbox", {"key": _block_key(job["id"], seq), "cid": block.cid,
                                                 "data": block.data})
                    root = block.cid  # the header comes last: the root
                    seq += 1
                    if seq % 64 == 0:  # still alive: not an interrupted staging
                        job["updated"] = _now()
                        await self.db.put("jobs", job)
            except BaseException:
                await self._drop(job["id"])
                broadcast({"type": "job", "job": {"id": job["id"], "state": "discarded"}})
                raise
            proof = await make_proof(client.backend, client.identity, SEALED, root, now=int(_now()))
            job.update(state="queued", root=cid_str(root), blocks=seq, proof=proof.data, updated=_now())
            await self._save(job)
        return public_job(job)

    # --- reading and deciding (the app) ---------------------------------------------------
    async def jobs(self) -> list[dict]:
        rows = await self.db.all("jobs")
        return sorted((public_job(r) for r in rows), key=lambda r: r["created"], reverse=True)

    async def job(self, job_id: str) -> dict | None:
        row = await self.db.get("jobs", str(job_id))
        return None if row is None else public_job(row)

    async def retry(self, job_id: str) -> dict:
        """A failed (or waiting) job back in the queue now, e.g. after the user freed quota."""
        async with job_lock(job_id, wait=True):
            job = await self._require(job_id)
            if job["state"] in ("failed", "retrying", "queued") and job["blocks"]:
                job.update(state="queued", attempts=0, next_attempt=0, error=None, updated=_now())
                await self._save(job)
            return public_job(job)

    async def discard(self, job_id: str) -> dict:
        """Drop a job and its staged blocks (the user decided): waits for an upload or the
        staging of it to stop first, so no block is written after. What of it had landed at
        the gateway (it was tried) stops counting against the quota at once
        (GatewayClient.give_back). {id, blocks (staged blocks dropped), released (CIDs given back)}."""
        async with job_lock(job_id, wait=True):
            job = await self.db.get("jobs", str(job_id))
            tried = job is not None and bool(job.get("attempts") or job.get("sent"))  # some may have landed
            landed = await self._staged_cids(job) if tried else []
            dropped = await self._drop(job_id)
        broadcast({"type": "job", "job": {"id": job_id, "state": "discarded"}})
        if landed:
            try:
                await (await self.clients(job["owner"], job["gateway"])).give_back(landed)
            except MeshKitError as exc:  # give_back logs its own failures; this is the client's
                log.info("outbox job %s discarded; its blocks count until the gateway's grace (%s)", job_id, exc.code)
        return {"id": job_id, "blocks": dropped, "released": len(landed)}

    async def _drop(self, job_id: str) -> int:
        """Delete a job's staged blocks and its row (under its lock); how many blocks went.
        One that is still there after is an error (LocalIOError), never a silent leftover."""
        prefix = job_id + " "
        dropped = await self.db.count_prefix("outbox", prefix)
        await self.db.delete_prefix("outbox", prefix)
        await self.db.delete("jobs", job_id)
        if await self.db.count_prefix("outbox", prefix):
            raise LocalIOError(f"outbox job {job_id}: this browser kept its staged blocks")
        return dropped

    async def _staged_cids(self, job: dict) -> list[bytes]:
        """The CIDs of a job's blocks still staged, one block read at a time (a finished
        job's are gone: its pin keeps them)."""
        cids = []
        for seq in range(job["blocks"]):
            row = await self.db.get("outbox", _block_key(job["id"], seq))
            if row is not None:
                cids.append(bytes(row["cid"]))
        return cids

    async def _require(self, job_id: str) -> dict:
        job = await self.db.get("jobs", str(job_id))
        if job is None:
            raise InvalidArgumentError(f"no outbox job {job_id} in this browser")
        return job

    # --- uploading (the worker, or the page without one) ----------------------------------
    async def pending(self) -> list[dict]:
        return [r for r in await self.db.all("jobs") if r["state"] in RUNNABLE]

    async def run(self, budget: float = float("inf")) -> str:
        """Work the queue until it is empty ("idle") or only jobs waiting for a retry later
        than ``budget`` seconds from now remain ("pending")."""
        deadline = _now() + budget
        while True:
            rows = await self.db.all("jobs")
            await self._expire_staging(rows)
            for row in rows:
                if row["state"] in RUNNABLE and row["next_attempt"] <= _now():
                    await self.upload(row["id"])
            waiting = [r for r in await self.db.all("jobs") if r["state"] in RUNNABLE]
            if not waiting:
                return "idle"
            wake = min(r["next_attempt"] for r in waiting)
            if wake > deadline:
                return "pending"
            await asyncio.sleep(max(0.05, min(wake - _now(), 5.0)))

    async def upload(self, job_id: str) -> dict | None:
        """Upload one job if no one else is: resume at its saved mark, pin, store the proof."""
        async with job_lock(job_id) as mine:
            if not mine:
                return None
            job = await self.db.get("jobs", job_id)
            if job is None or job["state"] not in RUNNABLE:
                return job  # finished (or discarded) meanwhile
            job.update(state="uploading", updated=_now())
            await self._save(job)
            try:
                client = await self.clients(job["owner"], job["gateway"])
                await client.publish()  # an identity made offline is not in the directory yet

                async def stored():
                    for seq in range(job["sent"], job["blocks"]):
                        row = await self.db.get("outbox", _block_key(job_id, seq))
                        if row is None:
                            raise MeshKitError(f"outbox block {seq} of {job_id} is missing from this browser")
                        yield seq, bytes(row["cid"]), bytes(row["data"])

                async def landed(seq: int, mark: int):
                    if mark > job["sent"]:
                        job.update(sent=mark, updated=_now())
                        await self._save(job)
                if job["sent"] < job["blocks"]:
                    await client.put_blocks(stored(), on_landed=landed)
                await client.finish_upload(parse_cid(job["root"]), proof=bytes(job["proof"]))
            except MeshKitError as exc:
                temporary = exc.code in TEMPORARY
                job["attempts"] += 1
                delay = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (job["attempts"] - 1)) * random.uniform(0.8, 1.2)
                # a gateway that said when to come back (Retry-After) is not asked sooner
                delay = max(delay, min(float(getattr(exc, "retry_after", None) or 0), RETRY_AFTER_MAX))
                job.update(state="retrying" if temporary else "failed", error={"code": exc.code, "message": exc.message},
                           next_attempt=_now() + delay if temporary else 0, updated=_now())
                log.info("outbox job %s: %s (%s)", job_id, job["state"], exc.code)
                await self._save(job)
                return job
            if self.on_done is not None:  # before "done": interrupted here, the job runs again (idempotent)
                await self.on_done(public_job(job))
            job.update(state="done", error=None, sent=job["blocks"], finished=int(_now()), updated=_now())
            await self._save(job)
            await self.db.delete_prefix("outbox", job_id + " ")  # done: the gateway holds them now
            return job

    async def _save(self, job: dict) -> None:
        await self.db.put("jobs", job)
        broadcast({"type": "job", "job": public_job(job)})

    async def _expire_staging(self, rows: list[dict]) -> None:
        """A page closed while sealing leaves a partial job: say so (its blocks are useless
        without the rest of the file, so they go)."""
        for job in rows:
            if job["state"] == "staging" and _now() - job["updated"] > STALE_STAGING:
                job.update(state="failed", error={"code": "interrupted", "message":
                           "sealing stopped before the whole file was read (page closed?): seal it again"})
                await self.db.delete_prefix("outbox", job["id"] + " ")
                await self._save(job)


def _block_key(job_id: str, seq: int) -> str:
    return f"{job_id} {seq:08d}"


def job_lock(job_id: str, wait: bool = False):
    """The job's Web Lock (ffi.web_lock): a page and a worker never upload one job at once."""
    return web_lock(ffi.names.lock(job_id), wait=wait)
