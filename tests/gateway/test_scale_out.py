"""Several gateways behind a real load balancer, on real parts, all started here on loopback:
nginx (deploy/nginx.conf) balancing three `meshkit serve` processes that keep no state of
their own: PostgreSQL holds the metadata and the used login challenges, Redis the rate-limit
windows, js-ipfs (a real Kubo-RPC server) the blocks.

64 clients (each its own identity, and its own source address, as 64 machines would be)
seal, share, open and revoke for a bounded time while one replica is SIGKILLed and later
started again. Then: every envelope a client was told is stored is pinned once and opens to
its bytes; every share exists exactly once; no share was released after its revocation
returned; a per-address rate limit and a one-time challenge hold across replicas. Throughput
and p99 per phase are printed, not asserted (speed lives in `make bench`).
"""

import asyncio
import hashlib
import os
import random
import time
from dataclasses import dataclass, field

import httpx
import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.clients.transport import HttpxTransport
from meshkit_web.core import codec
from meshkit_web.core.auth import challenge_message
from meshkit_web.core.cid import cid_str
from meshkit_web.core.errors import AuthError, NotARecipientError, RevokedError
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.cluster import Nginx, Redis, Replica
from support.ipfs_node import JsIpfs

CLIENTS = 64
PHASE = 8.0          # seconds of load before the kill, while a replica is down, after its restart
SEGMENT = 16 * 1024
DIRECTORY_LIMIT = 30  # the gateway's default per-address limit on new identities (a minute)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres):
    base = tmp_path_factory.mktemp("cluster")
    ipfs = JsIpfs(str(base / "ipfs")).start()
    redis = Redis(base / "redis").start()
    database = postgres.create_database()
    replicas = []
    nginx = None
    try:
        front_port = None
        for i in range(3):
            replicas.append(Replica(f"r{i}", base / f"r{i}", [], {}))
        nginx = Nginx(base / "nginx", replicas)
        front_port = nginx.port
        env = {"MESHKIT_TOKEN_KEY": os.urandom(32).hex(), "MESHKIT_REDIS_URL": redis.url}
        for replica in replicas:
            replica.options = ["--provider", "kubo", "--kubo-api", ipfs.url, "--metadata", database,
                               "--public-url", f"http://127.0.0.1:{front_port}", "--trusted-proxy", "127.0.0.1"]
            replica.env = env
            replica.start()  # one after another: the first creates the schema
        nginx.start()
        yield nginx, replicas
    finally:
        if nginx:
            nginx.stop()
        for replica in replicas:
            replica.stop()
        redis.stop()
        ipfs.stop()


def client_from(url, backend, identity, address: str) -> GatewayClient:
    """A GatewayClient on its own loopback source address (nginx sees 64 machines)."""
    return GatewayClient(url, backend, identity, transport=HttpxTransport(
        httpx.AsyncHTTPTransport(local_address=address), timeout=60))


@dataclass
class Ledger:
    """What the clients were told, with when: the truth the cluster is checked against."""
    sealed: dict = field(default_factory=dict)     # root -> (owner index, sha256 of the plaintext)
    shared: dict = field(default_factory=dict)     # (root, recipient index) -> capsule cid
    revoked: dict = field(default_factory=dict)    # (root, recipient index) -> time the revoke returned
    opened: list = field(default_factory=list)     # (root, recipient index, time the open started)
    ops: list = field(default_factory=list)        # (kind, start, end, ok)
    errors: list = field(default_factory=list)


async def client_loop(i: int, clients, backend, ledger: Ledger, inbox: list, stop: float):
    me, peer = clients[i], (i + 1) % CLIENTS
    rng = random.Random(i)
    while time.monotonic() < stop:
        roll = rng.random()
        start = time.monotonic()
        kind = "seal"
        try:
            if roll < 0.35 or not inbox[i] and not [k for k in ledger.shared if ledger.sealed[k[0]][0] == i]:
                data = os.urandom(rng.randrange(1, 4 * SEGMENT))
                root = await me.seal_upload([data], recipients=[me.identity.public], segment_size=SEGMENT)
                ledger.sealed[root] = (i, hashlib.sha256(data).digest())
                capsule = await me.share(root, clients[peer].identity.public)
                kind = "seal+share"
                ledger.shared[(root, peer)] = cid_str(capsule.cid)
                inbox[peer].append(root)
            elif roll < 0.85 and inbox[i]:
                kind = "open"
                root = rng.choice(inbox[i])
                began = time.monotonic()
                try:
                    opened = await me.open(root)
                    plain = b"".join([chunk async for chunk in opened.plaintext()])
                    assert hashlib.sha256(plain).digest() == ledger.sealed[root][1], "an open gave other bytes"
                    ledger.opened.append((root, i, began))
                except RevokedError:
                    kind = "open (revoked)"
            else:
                kind = "revoke"
                mine = [k for k in ledger.shared if ledger.sealed[k[0]][0] == i and k not in ledger.revoked]
                if mine:
                    root, to = rng.choice(mine)
                    await me.revoke(root, clients[to].identity.id)
                    ledger.revoked[(root, to)] = time.monotonic()
            ledger.ops.append((kind, start, time.monotonic(), True))
        except Exception as exc:  # recorded, and the test fails on any
            ledger.ops.append((kind, start, time.monotonic(), False))
            ledger.errors.append(f"client {i} {kind}: {type(exc).__name__}: {exc}")


