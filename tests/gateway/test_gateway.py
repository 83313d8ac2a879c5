"""The gateway over real HTTP (uvicorn on 127.0.0.1): refused paths, checked puts, tokens,
CORS, trustless reads, shares that fail closed, pins, sync, mailboxes, audit."""

import asyncio
import json
import os
import time

import httpx
import jwt
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec, errors
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, cid_str
from meshkit_web.core.identity import create_identity
from meshkit_web.gateway.app import create_app
from meshkit_web.gateway.config import GatewayConfig
from meshkit_web.gateway.policy_example import create_policy_app
from meshkit_web.providers.embedded import EmbeddedProvider
from meshkit_web.stores.carfile import CarReader

from support.aio import run
from support.constants import NOW
from support.servers import ServerThread, free_port
from support.transports import Recording

APP_ORIGIN = "http://app.example"
DATA = os.urandom(300_000)


def fault_policy_app(example_url: str):
    """Policy provider stand-in that injects faults for 'fault:*' references and forwards
    everything else to the real example provider."""
    async def decide(request):
        body = await request.json()
        policy = body["policy"]
        if policy == "fault:slow":
            await asyncio.sleep(5)
            return JSONResponse({"decision": "allow"})
        if policy == "fault:malformed":
            return PlainTextResponse("allow, probably")
        if policy == "fault:500":
            return JSONResponse({"decision": "allow"}, status_code=500)
        if policy == "fault:maybe":
            return JSONResponse({"decision": "maybe"})
        async with httpx.AsyncClient() as client:
            forwarded = await client.post(example_url + "/v1/decide", json=body)
        return Response(forwarded.content, status_code=forwarded.status_code, media_type="application/json")

    async def healthz(request):
        return JSONResponse({"status": "ok"})
    return Starlette(routes=[Route("/v1/decide", decide, methods=["POST"]), Route("/healthz", healthz)])


@pytest.fixture(scope="module")
def world(tmp_path_factory, backend, metadata_url):
    """A gateway (embedded provider; SQLite, then PostgreSQL) with a policy provider, and
    four identities."""
    base = tmp_path_factory.mktemp("gateway")
    people = run(_people(backend))
    rules = base / "rules.json"
    rules.write_text(json.dumps({"team": {"allow": [people["dave"].id]}, "frozen": {"deny": "frozen"}}))
    example = ServerThread(create_policy_app(str(rules))).start()
    faults = ServerThread(fault_policy_app(example.url)).start()

    def make_gateway(policy_url, **overrides):
        config = GatewayConfig(data_dir=str(base / "data"), policy_url=policy_url, policy_timeout=1.0,
                               cors_origins=[APP_ORIGIN], pin_quota=2_000_000,
                               metadata_url=metadata_url, **overrides)
        return ServerThread(create_app(config, EmbeddedProvider(str(base / "data" / "blockstore")))).start()

    gateway = make_gateway(faults.url)
    # A second replica on the same stores whose policy provider is down: tokens and data
    # carry over (the gateway keeps no state of its own), policy checks fail closed.
    dead_policy = make_gateway(f"http://127.0.0.1:{free_port()}")
    yield {"url": gateway.url, "dead_policy_url": dead_policy.url, "people": people, "base": base,
           "token_key": (base / "data" / "token-key").read_text().strip()}
    for server in (dead_policy, gateway, faults, example):
        server.stop()


async def _people(backend):
    return {n: await create_identity(backend, n, NOW) for n in ("alice", "bob", "carol", "dave")}


def client(world, backend, name, url=None, **kw):
    return GatewayClient(url or world["url"], backend, world["people"][name], **kw)


async def published(world, backend, *names):
    for name in names:
        async with client(world, backend, name) as c:
            await c.publish()


async def read_all(opened) -> bytes:
    return b"".join([chunk async for chunk in opened.plaintext()])


