"""Linking a device by its short code (FORMAT.md 11.5.1) on CPython through the real gateway:
the approving device types the code (any case, spaces, I/L/O read as 1/1/0) instead of the
link; a wrong or expired code is bad_link and nothing changes; lookups are rate-limited; the
gateway keeps only ciphertext (neither the link, its nonce nor the code is in its database)."""

import contextlib
import sqlite3
import time
import types

import pytest

from meshkit_web.clients import accounts
from meshkit_web.clients.gateway import GatewayClient
from meshkit_web.core import codec, short_code
from meshkit_web.core.errors import MeshKitError
from meshkit_web.core.identity import create_identity
from meshkit_web.gateway.routes import link_codes

from support.aio import run
from support.constants import NOW
from support.linking import link_device
from support.skew import gateway


def typed_sloppily(code: str) -> str:
    """What a person may type for a code: lower case, a space for the dash, l for 1, o for 0."""
    return code.lower().replace("-", " ").replace("1", "l").replace("0", "o")


@contextlib.asynccontextmanager
async def two_devices(url, backend):
    """(laptop's client, phone's client, the account the laptop made): the phone is published."""
    laptop, phone = [await create_identity(backend, n, NOW) for n in ("laptop", "phone")]
    async with GatewayClient(url, backend, laptop) as on_laptop, GatewayClient(url, backend, phone) as on_phone:
        _, record = await accounts.create_account(on_laptop, "alice")
        await on_phone.publish()
        yield on_laptop, on_phone, record


async def error_of(call) -> MeshKitError | None:
    try:
        await call
    except MeshKitError as exc:
        return exc
    return None


def test_link_a_device_by_its_code(tmp_path, backend):
    with gateway(tmp_path) as server:
        async def go():
            async with two_devices(server.url, backend) as (on_laptop, on_phone, record):
                approved, linked = await link_device(on_laptop, record, on_phone, timeout=20,
                                                     given=lambda request: typed_sloppily(request.code))
                assert approved.version == linked.version == 2 and linked.device(on_phone.identity.id) is not None
        run(go())


def test_a_code_shows_grouped_and_the_gateway_keeps_only_ciphertext(tmp_path, backend):
    with gateway(tmp_path) as server:
        async def go():
            async with two_devices(server.url, backend) as (on_laptop, on_phone, _):
                request = await accounts.request_link(on_phone)
                assert request.code not in repr(request) and request.link not in repr(request)
                assert len(request.code) == 11 and request.code[5] == "-"
                assert accounts.parse_link_or_code(request.code)[0] == "code"
                assert await accounts.resolve_link(on_laptop, typed_sloppily(request.code)) == request.link
                return request
        request = run(go())
    data = tmp_path / "skew-gateway"
    rows = sqlite3.connect(data / "metadata.db").execute("SELECT lookup, data FROM link_codes").fetchall()
    assert len(rows) == 1
    nonce_text = request.link.rsplit(".", 1)[1]
    stored = b"".join((data / name).read_bytes() for name in ("metadata.db", "metadata.db-wal")
                      if (data / name).exists())
    code = short_code.parse_code(request.code)
    for secret in (request.link.encode(), nonce_text.encode(), codec.b64d(nonce_text), code.encode(),
                   request.code.encode(), short_code.code_keys(code)[1]):
        assert secret not in stored and secret not in rows[0][1]


def test_a_wrong_code_is_bad_link_and_nothing_changes(tmp_path, backend):
    with gateway(tmp_path) as server:
        async def go():
            async with two_devices(server.url, backend) as (on_laptop, on_phone, record):
                request = await accounts.request_link(on_phone)
                code = short_code.parse_code(request.code)
                wrong = short_code.ALPHABET[(short_code.ALPHABET.index(code[0]) + 1) % 32] + code[1:]
                for given in (wrong, "KWX5R-ZH1PU", "not a code"):
                    refused = await error_of(accounts.approve_link(on_laptop, record, given, show_code=print, timeout=5))
                    assert refused is not None and refused.code == "bad_link", given
                assert (await on_laptop.fetch_account(record.id)).version == 1
                assert await on_phone.inbox(notices=False, kind=("link-offer",)) == []  # no offer was posted
        run(go())


def test_a_code_whose_value_opens_nothing_or_no_link_is_bad_link(tmp_path, backend):
    """What is stored under a code's lookup id but does not open under it (a gateway's or
    anyone's noise), or opens to something that is not a device link: bad_link, no change."""
    with gateway(tmp_path) as server:
        async def go():
            async with two_devices(server.url, backend) as (on_laptop, on_phone, record):
                for i, value in enumerate((None, b"\x01" + bytes(60))):
                    code = short_code.code_from_random(bytes([i + 1]) * 7)
                    lookup, sealed = await short_code.seal_link(backend, code, "not a device link")
                    await on_phone.request("PUT", f"/v1/link-codes/{lookup}",
                                           json_body={"data": codec.b64e(value or sealed)})
                    refused = await error_of(accounts.approve_link(on_laptop, record, short_code.grouped(code),
                                                                   show_code=print, timeout=5))
                    assert refused is not None and refused.code == "bad_link"
                assert (await on_laptop.fetch_account(record.id)).version == 1
        run(go())


def test_an_expired_code_is_bad_link(tmp_path, backend, monkeypatch):
    with gateway(tmp_path) as server:
        async def go():
            async with two_devices(server.url, backend) as (on_laptop, on_phone, record):
                request = await accounts.request_link(on_phone)
                # the gateway's clock (never the devices') moves past the link's wait time
                later = types.SimpleNamespace(time=lambda: time.time() + accounts.LINK_WAIT + 1)
                monkeypatch.setattr(link_codes, "time", later)
                refused = await error_of(accounts.approve_link(on_laptop, record, request.code, show_code=print))
                assert refused is not None and refused.code == "bad_link" and "expired" in str(refused)
                assert (await on_laptop.fetch_account(record.id)).version == 1
        run(go())


def test_code_lookups_are_rate_limited_per_identity_and_per_address(tmp_path, backend):
    with gateway(tmp_path, link_code_limit="3/minute") as server:
        async def go():
            async with two_devices(server.url, backend) as (on_laptop, on_phone, record):
                guesses = [short_code.grouped(short_code.code_from_random(bytes([i]) * 7)) for i in range(4)]
                codes = [getattr(await error_of(accounts.resolve_link(on_laptop, g)), "code", None) for g in guesses]
                assert codes == ["bad_link"] * 3 + ["rate_limited"]
                # another identity from the same address: the address's window is spent too
                refused = await error_of(accounts.resolve_link(on_phone, guesses[0]))
                assert refused is not None and refused.code == "rate_limited" and "address" in str(refused)
        run(go())


@pytest.mark.parametrize("text", ["", "meshkit-link:nonsense", "12345", "x" * 200])
def test_neither_a_link_nor_a_code(text):
    with pytest.raises(accounts.LinkError):
        accounts.parse_link_or_code(text)