def phase_line(name: str, ops: list, since: float, until: float) -> str:
    mine = [o for o in ops if since <= o[2] < until]
    if not mine:
        return f"{name}: no operations"
    latencies = sorted(end - start for _, start, end, _ in mine)
    p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
    failed = sum(1 for o in mine if not o[3])
    return (f"{name:<22} {len(mine) / (until - since):6.1f} ops/s, p50 {latencies[len(latencies) // 2] * 1e3:6.0f} ms, "
            f"p99 {p99 * 1e3:6.0f} ms, {len(mine)} ops, {failed} failed")


async def load(front: str, replicas, backend) -> tuple[Ledger, list[str]]:
    now = int(time.time())
    people = await asyncio.gather(*(create_identity(backend, f"load-{i}", now) for i in range(CLIENTS)))
    clients = [client_from(front, backend, who, f"127.0.1.{i + 1}") for i, who in enumerate(people)]
    ledger = Ledger()
    inbox = [[] for _ in range(CLIENTS)]
    try:
        await asyncio.gather(*(c.publish() for c in clients))
        await asyncio.gather(*(c.token() for c in clients))
        t0 = time.monotonic()
        stop = t0 + 3 * PHASE
        loops = asyncio.gather(*(client_loop(i, clients, backend, ledger, inbox, stop) for i in range(CLIENTS)))

        async def chaos():
            await asyncio.sleep(PHASE)
            killed_at = time.monotonic()
            replicas[0].kill()
            await asyncio.sleep(PHASE - 3)
            await asyncio.to_thread(replicas[0].start)  # a few seconds to come up: still "during"
            return killed_at, time.monotonic()
        (killed_at, back_at), _ = await asyncio.gather(chaos(), loops)
        end = time.monotonic()
        report = [
            f"scale-out: {CLIENTS} clients through nginx, 3 replicas, PostgreSQL + Redis + js-ipfs; "
            f"replica r0 SIGKILLed at +{killed_at - t0:.1f} s, back at +{back_at - t0:.1f} s",
            phase_line("before the kill", ledger.ops, t0, killed_at),
            phase_line("replica down/starting", ledger.ops, killed_at, back_at),
            phase_line("after its restart", ledger.ops, back_at, end),
        ]

        # --- nothing lost, nothing duplicated, no revoked share released ------------------
        for root, (owner, digest) in ledger.sealed.items():
            opened = await clients[owner].open(root)
            plain = b"".join([chunk async for chunk in opened.plaintext()])
            assert hashlib.sha256(plain).digest() == digest, f"{cid_str(root)} lost or changed"
        for owner in range(CLIENTS):
            pins = [p["root"] for p in (await clients[owner].request("GET", "/v1/pins")).json()["pins"]]
            mine = {cid_str(r) for r, (o, _) in ledger.sealed.items() if o == owner}
            assert mine <= set(pins), f"client {owner}: sealed envelopes not pinned: {mine - set(pins)}"
            assert len(pins) == len(set(pins)), f"client {owner} has a pin twice"
        for (root, to), capsule in ledger.shared.items():
            owner = ledger.sealed[root][0]
            rows = (await clients[owner].request("GET", f"/v1/capsules?root={cid_str(root)}&role=sharer")).json()
            to_peer = [r for r in rows["capsules"] if r["recipient"] == people[to].id]
            assert [r["cid"] for r in to_peer] == [capsule], f"share of {cid_str(root)}: {to_peer}"
            assert bool(to_peer[0]["revoked"]) == ((root, to) in ledger.revoked)
        released_after = [(cid_str(r), who) for r, who, began in ledger.opened
                          if (r, who) in ledger.revoked and began > ledger.revoked[(r, who)]]
        assert not released_after, f"revoked shares released: {released_after[:5]}"
        for (root, to) in ledger.revoked:
            with pytest.raises((RevokedError, NotARecipientError)):
                await clients[to].open(root)
        report.append(f"checked: {len(ledger.sealed)} envelopes stored and intact, {len(ledger.shared)} shares "
                      f"exactly once, {len(ledger.revoked)} revoked and refused, {len(ledger.opened)} opens")
        return ledger, report
    finally:
        await asyncio.gather(*(c.close() for c in clients))