async def seal_as_alice(world, backend, data=DATA, to=("bob",)):
    await published(world, backend, "alice", "bob", "carol", "dave")
    async with client(world, backend, "alice") as alice:
        return await alice.seal_upload([data], recipients=[world["people"][n].public for n in to],
                                       segment_size=64 * 1024)


def token_for(world, backend, name, scopes=("blocks:write",)) -> str:
    async def go():
        await published(world, backend, name)
        async with client(world, backend, name, scopes=scopes) as c:
            return await c.token()
    return run(go())


def test_metadata_runs_on_the_configured_database(world, metadata_url):
    """Both replicas answer from the same store, and it is the database under test."""
    for url in (world["url"], world["dead_policy_url"]):
        assert httpx.get(url + "/healthz").json()["metadata"] == metadata_url.split(":", 1)[0]


# --- refused --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["config", "config/show", "shutdown", "key/list", "key/gen", "name/publish",
                                  "repo/gc", "swarm/peers", "block/put", "pin/add", "dag/export", "id"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_raw_kubo_rpc_is_refused(world, path, method):
    reply = httpx.request(method, f"{world['url']}/api/v0/{path}")
    assert reply.status_code == 403
    assert reply.json()["error"] == "forbidden"


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/", 404), ("GET", "/admin", 404), ("GET", "/ipns/whatever", 404), ("POST", "/ipfs/x", 405),
    ("DELETE", "/ipfs/bafkqaaa", 405), ("GET", "/v1/blocks/bafkqaaa", 405), ("PATCH", "/v1/pins", 405),
    ("GET", "/v1/../api/v0/config", 403),
])
def test_unknown_paths_and_methods(world, method, path, status):
    assert httpx.request(method, world["url"] + path).status_code == status


# --- block puts -------------------------------------------------------------------------

def test_put_checks_token_codec_size_and_cid(world, backend):
    token = token_for(world, backend, "alice")
    auth = {"Authorization": "Bearer " + token}
    data = os.urandom(1000)
    good = cid_str(cid_bytes(RAW, data))
    url = world["url"] + "/v1/blocks/"
    assert httpx.put(url + good, content=data).status_code == 401
    reply = httpx.put(url + good, content=data, headers=auth)
    assert reply.status_code == 201, reply.text
    wrong = httpx.put(url + cid_str(cid_bytes(RAW, b"other")), content=data, headers=auth)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "cid_mismatch")
    dag_pb = "b" + cid_str(b"\x01\x70\x12\x20" + bytes(32))[1:]
    assert httpx.put(url + dag_pb, content=data, headers=auth).json()["error"] == "malformed"
    cidv0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    assert httpx.put(url + cidv0, content=data, headers=auth).status_code == 400
    big = os.urandom((2 << 20) + 1)
    reply = httpx.put(url + cid_str(cid_bytes(RAW, big)), content=big, headers=auth)
    assert (reply.status_code, reply.json()["error"]) == (413, "limit_exceeded")
    # without Content-Length (chunked): still cut off at the limit
    reply = httpx.put(url + cid_str(cid_bytes(RAW, big)), content=iter([big[:1 << 20], big[1 << 20:]]),
                      headers=auth)
    assert reply.status_code == 413


def test_tokens_tampered_expired_wrong_scope_and_audience(world, backend):
    data = os.urandom(100)
    url = world["url"] + "/v1/blocks/" + cid_str(cid_bytes(RAW, data))
    token = token_for(world, backend, "alice")
    header, payload, signature = token.split(".")
    claims = json.loads(codec.b64d(payload))
    claims["sub"] = world["people"]["bob"].id
    forged = ".".join([header, codec.b64e(json.dumps(claims).encode()), signature])
    key = world["token_key"]
    now = int(time.time())
    expired = jwt.encode({**claims, "sub": world["people"]["alice"].id, "iat": now - 600, "exp": now - 300},
                         key, algorithm="HS256")
    other_audience = jwt.encode({**claims, "aud": "another-gateway", "exp": now + 60}, key, algorithm="HS256")
    other_key = jwt.encode({**claims, "exp": now + 60}, "x" * 48, algorithm="HS256")
    for bad, why in ((forged, "tampered"), (expired, "expired"), (other_audience, "audience"),
                     (other_key, "key"), ("not-a-jwt", "garbage")):
        reply = httpx.put(url, content=data, headers={"Authorization": "Bearer " + bad})
        assert reply.status_code == 401, why
        assert bad not in reply.text
    pins_only = token_for(world, backend, "alice", scopes=("pins",))
    reply = httpx.put(url, content=data, headers={"Authorization": "Bearer " + pins_only})
    assert (reply.status_code, reply.json()["error"]) == (403, "forbidden")


