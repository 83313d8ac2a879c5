"""No recovery phrase, private key or content key in any log, error, capability report or
stored gateway byte: the account commands run at debug level against a gateway logging at
debug level in this process, including failures (a typo in the phrase, a wrong code, a
removed device), and every output and every file the gateway wrote is searched for each
secret in every encoding it could take (hex, base64, base64url, raw bytes; the phrase
whole, and any four of its words in a row)."""

import base64
import json
import logging
import os
import re
import subprocess
import sys

from meshkit_web.core.account import derive_recovery_keys, secret_from_phrase
from meshkit_web.core.cid import parse_cid
from meshkit_web.core.envelope import read_header, unwrap_content_key
from meshkit_web.stores.filestore import FileStore

from support.aio import run
from support.linking import cli_link
from support.meshkit_cli import meshkit as run_meshkit


def meshkit(*args, **kwargs):
    return run_meshkit(*args, verbose=True, **kwargs)


def encodings(raw: bytes) -> list:
    return [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw).rstrip(b"=")]


def phrase_pieces(phrase: str) -> list:
    words = phrase.split()
    return [phrase.encode()] + [" ".join(words[i:i + 4]).encode() for i in range(len(words) - 3)]


def private_keys(home, name, backend) -> list:
    with open(os.path.join(home, "identities", name + ".json")) as f:
        kept = json.load(f)
    return [base64.urlsafe_b64decode(kept[k] + "=" * (-len(kept[k]) % 4)) for k in ("sig_private", "enc_private")]


