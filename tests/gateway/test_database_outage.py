"""The metadata database goes away under load and comes back (issue 27).

A real `meshkit serve` process on a PostgreSQL server of this test's own; five clients log in
afresh and seal+upload+pin small envelopes in a loop. Before the fault: no failure at all.
PostgreSQL is then stopped for a few seconds: every refusal a client sees is `unavailable`
(503) with a Retry-After, never `internal`. It is started again and the same operations
succeed, with the same gateway process. Every envelope a client was told is stored is
pinned and opens to its bytes.
"""

import asyncio
import json
import os
import time

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.clients.session import _retry_after
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.cluster import Replica
from support.pgserver import PostgresServer
from support.transports import Recording

CLIENTS = 5
BEFORE = 4.0     # seconds of load before the database stops
OUTAGE = 4.0     # seconds it stays stopped
RECOVERY = 15.0  # seconds the gateway may take to serve again once it is back
AFTER = 3.0      # seconds of load after the first success


def observed(url, backend, identity, replies: list) -> GatewayClient:
    """A client that notes every reply: (time, method, path, status, error code, Retry-After)."""
    def note(method, path, reply):
        code = None
        if reply.status >= 400:
            try:
                code = json.loads(reply.body)["error"]
            except (ValueError, KeyError, TypeError):
                code = "?"
        replies.append((time.monotonic(), method, path[:40], reply.status, code, _retry_after(reply)))
    return GatewayClient(url, backend, identity, transport=Recording(on_reply=note, timeout=20))


async def _round(client, acked: dict) -> str:
    """One login and one sealed, uploaded and pinned envelope: "ok" or the error's code."""
    client.session.forget_token()  # a fresh login every round: challenges and tokens are database work too
    data = os.urandom(6000)
    try:
        root = await client.seal_upload([data], recipients=[client.identity.public], segment_size=2048)
    except MeshKitError as exc:
        return exc.code
    acked[root] = (client, data)
    return "ok"


async def _load(clients, acked: dict, outcomes: list, until) -> None:
    async def loop(client):
        while not until():
            outcome = await _round(client, acked)
            outcomes.append((time.monotonic(), outcome))
            if outcome != "ok":
                await asyncio.sleep(0.3)
    await asyncio.gather(*(loop(c) for c in clients))


async def _scenario(url, backend, pg) -> dict:
    replies, acked, outcomes = [], {}, []
    people = [await create_identity(backend, f"outage-{i}", int(time.time())) for i in range(CLIENTS)]
    clients = [observed(url, backend, who, replies) for who in people]
    try:
        await asyncio.gather(*(c.publish() for c in clients))
        marks = {"start": time.monotonic()}
        stop = asyncio.Event()
        load = asyncio.ensure_future(_load(clients, acked, outcomes, stop.is_set))
        await asyncio.sleep(BEFORE)
        marks["halt"] = time.monotonic()
        await asyncio.to_thread(pg.halt)
        await asyncio.sleep(OUTAGE)
        await asyncio.to_thread(pg.resume)
        marks["resume"] = time.monotonic()
        deadline = marks["resume"] + RECOVERY
        while not any(t > marks["resume"] and o == "ok" for t, o in outcomes) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        marks["served"] = time.monotonic()
        await asyncio.sleep(AFTER)
        stop.set()
        await load
        marks["end"] = time.monotonic()
        # the same operations, once more each, all succeed
        final = await asyncio.gather(*(_round(c, acked) for c in clients))
        # nothing a client was told is stored is lost
        lost = []
        for root, (client, data) in acked.items():
            pins = {p["root"] for p in (await client.request("GET", "/v1/pins")).json()["pins"]}
            opened = await client.open(root)
            if root_text(root) not in pins or b"".join([c async for c in opened.plaintext()]) != data:
                lost.append(root_text(root))
        return {"replies": replies, "outcomes": outcomes, "marks": marks, "final": final, "lost": lost,
                "acked": len(acked)}
    finally:
        await asyncio.gather(*(c.close() for c in clients))