def test_challenge_needs_the_key_and_answers_once(world, backend):
    run(published(world, backend, "alice"))
    alice, carol = world["people"]["alice"], world["people"]["carol"]
    url = world["url"]
    challenge = httpx.post(url + "/v1/auth/challenge", json={"id": alice.id}).json()
    from meshkit_web.core.auth import challenge_message
    message = challenge_message(url, challenge["challenge"])
    wrong = run(backend.ed25519_sign(carol.sig_private, message))
    reply = httpx.post(url + "/v1/auth/token", json={"challenge": challenge["challenge"],
                                                     "signature": codec.b64e(wrong), "scopes": ["pins"]})
    assert reply.status_code == 401
    right = codec.b64e(run(backend.ed25519_sign(alice.sig_private, message)))
    body = {"challenge": challenge["challenge"], "signature": right, "scopes": ["pins"]}
    assert httpx.post(url + "/v1/auth/token", json=body).status_code == 200
    replay = httpx.post(url + "/v1/auth/token", json=body)
    assert (replay.status_code, replay.json()["error"]) == (401, "unauthorized")
    bad_scope = httpx.post(url + "/v1/auth/challenge", json={"id": alice.id}).json()
    message = challenge_message(url, bad_scope["challenge"])
    reply = httpx.post(url + "/v1/auth/token", json={
        "challenge": bad_scope["challenge"], "scopes": ["admin"],
        "signature": codec.b64e(run(backend.ed25519_sign(alice.sig_private, message)))})
    assert reply.status_code == 403
    unknown = httpx.post(url + "/v1/auth/challenge", json={"id": "mk" + "a" * 32})
    assert unknown.status_code == 404


def test_cors_allows_only_the_app_origin(world):
    def preflight(origin):
        return httpx.options(world["url"] + "/v1/blocks/bafkqaaa", headers={
            "Origin": origin, "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization,content-type"})
    allowed = preflight(APP_ORIGIN)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
    refused = preflight("http://evil.example")
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    simple = httpx.get(world["url"] + "/healthz", headers={"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize("path", ["..%2F..%2Fetc%2Fpasswd", "%2e%2e%2ftoken-key", "bafy..%2F..%2Ftoken-key",
                                  "bafkqaaa%00", "%2Fetc%2Fpasswd", "bafyBAD", "x" * 300])
def test_path_traversal_and_malformed_cids(world, path):
    reply = httpx.get(f"{world['url']}/ipfs/{path}?format=raw")
    assert reply.status_code in (400, 404, 422)  # 404: a decoded "/" no longer matches /ipfs/{cid}
    assert reply.json()["error"] in ("malformed", "not_found")
    assert "root:" not in reply.text and world["token_key"] not in reply.text


# --- trustless reads ----------------------------------------------------------------------