@pytest.mark.slow
def test_replicas_behind_nginx_survive_a_sigkill_and_lose_nothing(cluster, backend, capsys):
    nginx, replicas = cluster
    ledger, report = run(load(nginx.url, replicas, backend))
    with capsys.disabled():
        print("\n" + "\n".join(report))
    assert not ledger.errors, f"{len(ledger.errors)} operations failed: " + " | ".join(ledger.errors[:5])
    assert len(ledger.sealed) > CLIENTS and ledger.revoked and ledger.opened  # the load did happen
    kinds = {o[0] for o in ledger.ops}
    assert {"seal+share", "open", "revoke"} <= kinds


def test_the_per_address_limit_holds_across_replicas(cluster, backend):
    """30 new identities a minute per address: spread over three replicas, still 30, not 90."""
    nginx, _ = cluster
    now = int(time.time())

    async def go():
        people = await asyncio.gather(*(create_identity(backend, f"burst-{i}", now)
                                        for i in range(DIRECTORY_LIMIT + 12)))
        transport = httpx.AsyncHTTPTransport(local_address="127.0.2.7")
        async with httpx.AsyncClient(base_url=nginx.url, transport=transport, timeout=30) as http:
            replies = [await http.post("/v1/directory", json=p.public.to_json()) for p in people]
        return [r.status_code for r in replies]
    statuses = run(go())
    assert statuses.count(429) == 12 and all(s in (200, 201) for s in statuses[:DIRECTORY_LIMIT]), statuses
    # another address is not affected by this one's window
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.2.8")) as http:
        other = http.post(nginx.url + "/v1/directory", json=run(create_identity(backend, "other", now)).public.to_json())
    assert other.status_code in (200, 201)


def test_a_login_challenge_is_answered_once_across_replicas(cluster, backend):
    """A challenge from one replica, answered at a second: a token; the same answer at a third: refused."""
    nginx, replicas = cluster
    who = run(create_identity(backend, "once", int(time.time())))
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.2.9")) as http:
        assert http.post(nginx.url + "/v1/directory", json=who.public.to_json()).status_code in (200, 201)
    challenge = httpx.post(replicas[0].url + "/v1/auth/challenge", json={"id": who.id}).json()["challenge"]
    signature = run(backend.ed25519_sign(who.sig_private, challenge_message(nginx.url, challenge)))
    answer = {"challenge": challenge, "signature": codec.b64e(signature), "scopes": ["pins"]}
    granted = httpx.post(replicas[1].url + "/v1/auth/token", json=answer)
    assert granted.status_code == 200 and granted.json()["token"]
    replay = httpx.post(replicas[2].url + "/v1/auth/token", json=answer)
    assert replay.status_code == 401 and replay.json()["error"] == AuthError.code
    assert "already answered" in replay.json()["message"]
    assert httpx.get(replicas[0].url + "/v1/pins", headers={
        "Authorization": "Bearer " + granted.json()["token"]}).status_code == 200  # a token works at any replica


def test_without_its_redis_a_gateway_refuses_rather_than_lets_through(tmp_path, backend):
    """Shared state unreachable: limited requests and logins fail closed (502), and the
    error never carries the Redis URL's password."""
    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread, free_port

    password = "redis-pw-" + os.urandom(6).hex()
    config = GatewayConfig(data_dir=str(tmp_path / "gw"), redis_url=f"redis://:{password}@127.0.0.1:{free_port()}/0")
    config.load_secrets()
    who = run(create_identity(backend, "nored", int(time.time())))
    with ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "gw" / "blocks")))) as server:
        replies = [httpx.post(server.url + "/v1/directory", json=who.public.to_json(), timeout=30),
                   httpx.post(server.url + "/v1/auth/challenge", json={"id": who.id}, timeout=30)]
    for reply in replies:
        assert reply.status_code == 502 and reply.json()["error"] == "unavailable", reply.text
        assert password not in reply.text and "redis://" not in reply.text
