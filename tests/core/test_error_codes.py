"""One registry of error codes (core/errors.py), for every runtime.

* Core's public functions, fed hostile bytes, text or JSON (and valid objects with a field
  changed to anything), fail with a MeshKitError subclass only: never a bare ValueError,
  KeyError, TypeError, IndexError, RecursionError or UnicodeDecodeError.
* A bad argument is InvalidArgumentError (``invalid_argument``, still a ValueError).
* Every code the gateway, the CLI, the browser runtime and the JS package send or compare
  against is in ``registry()``.
* The CLI's ``-v`` shows where an internal error happened (frames only, no message).
* The gateway answers Core's InvalidArgumentError as ``invalid_argument`` (400) over HTTP,
  and its own refusals (no such path, wrong method) with registry codes.
"""

import asyncio
import json
import pathlib
import re
import subprocess
import sys

import dag_cbor
import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from multiformats import CID

from meshkit_web.core import account, car, codec, dag, envelope, errors, kdf, library, metadata
from meshkit_web.core.auth import canonical_url
from meshkit_web.core.capsule import make_capsule, verify_capsule
from meshkit_web.core.cid import DAG_CBOR, RAW, cid_bytes, cid_from_digest, parse_cid, to_link
from meshkit_web.core.contact_link import contact_fragment, linked_account, parse_contact_link, record_from_link
from meshkit_web.core.errors import InvalidArgumentError, MeshKitError, registry
from meshkit_web.core.expiry import parse_expiry
from meshkit_web.core.identity import create_identity, record_from_bytes, record_from_json
from meshkit_web.core.metadata import safe_filename
from meshkit_web.core.proof import SEALED, make_proof, verify_proof
from meshkit_web.core.send_link import link_identity, read_send_link, send_fragment

from support.aio import run
from support.constants import NOW, ROOT
from support.envelopes import getter, seal_to_blocks

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
CHAIN = [bytes.fromhex(h) for h in json.loads((ROOT / "tests" / "vectors" / "account-v1.json").read_text())["chain"]]


def typed_only(call):
    """Run ``call`` (a coroutine is awaited): a result or a MeshKitError, nothing else."""
    try:
        result = call()
        if asyncio.iscoroutine(result):
            result = run(result)
        return result
    except MeshKitError:
        return None


# --- hostile input into Core ----------------------------------------------------------------

@pytest.fixture(scope="module")
def valid(backend, people):
    """One valid encoding of each signed object Core reads, to change a field of."""
    alice, bob, dave = people["alice"], people["bob"], people["dave"]
    root, store, _ = run(seal_to_blocks(backend, b"x" * 3000, alice, [bob.public]))
    capsule = run(make_capsule(backend, alice, root, getter(store), dave.public, now=NOW, expires=NOW + 60,
                               policy="team"))
    proof = run(make_proof(backend, alice, SEALED, root, now=NOW))
    record = account.parse_account_record(CHAIN[0])[0]
    lib = library.Library(record.id)
    lib.put("envelope:" + "b" * 40, {"name": "x"}, NOW)
    lib.remove("contact:" + alice.id, NOW + 1)
    kept = account.KnownAccount(record, frozenset(d.id for d in record.devices))
    return {"root": root, "store": store, "identity": alice.public.to_bytes(), "capsule": capsule.data,
            "proof": proof.data, "account": CHAIN, "library": lib.to_bytes(), "account_id": record.id,
            "kept": kept.to_bytes(), "header": store[root], "json": alice.public.to_json()}