def test_trustless_raw_car_head_and_missing(world, backend, tmp_path):
    root = run(seal_as_alice(world, backend))
    url = f"{world['url']}/ipfs/{cid_str(root)}"
    raw = httpx.get(url, headers={"Accept": "application/vnd.ipld.raw"})
    assert raw.status_code == 200 and raw.headers["content-type"] == "application/vnd.ipld.raw"
    assert cid_bytes(DAG_CBOR, raw.content) == root
    head = httpx.head(url + "?format=raw")
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(raw.content)
    assert httpx.get(url + "?format=raw", headers={"If-None-Match": raw.headers["etag"]}).status_code == 304
    car = httpx.get(url + "?format=car")
    assert car.headers["content-type"].startswith("application/vnd.ipld.car")
    path = tmp_path / "e.car"
    path.write_bytes(car.content)
    with CarReader(str(path)) as reader:
        assert reader.roots == [root]
        assert len(reader) == 1 + len(range(0, len(DATA), 64 * 1024))
    assert httpx.get(url).status_code == 406  # no deserialized responses
    missing = cid_str(cid_bytes(RAW, b"never stored"))
    assert httpx.get(f"{world['url']}/ipfs/{missing}?format=raw").status_code == 404
    assert httpx.get(f"{world['url']}/ipfs/{missing}?format=car").status_code == 404
    assert httpx.head(f"{world['url']}/ipfs/{missing}?format=raw").status_code == 404


# --- shares fail closed ---------------------------------------------------------------------

def test_share_open_revoke_never_served_again(world, backend):
    async def go():
        root = await seal_as_alice(world, backend)
        async with client(world, backend, "carol") as carol:
            with pytest.raises(errors.NotARecipientError):
                await carol.open(root)
            async with client(world, backend, "alice") as alice:
                capsule = await alice.share(root, world["people"]["carol"].public)
                assert await read_all(await carol.open(root)) == DATA
                inbox = await carol.inbox()
                assert any(m.get("share", {}).get("capsule") == cid_str(capsule.cid) for m in inbox)
                async with client(world, backend, "bob") as bob:  # not the sharer
                    with pytest.raises(errors.ForbiddenError):
                        await bob.request("DELETE", f"/v1/capsules/{cid_str(capsule.cid)}")
                    with pytest.raises(errors.ForbiddenError):  # not the recipient
                        await bob.release(cid_str(capsule.cid), root)
                await alice.revoke(root, world["people"]["carol"].id)
            for _ in range(2):
                with pytest.raises(errors.RevokedError):
                    await carol.open(root)
                with pytest.raises(errors.RevokedError):
                    await carol.release(cid_str(capsule.cid), root)
    run(go())


def test_expired_share_fails_closed(world, backend):
    async def go():
        root = await seal_as_alice(world, backend)
        async with client(world, backend, "alice") as alice:
            await alice.share(root, world["people"]["dave"].public, expires=int(time.time()) + 2)
        async with client(world, backend, "dave") as dave:
            assert await read_all(await dave.open(root)) == DATA
            await asyncio.sleep(2.2)
            with pytest.raises(errors.ExpiredError):
                await dave.open(root)
    run(go())


@pytest.mark.parametrize("policy,recipient,error", [
    ("team", "dave", None),
    ("team", "carol", errors.PolicyDeniedError),
    ("frozen", "dave", errors.PolicyDeniedError),
    ("no-such-policy", "dave", errors.PolicyDeniedError),
    ("fault:slow", "dave", errors.PolicyUnavailableError),
    ("fault:malformed", "dave", errors.PolicyUnavailableError),
    ("fault:500", "dave", errors.PolicyUnavailableError),
    ("fault:maybe", "dave", errors.PolicyUnavailableError),
])
def test_policy_gated_shares(world, backend, policy, recipient, error):
    async def go():
        root = await seal_as_alice(world, backend, data=DATA[:5000])
        async with client(world, backend, "alice") as alice:
            await alice.share(root, world["people"][recipient].public, policy=policy)
        async with client(world, backend, recipient) as who:
            if error is None:
                assert await read_all(await who.open(root)) == DATA[:5000]
                # the same share through a replica whose policy provider is down: fails closed
                async with client(world, backend, recipient, url=world["dead_policy_url"]) as other:
                    with pytest.raises(errors.PolicyUnavailableError):
                        await other.open(root)
            else:
                with pytest.raises(error):
                    await who.open(root)
    run(go())