def root_text(root: bytes) -> str:
    from meshkit_web.core.cid import cid_str
    return cid_str(root)


def test_postgresql_stopped_under_load_is_unavailable_then_serves_again(tmp_path, backend):
    started = time.monotonic()
    pg = PostgresServer().start()
    gateway = Replica("outage", tmp_path / "gateway", ["--metadata", pg.create_database()], {})
    try:
        gateway.start()
        pid = gateway.process.pid
        result = run(_scenario(gateway.url, backend, pg))
        assert gateway.process.poll() is None and gateway.process.pid == pid, "the gateway was not restarted"
    finally:
        gateway.stop()
        pg.stop()
    log = (tmp_path / "gateway" / "serve.log").read_text()
    marks, replies, outcomes = result["marks"], result["replies"], result["outcomes"]
    before = [o for t, o in outcomes if t < marks["halt"]]
    during = [o for t, o in outcomes if marks["halt"] <= t < marks["served"]]
    after = [o for t, o in outcomes if t >= marks["served"]]
    print(f"\nops before {len(before)} (failed {len(before) - before.count('ok')}), during the outage and "
          f"recovery {len(during)} ({sorted(set(during))}), after {len(after)}; back "
          f"{marks['served'] - marks['resume']:.1f} s after the database; {result['acked']} envelopes acked")
    assert before and before.count("ok") == len(before), f"failures before any fault: {before}"
    refused = [r for r in replies if r[3] >= 400]
    wrong = [r for r in refused if (r[3], r[4]) != (503, "unavailable") or r[5] is None]
    assert refused, "the outage was never seen: the load did not reach the database"
    assert not wrong, f"{len(wrong)} refusals that are not 503 unavailable with Retry-After: {wrong[:5]}"
    assert set(during) <= {"ok", "unavailable"}, during
    assert marks["served"] - marks["resume"] < RECOVERY, "no operation succeeded after the database came back"
    assert after and after.count("ok") == len(after), f"failures after recovery: {after}"
    assert result["final"] == ["ok"] * CLIENTS, result["final"]
    assert not result["lost"], f"acknowledged envelopes lost: {result['lost'][:5]}"
    assert "internal error" not in log and "database error" not in log
    assert time.monotonic() - started < 60


def test_expected_database_faults_are_typed_and_bugs_stay_internal():
    """The one mapping (gateway/http.py): what each expected fault is answered."""
    from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from meshkit_web.gateway.http import database_fault_kind

    def driver_error(text: str, sqlstate: str | None = None, cause: BaseException | None = None):
        orig = Exception(text)
        orig.sqlstate = sqlstate
        orig.__cause__ = cause
        return orig

    def wrapped(orig, cls=DBAPIError, invalidated=False):
        return cls("SELECT 1", {}, orig, connection_invalidated=invalidated)
    cases = {
        "unavailable": [PoolTimeout("QueuePool limit reached"), ConnectionRefusedError(111, "refused"),
                        TimeoutError(), wrapped(driver_error("the database system is starting up", "57P03")),
                        wrapped(driver_error("terminating connection due to administrator command", "57P01")),
                        wrapped(driver_error("sorry, too many clients already", "53300")),
                        wrapped(driver_error("connection was closed in the middle of operation"), invalidated=True),
                        wrapped(driver_error("connect failed", cause=ConnectionResetError()))],
        "busy": [wrapped(driver_error("deadlock detected", "40P01")),
                 wrapped(driver_error("could not serialize access due to concurrent update", "40001")),
                 wrapped(driver_error("database is locked"), OperationalError)],
        None: [wrapped(driver_error('relation "pins" does not exist', "42P01"), ProgrammingError),
               wrapped(driver_error("division by zero", "22012")), KeyError("x"), ValueError("y")],
    }
    for kind, faults in cases.items():
        for fault in faults:
            assert database_fault_kind(fault) == kind, (fault, kind)