def readers(backend, valid):
    """Every public Core function that reads bytes from outside: name -> fn(data)."""
    root, account_id = valid["root"], valid["account_id"]
    return {
        "decode_map": lambda d: codec.decode_map(d, "test"),
        "identity": lambda d: record_from_bytes(backend, d),
        "capsule": lambda d: verify_capsule(backend, d, root=root, recipient="mk" + "a" * 32, now=NOW),
        "proof": lambda d: verify_proof(backend, d),
        "account": lambda d: account.verify_account_record(backend, d),
        "account_next": lambda d: account.verify_account_record(
            backend, d, account.parse_account_record(valid["account"][0])[0]),
        "account_parse": account.parse_account_record,
        "chain": lambda d: account.verify_chain(backend, [valid["account"][0], d]),
        "kept": account.known_account_from_bytes,
        "library": lambda d: library.library_from_bytes(d, account_id),
        "car_header": car.decode_header,
        "links": lambda d: dag.links(cid_bytes(DAG_CBOR, d), d),
        "step": lambda d: dag.step(cid_bytes(DAG_CBOR, d), d, ["recipients", "0", "id", "x"]),
        "step_index": lambda d: dag.step(cid_bytes(DAG_CBOR, d), d, ["segments", "²"]),
        "header": lambda d: envelope.parse_header(cid_bytes(DAG_CBOR, d), d),
        "index": lambda d: envelope.parse_index_block(cid_bytes(DAG_CBOR, d), d, 3),
        "cid": parse_cid,
        "metadata": lambda d: metadata.open_metadata_with_key(backend, b"k" * 32, d, 10),
    }


@SETTINGS
@given(data=st.binary(max_size=600))
def test_garbage_bytes_give_typed_errors_only(backend, valid, data):
    for name, read in readers(backend, valid).items():
        typed_only(lambda: read(data))


# values a hostile encoder can put in a field: every DAG-CBOR kind, links included
_CIDS = st.sampled_from([to_link(cid_bytes(RAW, b"a")), to_link(cid_bytes(DAG_CBOR, b"b")),
                         CID.decode(b"\x01\x70\x12\x20" + bytes(32)), CID.decode(b"\x01\x55\x13\x40" + bytes(64))])
_LEAVES = (st.none() | st.booleans() | st.integers(-(1 << 64) + 1, (1 << 64) - 1)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40) | st.binary(max_size=80)
           | st.sampled_from(["", "sealed", "shared", "mk" + "a" * 32, "envelope:x", "contact:", "0"]) | _CIDS)
VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