def test_wrong_bytes_from_gateway_are_rejected_before_decryption(world, backend):
    """A fault-injecting proxy flips one byte of every raw block it relays."""
    async def proxy(request):
        async with httpx.AsyncClient() as upstream:
            reply = await upstream.request(request.method, world["url"] + request.url.path + "?" + request.url.query,
                                           headers={k: v for k, v in request.headers.items() if k != "host"},
                                           content=await request.body())
        body = reply.content
        if request.url.path.startswith("/ipfs/") and reply.status_code == 200 and body:
            body = bytes([body[0] ^ 1]) + body[1:]
        headers = {k: v for k, v in reply.headers.items() if k.lower() not in ("content-length", "transfer-encoding")}
        return Response(body, status_code=reply.status_code, headers=headers)

    async def healthz(request):
        return JSONResponse({})
    evil = ServerThread(Starlette(routes=[Route("/healthz", healthz),
                                          Route("/{path:path}", proxy, methods=["GET", "POST", "PUT", "DELETE"])]))
    with evil:
        async def go():
            root = await seal_as_alice(world, backend)
            async with client(world, backend, "bob", url=evil.url) as bob:
                with pytest.raises(errors.CIDMismatchError):
                    await bob.open(root)
        run(go())


# --- pins, sync, mailbox, proofs, directory, audit -----------------------------------------

def test_pins_own_roots_only_with_quota(world, backend):
    async def go():
        root = await seal_as_alice(world, backend, data=DATA[:1000])
        async with client(world, backend, "bob") as bob:
            with pytest.raises(errors.ForbiddenError):
                await bob.pin(root)
        async with client(world, backend, "alice") as alice:
            listing = (await alice.request("GET", "/v1/pins")).json()
            assert cid_str(root) in [p["root"] for p in listing["pins"]]
            big = await alice.seal_upload([os.urandom(2_100_000)], recipients=[], pin=False)
            with pytest.raises(errors.QuotaExceededError):
                await alice.pin(big)
            await alice.request("DELETE", f"/v1/pins/{cid_str(root)}")
            with pytest.raises(errors.MissingMetadataError):
                await alice.request("DELETE", f"/v1/pins/{cid_str(root)}")
    run(go())


def test_pin_of_incomplete_dag_is_refused(world, backend):
    async def go():
        await published(world, backend, "alice")
        async with client(world, backend, "alice") as alice:
            from meshkit_web.core.envelope import seal
            blocks = [b async for b in seal(backend, [os.urandom(3000)], sender=world["people"]["alice"],
                                            recipients=[], now=NOW, segment_size=1024)]
            for block in blocks[1:]:  # the first segment never reaches the gateway
                await alice.put_block(block.cid, block.data)
            with pytest.raises(errors.MissingBlockError):
                await alice.pin(blocks[-1].cid)
    run(go())


def test_sync_records_compare_and_swap(world, backend):
    async def go():
        await published(world, backend, "bob")
        async with client(world, backend, "bob") as bob:
            put = lambda version, data: bob.request("PUT", "/v1/sync/settings", json_body={
                "version": version, "data": codec.b64e(data)})
            assert (await put(0, b"one")).json()["version"] == 1
            with pytest.raises(errors.ConflictError):
                await put(0, b"again")
            assert (await put(1, b"two")).json()["version"] == 2
            with pytest.raises(errors.ConflictError):
                await put(1, b"stale")
            got = (await bob.request("GET", "/v1/sync/settings")).json()
            assert (got["version"], codec.b64d(got["data"])) == (2, b"two")
        async with client(world, backend, "carol") as carol:  # per identity
            await published(world, backend, "carol")
            with pytest.raises(errors.MissingMetadataError):
                await carol.request("GET", "/v1/sync/settings")
    run(go())


