"""One source for every error code (core/errors.py): the gateway's HTTP statuses, the
outbox's "worth retrying", the app's sentences and the worker's statuses all come from it;
build.py writes it into the app. A code raised anywhere has a sentence a person can read."""

import importlib
import json
import pkgutil
import re

import meshkit_web
from meshkit_web.core import errors
from meshkit_web.core.errors import MeshKitError, registry
from meshkit_web.gateway.http import STATUS

from support.constants import ROOT


def every_error_class():
    for module in pkgutil.walk_packages(meshkit_web.__path__, "meshkit_web."):
        if module.name.endswith(("__main__", ".webcrypto", ".indexeddb", ".fetch_client", ".runtime",
                                 ".account_api", ".send_api")):
            continue  # the browser runtime's FFI-bound modules (need Pyodide); their errors are Core's
        importlib.import_module(module.name)
    return list(errors._all_error_classes())


def test_every_error_is_in_the_registry_with_a_sentence_and_a_status():
    table = registry()
    for cls in every_error_class():
        assert cls.code in table, cls
        entry = table[cls.code]
        assert entry["message"] and entry["message"] != MeshKitError.user, cls.code
        assert 400 <= entry["status"] <= 599
    assert len({cls.code for cls in every_error_class()}) == len(table) - 1  # + the base class's "error"


def test_the_gateway_and_the_outbox_use_it():
    assert STATUS == {code: entry["status"] for code, entry in registry().items()}
    assert {"unavailable", "provider_timeout", "busy", "rate_limited", "policy_unavailable",
            "storage_full"} == {c for c, e in registry().items() if e["retryable"]}


def test_the_app_gets_it_from_the_build(site):
    # the package's bundles (build.py) carry the registry as build.py wrote it, and the app's
    # worker (bundled with meshkit-sw.js) too: one table, written from core/errors.py
    for bundle in [*(site / "b").glob("*/meshkit.js"), *(site / "b").glob("*/meshkit-sw.js"), site / "sw.js"]:
        built = bundle.read_text()
        start = built.index("var ERRORS = {")
        table = json.loads(built[start + len("var ERRORS = "):built.index("\n};", start) + 2])
        assert table == registry(), bundle.name
    # and no copy of the sentences or codes is left in the app's own sources
    ui = (ROOT / "static" / "ui.js").read_text()
    assert "const ERRORS" not in ui and "segment_auth:" not in ui and "key_unwrap" not in ui
    for used in set(re.findall(r"data-code=([a-z_]+)", ui)):
        assert used in registry()
