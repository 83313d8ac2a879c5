"""Clock skew (issue 27 item 5): a device whose clock is ten minutes ahead of or behind the
gateway's still makes a "5 minutes" share last five minutes of gateway time, opens a valid
share, keeps a long session signed in, and `meshkit doctor` names the skew. Only the
client's clock is moved (tests/support/skew.py); the gateway keeps real time."""

import asyncio
import json
import re
import time
from email.utils import formatdate, parsedate_to_datetime

import httpx
import pytest

from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.clients.send_links import create_send_link, describe_send_link
from meshkit_web.core import clock, errors
from meshkit_web.core.identity import create_identity

from support.aio import run
from support.constants import NOW
from support.meshkit_cli import meshkit
from support.skew import AHEAD, BEHIND, gateway, meshkit_in_process, skew_client_clock

SKEWS = pytest.mark.parametrize("offset", [AHEAD, BEHIND], ids=["client-ahead", "client-behind"])
DATA = b"skewed clocks " * 1000


async def _people(backend, url, *names):
    people = [await create_identity(backend, name, NOW) for name in names]
    for person in people:
        async with GatewayClient(url, backend, person) as client:
            await client.publish()
    return people


async def _sealed(backend, url, sender, *recipients):
    async with GatewayClient(url, backend, sender) as client:
        return await client.seal_upload([DATA], recipients=[r.public for r in recipients])


async def _read(opened) -> bytes:
    return b"".join([chunk async for chunk in opened.plaintext()])


def test_every_reply_tells_the_gateway_time_even_to_another_origin(tmp_path):
    """Date on every reply, errors too (what clients learn the offset from), and readable by
    a page on another origin (CORS exposes it)."""
    app = "http://app.example"
    with gateway(tmp_path, cors_origins=[app]) as server:
        replies = [httpx.get(server.url + "/healthz", headers={"Origin": app}),
                   httpx.get(server.url + "/v1/no-such-route", headers={"Origin": app}),
                   httpx.get(server.url + "/v1/usage", headers={"Origin": app}),  # no token: 401
                   httpx.put(server.url + "/v1/blocks/bafkqaaa", headers={"Origin": app}, content=b"x")]
    assert [r.status_code for r in replies][:3] == [200, 404, 401] and replies[3].status_code >= 400
    for reply in replies:
        dates = reply.headers.get_list("date")
        assert len(dates) == 1, (reply.status_code, dates)
        when = parsedate_to_datetime(dates[0]).timestamp()
        assert abs(when - time.time()) < 5
        exposed = reply.headers.get("access-control-expose-headers", "").lower()
        assert "date" in [h.strip() for h in exposed.split(",")], (reply.status_code, exposed)


def test_the_offset_is_bounded_and_taken_from_fresh_replies_only(monkeypatch):
    """A hostile gateway's Date cannot move expiries by more than MAX_OFFSET; a cached reply
    (Age) or a malformed Date teaches nothing."""
    skew_client_clock(monkeypatch, 0)
    gw = clock.GatewayClock()
    now = time.time()
    gw.observe({"Date": "not a date"}, now, now)
    gw.observe({"date": formatdate(now - 3600, usegmt=True), "age": "3600"}, now, now)
    assert gw.offset is None and gw.report()["known"] is False
    gw.observe({"Date": formatdate(now + 10 * 366 * 86400, usegmt=True)}, now, now)
    assert abs(gw.now() - (now + clock.MAX_OFFSET)) < 3
    report = gw.report()
    assert report["clamped"] and report["beyond_tolerance"] and report["device_clock"] == "behind"
    gw.observe({"Date": formatdate(now + 30, usegmt=True)}, now, now)  # within the tolerance
    assert not gw.report()["beyond_tolerance"] and "in step" in gw.summary()


@SKEWS
def test_a_five_minute_share_and_send_link_last_five_minutes_of_gateway_time(fresh_gateway, tmp_path, monkeypatch,
                                                                            offset, backend):
    """`meshkit share --expires 5m` and `meshkit send-link --expires 5m` from a device ten
    minutes off store an expiry five minutes from the GATEWAY's now."""
    home = tmp_path / "home"
    meshkit(home, "identity", "create", "alice")
    meshkit(home, "identity", "create", "bob")
    meshkit(home, "identity", "publish", "bob", "--gateway", fresh_gateway)
    bob = json.loads(meshkit(home, "identity", "show", "bob").stdout)["id"]
    (tmp_path / "f.txt").write_bytes(DATA)
    root = meshkit(home, "seal", tmp_path / "f.txt", "--from", "alice", "--to", "alice",
                   "--gateway", fresh_gateway).stdout.split()[-1]
    skew_client_clock(monkeypatch, offset)
    code, _, err = meshkit_in_process(monkeypatch, "--home", home, "share", root, "--from", "alice", "--to", bob,
                                      "--expires", "5m", "--gateway", fresh_gateway)
    assert code == 0, err
    code, _, err = meshkit_in_process(monkeypatch, "--home", home, "send-link", root, "--from", "alice",
                                      "--expires", "5m", "--gateway", fresh_gateway)
    assert code == 0, err
    gateway_now = time.time()  # the gateway's clock is this process's real one

    async def stored():
        from meshkit_web.stores.filestore import FileStore
        alice = await FileStore(str(home), backend).load("alice")
        async with GatewayClient(fresh_gateway, backend, alice) as client:
            return (await client.request("GET", f"/v1/capsules?root={root}&role=sharer")).json()["capsules"]
    shares = run(stored())
    assert len(shares) == 2
    for share in shares:
        assert abs(share["expires"] - (gateway_now + 300)) < 5, (share["expires"] - gateway_now)