def test_mailbox_post_list_fetch_ack(world, backend):
    async def go():
        await published(world, backend, "alice", "bob")
        async with client(world, backend, "alice") as alice:
            sent = (await alice.request("POST", f"/v1/mailbox/{world['people']['bob'].id}?kind=note",
                                        body=b"sealed bytes", content_type="application/octet-stream")).json()
            with pytest.raises(errors.ForbiddenError):  # share notices come from the gateway only
                await alice.request("POST", f"/v1/mailbox/{world['people']['bob'].id}?kind=share", body=b"{}")
            with pytest.raises(errors.LimitExceededError):
                await alice.request("POST", f"/v1/mailbox/{world['people']['bob'].id}", body=b"x" * (65 << 10))
        async with client(world, backend, "bob") as bob:
            ids = [m["id"] for m in await bob.inbox()]
            assert sent["id"] in ids
            assert (await bob.request("GET", f"/v1/mailbox/{sent['id']}")).body == b"sealed bytes"
            await bob.ack(sent["id"])
            assert sent["id"] not in [m["id"] for m in await bob.inbox()]
            assert sent["id"] in [m["id"] for m in await bob.inbox(include_acked=True)]
        async with client(world, backend, "carol") as carol:  # not carol's message
            await published(world, backend, "carol")
            with pytest.raises(errors.MissingMetadataError):
                await carol.request("GET", f"/v1/mailbox/{sent['id']}")
    run(go())


def test_proofs_are_verified_and_signer_bound(world, backend):
    from meshkit_web.core.proof import SEALED, make_proof, verify_proof
    async def go():
        root = await seal_as_alice(world, backend, data=b"proof me")
        async with client(world, backend, "alice") as alice:
            listed = (await alice.request("GET", f"/v1/proofs?root={cid_str(root)}")).json()["proofs"]
            assert listed, "seal_upload records a sealed proof"
            data = (await alice.request("GET", f"/v1/proofs/{listed[0]}")).body
            proof = await verify_proof(backend, data)
            assert (proof.statement, proof.root, proof.signer_id) == (SEALED, root, world["people"]["alice"].id)
        carols = await make_proof(backend, world["people"]["carol"], SEALED, root, now=NOW)
        async with client(world, backend, "bob") as bob:
            with pytest.raises(errors.ForbiddenError):
                await bob.request("POST", "/v1/proofs", body=carols.data, content_type="application/cbor")
            tampered = bytearray(carols.data)
            tampered[-5] ^= 1
            with pytest.raises((errors.SignatureError, errors.EnvelopeFormatError)):
                await bob.request("POST", "/v1/proofs", body=bytes(tampered), content_type="application/cbor")
    run(go())


def test_directory_rejects_bad_records(world, backend):
    alice, carol = world["people"]["alice"], world["people"]["carol"]
    url = world["url"] + "/v1/directory"
    good = alice.public.to_json()
    assert httpx.post(url, json=good).status_code == 201
    resolved = httpx.get(f"{url}/{alice.id}").json()
    assert resolved["fingerprint"] == alice.public.fingerprint
    bad_sig = {**good, "name": "mallory"}
    assert httpx.post(url, json=bad_sig).json()["error"] == "bad_signature"
    swapped = {**good, "sig_key": carol.public.to_json()["sig_key"]}
    assert httpx.post(url, json=swapped).json()["error"] == "identity_mismatch"
    assert httpx.get(f"{url}/mk{'z' * 32}").status_code == 404


def test_audit_log_and_no_secrets_in_responses_or_logs(world, backend, caplog):
    async def go():
        root = await seal_as_alice(world, backend, data=b"audit me")
        async with client(world, backend, "alice") as alice:
            token = await alice.token()
            entries = (await alice.request("GET", "/v1/audit")).json()["entries"]
        return token, entries, root
    with caplog.at_level("DEBUG"):
        token, entries, root = run(go())
    actions = {e["action"] for e in entries}
    assert {"auth.token", "pin.add", "proof.put"} <= actions
    dump = json.dumps(entries) + caplog.text
    assert token not in dump and world["token_key"] not in dump
    info = httpx.get(world["url"] + "/v1/info").text + httpx.get(world["url"] + "/openapi.json").text
    assert world["token_key"] not in info