def _paths(obj, prefix=()):
    """Every place inside a decoded map a field can be changed or removed."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield prefix + (key,)
            yield from _paths(value, prefix + (key,))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield prefix + (index,)
            yield from _paths(value, prefix + (index,))


def _changed(obj, path, value, delete):
    """A deep copy of ``obj`` with ``path`` set to ``value`` (or removed)."""
    if not path:
        return value
    copy = dict(obj) if isinstance(obj, dict) else list(obj)
    if len(path) == 1 and delete:
        del copy[path[0]]
    else:
        copy[path[0]] = _changed(copy[path[0]], path[1:], value, delete)
    return copy


@SETTINGS
@given(kind=st.sampled_from(["identity", "capsule", "proof", "account", "library", "kept", "header"]),
       pick=st.integers(0, 10 ** 6), value=VALUES, delete=st.booleans())
def test_valid_objects_with_any_field_changed_give_typed_errors_only(backend, valid, kind, pick, value, delete):
    original = valid[kind][1] if kind == "account" else valid[kind]
    obj = dag_cbor.decode(original)
    paths = list(_paths(obj))
    changed = _changed(obj, paths[pick % len(paths)], value, delete)
    try:
        data = dag_cbor.encode(changed)
    except Exception:  # noqa: BLE001 - not encodable (a float DAG-CBOR refuses): nothing to read
        assume(False)
    for name, read in readers(backend, valid).items():
        typed_only(lambda: read(data))


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=10)


@SETTINGS
@given(obj=JSON, field=st.sampled_from(["meshkit", "v", "id", "name", "created", "sig_key", "enc_key", "sig",
                                        "fingerprint"]), value=JSON)
def test_identity_json_gives_typed_errors_only(backend, valid, obj, field, value):
    typed_only(lambda: record_from_json(backend, obj))
    typed_only(lambda: record_from_json(backend, {**valid["json"], field: value}))


LINKY = st.lists(st.sampled_from(list("#=.-_:/%{}[]\"' ,aAzZ09²") + ["contact=", "send=", "mk", "bafy", "%7B"]),
                 max_size=60).map("".join)


@SETTINGS
@given(text=st.one_of(st.text(max_size=200), LINKY))
def test_any_text_gives_typed_errors_only(backend, valid, text):
    header = valid["header"]
    for read in (codec.b64d, parse_contact_link, linked_account, read_send_link, account.secret_from_phrase,
                 canonical_url, parse_cid, lambda t: parse_expiry(t, NOW), lambda t: record_from_link(t, None),
                 lambda t: parse_contact_link("#contact=" + t), lambda t: record_from_link("#contact=" + t, None),
                 lambda t: read_send_link("#send=" + t), lambda t: dag.step(cid_bytes(RAW, b"x"), b"x", [t]),
                 lambda t: dag.step(cid_bytes(DAG_CBOR, header), header, ["recipients", t, "id"])):
        typed_only(lambda: read(text))
    assert isinstance(safe_filename(text), str)  # never refuses: a name to save under, always


@pytest.mark.parametrize("text", ["#contact={\"a\":" + "[" * 5000, "#contact=" + "{\"a\":" * 1500,
                                  "#contact=%7B%22a%22:" + "%5B" * 1500])
def test_deeply_nested_link_json_is_refused_typed(text):
    typed_only(lambda: record_from_link(text, None))
    assert linked_account(text) is None
    with pytest.raises(InvalidArgumentError):
        run(record_from_link(text, None))


@pytest.mark.parametrize("value", [float("inf"), float("nan"), -1, 2 ** 70, "0001-01-01T00:00:00+23:59",
                                   "9999-12-31T23:59:59-23:59", "2027-02-30T00:00:00Z", [], {}, b"7d", True])
def test_expiry_refuses_typed(value):
    with pytest.raises(InvalidArgumentError):
        parse_expiry(value, NOW)


# --- a bad argument is invalid_argument -----------------------------------------------------

def test_bad_arguments_are_invalid_argument(backend, people):
    alice, bob = people["alice"], people["bob"]
    root, store, _ = run(seal_to_blocks(backend, b"y" * 100, alice, [bob.public]))
    opened = run(envelope.open_envelope(backend, root, getter(store), bob))

    async def seal_to_nobody():
        return [b async for b in envelope.seal(backend, [b"x"], sender=alice, recipients=[], now=NOW,
                                               include_sender=False)]

    cases = {
        "proof statement": lambda: run(make_proof(backend, alice, "maybe", root, now=NOW)),
        "share proof without its capsule": lambda: run(make_proof(backend, alice, "shared", root, now=NOW)),
        "past expiry": lambda: run(make_capsule(backend, alice, root, getter(store), bob.public, now=NOW,
                                                expires=NOW - 1)),
        "empty policy": lambda: run(make_capsule(backend, alice, root, getter(store), bob.public, now=NOW, policy="")),
        "no recipients": lambda: run(seal_to_nobody()),
        "byte range": lambda: opened.segments_for(0, 101),
        "send-link secret": lambda: send_fragment(root, b"short"),
        "send-link identity": lambda: run(link_identity(backend, b"short")),
        "recovery secret": lambda: account.phrase_from_secret(b"short"),
        "recovery keys": lambda: run(account.derive_recovery_keys(backend, b"short")),
        "library key": lambda: library.Library("mk" + "a" * 32).put("nothing", {}, NOW),
        "identity name with a slash": lambda: run(create_identity(backend, "a/b", NOW)),
        "identity name with a control": lambda: run(create_identity(backend, "a\u202eb", NOW)),
        "identity name like an id": lambda: run(create_identity(backend, "mk" + "a" * 32, NOW)),
        "digest length": lambda: cid_from_digest(RAW, b"short"),
        "hkdf length": lambda: kdf.hkdf(b"k", b"info", 255 * 32 + 1),
        "x25519 key": lambda: run(backend.x25519_import_private(b"short")),
        "ed25519 seed": lambda: run(backend.ed25519_import_private(b"short")),
        "aead nonce": lambda: run(backend.aead_seal(run(backend.aead_key(bytes(32))), b"short", b"x", b"")),
    }
    from meshkit_web.core.hpke import Suite
    cases["hpke aead"] = lambda: Suite(backend, 0x99)
    for name, call in cases.items():
        with pytest.raises(InvalidArgumentError) as failed:
            call()
        assert failed.value.code == "invalid_argument" and isinstance(failed.value, ValueError), name
        assert not str(failed.value.message).startswith("invalid_argument"), name


def test_configuration_mistakes_are_invalid_argument(tmp_path, monkeypatch):
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.gateway.site import mount_site
    from meshkit_web.stores.metadata import engine_for
    with pytest.raises(InvalidArgumentError):
        engine_for("mysql://db")
    with pytest.raises(InvalidArgumentError):
        mount_site(None, str(tmp_path))
    monkeypatch.setenv("MESHKIT_TOKEN_KEY", "short")
    with pytest.raises(InvalidArgumentError):
        GatewayConfig(data_dir=str(tmp_path / "data")).load_secrets()


def test_no_bare_builtin_errors_are_raised_in_the_package():
    """`raise ValueError(...)` (or KeyError, TypeError, AssertionError) for a caller's input
    is a registry error now: InvalidArgumentError, or EnvelopeFormatError for bytes."""
    found = []
    for path in (ROOT / "meshkit_web").rglob("*.py"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\braise (ValueError|KeyError|TypeError|AssertionError|IndexError)\b", line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


# --- every code sent or compared is in the registry -----------------------------------------

# Where a code appears in the sources: each pattern's groups are codes (a group may hold a
# ternary's two codes: every "..." inside it counts).
# Where a code appears in the sources. Each pattern's one group is a code, or (with "quoted")
# a stretch whose every "..." is a code (a ternary's two, a Set's members), or (with "keys")
# an object literal whose keys are codes.
COMPARED = r'(?<!typeof )(?<![\w.])(?:\w+\.)*code\s*[!=]==?\s*"([a-z_]+)"'  # error.code === "x", not typeof
PY_PATTERNS = [r'error_response\(\s*"([a-z_]+)"', r'_failure\(\s*"([a-z_]+)"', r'"code":\s*"([a-z_]+)"',
               COMPARED, r'meshkit: ([a-z_]+):', r'"error":\s*"([a-z_]+)"']
JS_PATTERNS = [(r'new MeshKitError\(([^,)]*)', "quoted"), r'\bcode:\s*"([a-z_]+)"', COMPARED,
               r'\.code\s*\|\|\s*"([a-z_]+)"', r'errorResponse\(\s*"([a-z_]+)"', r'\brefuse\(\s*"([a-z_]+)"',
               r'\bfatal\(\s*"([a-z_]+)"', r'\berror:\s*"([a-z_]+)"', r'ERRORS\[\s*"([a-z_]+)"',
               (r'(?:CLOSED|RETRYABLE|PERMANENT)\s*=\s*new Set\(\[([^\]]*)\]', "quoted"),
               (r'WHY_WAITING\s*=\s*\{([^}]*)\}', "keys")]


def _codes_in(text: str, patterns: list) -> set[str]:
    found = set()
    for pattern in patterns:
        pattern, how = pattern if isinstance(pattern, tuple) else (pattern, "code")
        for match in re.finditer(pattern, text):
            group = match.group(1)
            if how == "quoted":
                found.update(re.findall(r'"([a-z_]+)"', group))
            elif how == "keys":
                found.update(re.findall(r"^\s*([a-z_]+):", group, re.M))
            else:
                found.add(group)
    return found


def sent_codes() -> dict[str, set[str]]:
    """file -> the codes it sends, reports or tests for."""
    files = [*(ROOT / "meshkit_web" / "gateway").rglob("*.py"), *(ROOT / "meshkit_web" / "browser").rglob("*.py"),
             *(ROOT / "meshkit_web" / "cli").rglob("*.py"), *(ROOT / "meshkit_web" / "kit").rglob("*.py"), *(ROOT / "meshkit_web" / "clients").rglob("*.py")]
    scripts = [*(ROOT / "sdk").glob("*.js"), *(ROOT / "static").glob("*.js"), *(ROOT / "service_worker").glob("*.js")]
    out = {str(p.relative_to(ROOT)): _codes_in(p.read_text(), PY_PATTERNS) for p in files}
    out.update({str(p.relative_to(ROOT)): _codes_in(p.read_text(), JS_PATTERNS) for p in scripts
                if p.name != "errors.js"})
    return out


def test_the_collector_finds_what_it_looks_for():
    assert _codes_in('throw new MeshKitError(e.name === "SecurityError" ? "csp_blocked" : "unsupported", "x")',
                     JS_PATTERNS) == {"csp_blocked", "unsupported"}
    assert _codes_in('const WHY_WAITING = {\n  rate_limited: "a pause",\n  unavailable: "down",\n};',
                     JS_PATTERNS) == {"rate_limited", "unavailable"}
    assert _codes_in('say(f"meshkit: io_error: {exc}")\nerror_response("not_found", "x")', PY_PATTERNS) == {
        "io_error", "not_found"}
    codes = set().union(*sent_codes().values())
    # the gateway's own, and the JS package's (the gateway's HTTP errors and the CLI's io_error
    # come from the registry by name: checked below)
    assert {"forbidden", "gateway_origin_refused", "csp_blocked", "insecure_context", "integrity",
            "invalid_argument", "limit_exceeded", "unavailable", "internal"} <= codes


def test_every_code_sent_anywhere_is_in_the_registry():
    table = registry()
    unknown = {f"{where}: {code}" for where, codes in sent_codes().items() for code in codes if code not in table}
    assert not unknown, sorted(unknown)


def test_every_code_the_gateway_can_answer_is_in_the_registry():
    from meshkit_web.gateway import http
    table = registry()
    for status in range(400, 600):
        code = http.http_exception_code(status)
        assert code in table, status
    for status, code in http.HTTP_EXCEPTION_CODES.items():
        assert table[code]["status"] == status or code == "malformed" or code == "unavailable", (status, code)
    assert set(http.OS_FAULTS.values()) <= set(table)
    assert {reply[0] for reply in http.FAULT_REPLIES.values()} <= set(table)
    assert {"not_found", "method_not_allowed", "io_error"} <= set(table)
    assert (table["not_found"]["status"], table["method_not_allowed"]["status"]) == (404, 405)
    assert errors.error_for_code("not_found", "x").code == "not_found"


def test_the_generated_js_registry_holds_the_js_only_codes():
    build = (ROOT / "build.py").read_text()
    assert '"errors.js"' in build and "registry()" in build  # sdk/errors.js is written from registry()
    for code in ("gateway_origin_refused", "csp_blocked", "insecure_context", "integrity", "interrupted",
                 "local_storage_full", "internal"):
        assert code in registry(), code


# --- the CLI's -v ----------------------------------------------------------------------------

BOOM = ("import sys, meshkit_web.cli.identities as commands\n"
        "from meshkit_web.cli import main\n"
        "async def boom(args, store):\n"
        "    def deeper():\n"
        "        raise RuntimeError('secret-xyz')\n"
        "    try:\n"
        "        deeper()\n"
        "    except RuntimeError as exc:\n"
        "        raise LookupError('secret-abc') from exc\n"
        "commands.cmd_identity_list = boom\n"
        "sys.exit(main(sys.argv[1:]))\n")


@pytest.mark.parametrize("verbose", [False, True])
def test_an_internal_error_shows_where_with_v_and_never_what(tmp_path, verbose):
    argv = [sys.executable, "-c", BOOM, *(["-v"] if verbose else []), "--home", str(tmp_path), "identity", "list"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert "secret-xyz" not in proc.stderr and "secret-abc" not in proc.stderr
    assert "raise " not in proc.stderr  # no source lines either
    if not verbose:
        assert lines == ["meshkit: internal: LookupError (run with -v for details)"]
        return
    assert lines[0] == "meshkit: internal: LookupError"
    frames = lines[1:]
    assert any("cli/main.py:" in f and " in main" in f for f in frames), frames
    assert any("<string>:" in f and " in boom" in f for f in frames), frames
    assert "meshkit:   caused by RuntimeError:" in frames
    assert any(" in deeper" in f for f in frames[frames.index("meshkit:   caused by RuntimeError:"):])


def test_a_bad_argument_on_the_cli_is_invalid_argument(cli):
    proc = cli("identity", "create", "a\u202eb", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("meshkit: invalid_argument: identity name must not contain")


def test_a_missing_file_on_the_cli_is_io_error(cli, tmp_path):
    cli("identity", "create", "alice")
    proc = cli("seal", tmp_path / "nope", "--from", "alice", "--to", "alice", "--car", tmp_path / "x.car", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("meshkit: io_error: ")
    assert "io_error" in registry()


# --- the gateway over HTTP -------------------------------------------------------------------

@pytest.fixture(scope="module")
def gateway(tmp_path_factory, backend):
    from fastapi import Query

    from meshkit_web.gateway.app import create_app
    from meshkit_web.gateway.config import GatewayConfig
    from meshkit_web.providers.embedded import EmbeddedProvider
    from support.servers import ServerThread
    base = tmp_path_factory.mktemp("gateway-errors")
    config = GatewayConfig(data_dir=str(base / "data"), metadata_url="sqlite:///" + str(base / "metadata.db"))
    app = create_app(config, EmbeddedProvider(str(base / "data" / "blockstore")))

    # a route as the gateway's own are: it calls Core with the request's values
    @app.get("/test/core")
    async def core_call(name: str = Query(max_length=200), kind: str = Query(max_length=20)):
        if kind == "name":
            await create_identity(backend, name, NOW)
        elif kind == "bytes":
            await record_from_bytes(backend, name.encode())
        elif kind == "value":
            int(name)  # a bare ValueError from a library: a value out of range
        return {"ok": True}

    server = ServerThread(app).start()
    yield server.url
    server.stop()


def test_the_gateway_answers_cores_invalid_argument_as_invalid_argument(gateway):
    reply = httpx.get(gateway + "/test/core", params={"name": "a/b", "kind": "name"})
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_argument"), reply.text
    assert "identity name" in reply.json()["message"]
    # bytes that do not decode stay malformed; a bare ValueError is still a 400 malformed
    reply = httpx.get(gateway + "/test/core", params={"name": "garbage", "kind": "bytes"})
    assert (reply.status_code, reply.json()["error"]) == (400, "malformed")
    reply = httpx.get(gateway + "/test/core", params={"name": "x", "kind": "value"})
    assert (reply.status_code, reply.json()["error"]) == (400, "malformed")
    # and the gateway's own bad-argument refusals are the same code
    reply = httpx.get(gateway + "/ipfs/bafkqaaa", params={"format": "zip"})
    assert (reply.status_code, reply.json()["error"]) == (400, "invalid_argument")


def test_the_gateways_own_refusals_use_registry_codes(gateway):
    table = registry()
    reply = httpx.get(gateway + "/no/such/path")
    assert (reply.status_code, reply.json()["error"]) == (404, "not_found")
    reply = httpx.delete(gateway + "/v1/directory")
    assert (reply.status_code, reply.json()["error"]) == (405, "method_not_allowed")
    assert "POST" in reply.headers.get("allow", "")
    reply = httpx.post(gateway + "/v1/directory", content=b"{not json", headers={"Content-Type": "application/json"})
    assert reply.json()["error"] in table and reply.status_code in (400, 422)
    for reply in (httpx.get(gateway + "/ipfs/not-a-cid?format=raw"), httpx.put(gateway + "/v1/blocks/x")):
        assert reply.json()["error"] in table, reply.text


# --- the docs' tables are generated from the registry ----------------------------------------

def test_the_docs_error_tables_are_generated_from_the_registry():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "sdk_docs.py"), "--check"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr  # stale: run python scripts/sdk_docs.py
    text = (ROOT / "docs" / "GATEWAY.md").read_text()
    start, end = text.index("<!-- errors:start"), text.index("<!-- errors:end -->")
    rows = re.findall(r"^\| (\d{3}) \| `([a-z_]+)` \| (yes|no) \| [^|\n]", text[start:end], re.M)
    assert sorted((code, int(status), retry == "yes") for status, code, retry in rows) == \
        sorted((code, entry["status"], entry["retryable"]) for code, entry in registry().items())
    # the only table of codes in GATEWAY.md is the generated one
    assert not re.search(r"^\| \d{3} \| `", text[:start] + text[end:], re.M)