@SKEWS
def test_a_recipient_off_by_ten_minutes_opens_a_valid_share_and_sees_link_state_as_the_gateway(
        fresh_gateway, monkeypatch, offset, backend):
    """Opening a share that is valid for five more minutes works; describing a send link says
    it opens while it does and is expired once the gateway says so, whichever way the
    recipient's clock is off."""
    async def go():
        alice, bob = await _people(backend, fresh_gateway, "alice", "bob")
        root = await _sealed(backend, fresh_gateway, alice, alice)
        in_5m, in_2s = int(time.time()) + 300, int(time.time()) + 2  # the sharer's clock is the gateway's
        async with GatewayClient(fresh_gateway, backend, alice) as sharer:
            await sharer.share(root, bob.public, expires=in_5m)
            live, _ = await create_send_link(sharer, root, expires=in_5m, opens=3)
            short, _ = await create_send_link(sharer, root, expires=in_2s, opens=3)
        skew_client_clock(monkeypatch, offset)
        async with GatewayClient(fresh_gateway, backend, bob) as recipient:
            assert await _read(await recipient.open(root)) == DATA
        described = await describe_send_link(GatewayClient, fresh_gateway, backend, live)
        assert described.opens_left == 3
        await asyncio.sleep(3)  # the short link expires at the gateway
        with pytest.raises(errors.ExpiredError):
            await describe_send_link(GatewayClient, fresh_gateway, backend, short)
    run(go())


@pytest.mark.parametrize("offset", [BEHIND, AHEAD], ids=["client-behind", "client-ahead"])
def test_a_long_session_renews_its_token_by_gateway_time(tmp_path, monkeypatch, offset, backend):
    """Tokens living 6 s at the gateway: a session making requests for 9 s on a device ten
    minutes off renews before each token expires (never `unauthorized`), and not at every
    request either."""
    skew_client_clock(monkeypatch, offset)
    with gateway(tmp_path, token_ttl=6) as server:
        async def go():
            person = await create_identity(backend, "long", NOW)
            async with GatewayClient(server.url, backend, person) as client:
                await client.publish()
                logins, real_login = [], client.session._login

                async def counted():
                    logins.append(time.time())
                    return await real_login()
                client.session._login = counted
                requests, started = 0, time.time()
                while time.time() - started < 9:
                    await client.request("GET", "/v1/usage")  # unauthorized would raise here
                    requests += 1
                    await asyncio.sleep(0.2)
                return len(logins), requests
        logins, requests = run(go())
    assert 2 <= logins <= 6 and requests > 25, (logins, requests)


@SKEWS
def test_doctor_names_the_skew_and_which_way(fresh_gateway, tmp_path, monkeypatch, offset):
    home = tmp_path / "home"
    skew_client_clock(monkeypatch, offset)
    code, out, err = meshkit_in_process(monkeypatch, "--home", home, "doctor", "--gateway", fresh_gateway,
                                        "--bundle", tmp_path / "bundle.json")
    assert code == 0, out + err  # a skew the client corrects for is a warning, not a failure
    way = "ahead of" if offset == AHEAD else "behind"
    line = next((line for line in out.splitlines() if "\tclock\t" in line), "")
    assert line.startswith("warn\tclock\t"), out
    seconds = int(re.search(r"clock is (\d+) s (ahead of|behind) the gateway", line).group(1))
    assert abs(seconds - 600) <= 2 and way in line, line
    bundle = json.loads((tmp_path / "bundle.json").read_text())["gateway"]["clock"]
    assert abs(bundle["offset_s"] - offset) <= 2 and bundle["beyond_tolerance"], bundle


def test_doctor_says_the_clock_is_in_step(fresh_gateway, tmp_path, monkeypatch):
    code, out, err = meshkit_in_process(monkeypatch, "--home", tmp_path / "home", "doctor", "--gateway", fresh_gateway)
    assert code == 0 and "ok  \tclock\tin step with the gateway's" in out, out + err