def test_rate_limit_and_body_limit(tmp_path, backend):
    config = GatewayConfig(data_dir=str(tmp_path / "data"), rate_limit="5/minute")
    with ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "blocks")))) as server:
        async def go():
            person = await create_identity(backend, "erin", NOW)
            async with GatewayClient(server.url, backend, person) as erin:
                await erin.publish()
                for _ in range(5):
                    await erin.request("GET", "/v1/pins")
                with pytest.raises(errors.RateLimitedError):
                    await erin.request("GET", "/v1/pins")
        run(go())
        huge = httpx.post(server.url + "/v1/directory", content=b"{" + b" " * (3 << 20) + b"}",
                          headers={"Content-Type": "application/json"})
        assert (huge.status_code, huge.json()["error"]) == (413, "limit_exceeded")


def test_a_rate_limited_upload_is_paced_not_failed(tmp_path, backend):
    """Issue 13 #7: the gateway says when to come back (Retry-After on every 429) and the
    client waits that out, so an upload larger than the rate allows slows down and lands
    instead of failing; a wait longer than PACE_MAX_WAIT is left to the caller."""
    config = GatewayConfig(data_dir=str(tmp_path / "data"), rate_limit="8/2 seconds")
    with ServerThread(create_app(config, EmbeddedProvider(str(tmp_path / "blocks")))) as server:
        statuses = []

        async def go():
            person = await create_identity(backend, "erin", NOW)
            noted = Recording(on_reply=lambda _m, _p, reply: statuses.append(
                (reply.status, reply.headers.get("retry-after"))))
            async with GatewayClient(server.url, backend, person, transport=noted) as erin:
                erin.upload.batch_blocks = 2  # many requests, as a larger upload makes
                await erin.publish()
                data = os.urandom(20 * 65536)
                root = await erin.seal_upload([data], recipients=[], segment_size=65536)
                opened = await erin.open(root)
                return data, await read_all(opened)
        data, back = run(go())
        assert back == data
        limited = [after for status, after in statuses if status == 429]
        assert limited, "the upload never met the limit: the test proves nothing"
        assert all(after and after.isdigit() and 1 <= int(after) <= 2 for after in limited)
        assert len(limited) < len(statuses) / 2  # paced: mostly requests that went through


def test_send_links_open_as_their_throwaway_identity_at_most_opens_times(world, backend):
    """Send links (FORMAT.md 5.4): whoever holds the link opens the file with no account of
    their own; the gateway releases the share at most `opens` times, and a revoked link
    stays shut. The secret is never sent: only the derived identity's public record."""
    from meshkit_web.clients.send_links import create_send_link, open_send_link
    from meshkit_web.core.send_link import link_identity, parse_send_link

    async def go():
        data = os.urandom(5000)
        async with client(world, backend, "alice") as alice:
            await alice.publish()
            root = await alice.seal_upload([data], recipients=[])
            fragment, capsule = await create_send_link(alice, root, opens=2)
            assert parse_send_link("https://app.example/#" + fragment)[0] == root
            for _ in range(2):
                opened, as_link = await open_send_link(GatewayClient, world["url"], backend, fragment)
                assert await read_all(opened) == data and opened.metadata is None
                await as_link.close()
            with pytest.raises(errors.OpensUsedUpError):
                await open_send_link(GatewayClient, world["url"], backend, fragment)
            # the holder cannot share it on to lift the limit (a share of its own, unlimited)
            fresh, _ = await create_send_link(alice, root, opens=3)
            holder = await link_identity(backend, parse_send_link(fresh)[1])
            async with GatewayClient(world["url"], backend, holder) as as_holder:
                with pytest.raises(errors.NotARecipientError):
                    await as_holder.share(root, holder.public)
            revoked, capsule = await create_send_link(alice, root)
            await alice.request("DELETE", f"/v1/capsules/{capsule}", ok=(204,))
            with pytest.raises(errors.RevokedError):
                await open_send_link(GatewayClient, world["url"], backend, revoked)
            for bad in ("#send=" + fragment[5:-1], "#contact=x", fragment.replace(".", ". ")):
                with pytest.raises(errors.InvalidArgumentError):
                    await open_send_link(GatewayClient, world["url"], backend, bad)
    run(go())