def test_secrets_never_leave_where_they_belong(fresh_gateway, tmp_path, backend, caplog):
    caplog.set_level(logging.DEBUG)
    gateway = fresh_gateway
    laptop, phone, tablet = tmp_path / "laptop", tmp_path / "phone", tmp_path / "tablet"
    outputs = []
    kit = tmp_path / "kit.txt"
    outputs.append(meshkit(laptop, "identity", "create", "laptop", "--gateway", gateway, "--phrase-file", kit))
    phrase = re.search(r"recovery phrase \(24 words\):\n(.+)\n", kit.read_text()).group(1)
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"the secret plans " * 1000)
    sealed = meshkit(laptop, "seal", plain, "--from", "laptop", "--gateway", gateway)
    outputs.append(sealed)
    root = sealed.stdout.split()[-1]

    links = []
    for typed in (lambda code: "000 001" if code != "000 001" else "000 002", None):  # a wrong code, then the right one
        phone_side, laptop_side = cli_link(phone, "phone", laptop, "laptop", gateway, typed=typed, verbose=True,
                                           timeout=8 if typed else 60)
        links.append(phone_side.link)
        for proc in (laptop_side, phone_side):
            out, err = proc.communicate(timeout=90)
            outputs.append(subprocess.CompletedProcess([], proc.returncode, out, err))
    words = phrase.split()
    outputs.append(meshkit(tablet, "identity", "recover", "tablet", "--gateway", gateway,
                           stdin=" ".join(words[:-1] + [words[0]]) + "\n", check=False))  # a typo
    outputs.append(meshkit(tablet, "identity", "recover", "tablet", "--gateway", gateway, stdin=phrase + "\n"))
    listed = meshkit(tablet, "device", "list", "--as", "tablet", "--gateway", gateway)
    outputs.append(listed)
    phone_id = next(line.split("\t")[0] for line in listed.stdout.splitlines() if "\tphone\t" in line)
    outputs.append(meshkit(tablet, "device", "remove", phone_id, "--with-phrase", "--as", "tablet",
                           "--gateway", gateway, stdin=phrase + "\n"))
    outputs.append(meshkit(phone, "open", root, "--as", "phone", "--out", tmp_path / "x", "--gateway", gateway,
                           check=False))  # removed: refused
    outputs.append(meshkit(tablet, "open", root, "--as", "tablet", "--out", tmp_path / "y", "--gateway", gateway))
    outputs.append(meshkit(tablet, "library", "--as", "tablet", "--gateway", gateway))
    # the kit confirmed, the phrase replaced (a second kit file), the old one then refused, the new one confirmed
    new_kit = tmp_path / "new-kit.txt"
    outputs.append(meshkit(tablet, "identity", "confirm-kit", "tablet", "--gateway", gateway, stdin=phrase + "\n"))
    outputs.append(meshkit(tablet, "identity", "new-phrase", "tablet", "--gateway", gateway, "--phrase-file", new_kit))
    new_phrase = re.search(r"recovery phrase \(24 words\):\n(.+)\n", new_kit.read_text()).group(1)
    replaced = meshkit(tablet, "identity", "confirm-kit", "tablet", "--gateway", gateway, stdin=phrase + "\n",
                       check=False)
    outputs.append(replaced)
    outputs.append(meshkit(tablet, "identity", "confirm-kit", "tablet", "--gateway", gateway,
                           stdin=new_phrase + "\n"))
    assert "phrase_replaced" in replaced.stderr

    # the secrets: the phrase, what it derives, every device's private keys, the content key
    secret = secret_from_phrase(phrase)
    keys = run(derive_recovery_keys(backend, secret))
    secrets = {"phrase": phrase_pieces(phrase), "secret": encodings(secret),
               "root private": encodings(keys.root_private.raw), "recovery private": encodings(keys.recovery_private.raw)}
    new_secret = secret_from_phrase(new_phrase)
    new_keys = run(derive_recovery_keys(backend, new_secret))
    secrets.update({"new phrase": phrase_pieces(new_phrase), "new secret": encodings(new_secret),
                    "new root private": encodings(new_keys.root_private.raw),
                    "new recovery private": encodings(new_keys.recovery_private.raw)})
    for home, name in ((laptop, "laptop"), (phone, "phone"), (tablet, "tablet")):
        for n, raw in enumerate(private_keys(home, name, backend)):
            secrets[f"{name} key {n}"] = encodings(raw)
    store = FileStore(str(laptop), backend)

    async def content_key():
        identity = await store.load("laptop")
        from meshkit_web.clients.gateway import GatewayClient
        async with GatewayClient(gateway, backend, identity) as client:
            header = await read_header(backend, parse_cid(root), client.get_block)
            return await unwrap_content_key(backend, identity, header.recipient_entry(identity.id), header.commitment)
    secrets["content key"] = encodings(run(content_key()))

    places = {f"command {i} stdout/stderr": (p.stdout + p.stderr).encode() for i, p in enumerate(outputs)}
    places["gateway log"] = "\n".join(r.getMessage() + " " + str(r.args) for r in caplog.records).encode()
    for folder, _, files in os.walk(tmp_path / "fresh-gateway"):
        for name in files:
            with open(os.path.join(folder, name), "rb") as f:
                places[f"gateway file {name}"] = f.read()
    assert len(places) > 15 and any(b"DEBUG" in v or b"INFO" in v for v in places.values())
    assert "bad_phrase" in outputs[6].stderr and "link_code_mismatch" in outputs[3].stderr  # the failures ran
    assert "unauthorized" in outputs[10].stderr
    # a device link's nonce authenticates the link's messages: the gateway never sees it
    for link in links:
        nonce = base64.urlsafe_b64decode(link.split(".")[-1] + "==")
        for where, text in places.items():
            if where.startswith("gateway"):
                assert not any(form in text for form in encodings(nonce)), f"a link nonce reached {where}"
    for label, forms in secrets.items():
        for where, text in places.items():
            assert not any(form in text for form in forms), f"{label} found in {where}"
    # and the kit files are the one place each phrase was written, 0600
    assert oct(os.stat(kit).st_mode & 0o777) == oct(os.stat(new_kit).st_mode & 0o777) == "0o600"