def test_describing_a_send_link_takes_none_of_its_opens(world, backend):
    """Describing a link (what it is, whether it still opens) never releases its share, so
    it never spends an open: a once-link described again and again still opens once, then
    is described as spent; a stopped one as revoked. The link carries the envelope's
    metadata key, which opens the name and type and nothing else. The holder's own describe
    of the limited share (as the app's inbox does for shares) takes none either."""
    from meshkit_web.clients.send_links import create_send_link, describe_send_link, open_send_link
    from meshkit_web.core.send_link import link_identity, read_send_link, send_fragment

    async def go():
        data = os.urandom(5000)
        url = world["url"]
        async with client(world, backend, "alice") as alice:
            await alice.publish()
            root = await alice.seal_upload([data], recipients=[], metadata={"name": "minutes.txt", "type": "text/plain"})
            fragment, _ = await create_send_link(alice, root, opens=1)
            for _ in range(3):
                told = await describe_send_link(GatewayClient, url, backend, fragment)
                assert (told.metadata.name, told.metadata.type, told.header.size) == ("minutes.txt", "text/plain", 5000)
                assert told.opens_left == 1 and told.header.sender_id == alice.identity.id
            link = read_send_link(fragment)
            holder = await link_identity(backend, link.secret)
            async with GatewayClient(url, backend, holder) as as_holder:
                seen = await as_holder.describe(root)  # no describe key: the size, not the name
                assert seen.metadata is None and seen.header.size == 5000 and seen.opens_left == 1
            # a link made before links carried their describe key: described without its name, still free
            bare = send_fragment(link.root, link.secret)
            assert (await describe_send_link(GatewayClient, url, backend, bare)).metadata is None
            opened, as_link = await open_send_link(GatewayClient, url, backend, fragment)  # the one open
            assert await read_all(opened) == data
            await as_link.close()
            with pytest.raises(errors.OpensUsedUpError):
                await describe_send_link(GatewayClient, url, backend, fragment)
            stopped, capsule = await create_send_link(alice, root, opens=5)
            await alice.request("DELETE", f"/v1/capsules/{capsule}", ok=(204,))
            with pytest.raises(errors.RevokedError):
                await describe_send_link(GatewayClient, url, backend, stopped)
            # a describe key that is not this envelope's opens nothing: refused, not a guess
            live = read_send_link((await create_send_link(alice, root, opens=5))[0])
            wrong = send_fragment(live.root, live.secret, bytes(32))
            with pytest.raises(errors.EnvelopeFormatError):
                await describe_send_link(GatewayClient, url, backend, wrong)
    run(go())


def test_retry_after_is_read_strictly():
    """Only ASCII digits, at most 6 of them ("²".isdigit() is true in Python); a date form
    is not waited on; an HTTP 429 without one is not paced."""
    from meshkit_web.clients.session import _retry_after
    from meshkit_web.clients.transport import Response
    for value, seconds in (("7", 7), (" 30 ", 30), ("²", None), ("1e3", None), ("-1", None), ("9999999", None),
                           ("Wed, 21 Oct 2015 07:28:00 GMT", None), ("", None)):
        assert _retry_after(Response(429, {"Retry-After": value}, b"")) == seconds, value
