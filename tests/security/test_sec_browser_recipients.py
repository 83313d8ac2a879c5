"""Item 2 in the browser runtime (real Chromium + Pyodide): recipients resolve by Core's one
rule, so no contact captures a seal, share or revoke addressed to someone else; the expiry
rule is Core's (the same as the CLI's)."""

import json
import time

from support.browser import call, ready

from support.sec_cli import forged_record


def test_browser_recipients_resolve_by_the_core_rule(two_users, backend):
    alice, bob = two_users
    ready(alice)
    ready(bob)
    bob_made = call(bob, "return await meshkit.identity.create('sec-bob');")
    bob_record = call(bob, "return await meshkit.identity.record('sec-bob');")
    carol = call(bob, "return await meshkit.identity.create('sec-carol');")  # published, not alice's contact
    me = call(alice, "return await meshkit.identity.create('sec-alice');")
    add = "return await meshkit.contacts.add(arg);"
    assert call(alice, add, json.dumps(bob_record))["id"] == bob_record["id"]
    shadow = forged_record(backend, "sec-alice")  # a contact named like my own identity
    twin = forged_record(backend, "sec-bob")      # a second contact named like bob
    for record in (shadow, twin):
        assert call(alice, add, json.dumps(record))["id"] == record["id"]
    # a record named with bob's id is refused on import, in any spelling
    for name in (bob_record["id"], bob_record["id"].upper(), " " + bob_record["id"]):
        refused = call(alice, add, json.dumps(forged_record(backend, name)))
        assert refused["error"] == "malformed" and "look like an identity id" in refused["message"]

    seal = "return await meshkit.seal(new Uint8Array([1, 2, 3]), {from: 'sec-alice', to: arg, name: 'x'});"
    # each identity here has an account: a seal reaches the person through it (rule 4)
    assert call(alice, seal, ["sec-alice"])["recipients"] == [me["account"]]  # my name is mine
    assert call(alice, seal, [bob_record["id"]])["recipients"] == [bob_made["account"]]
    assert call(alice, seal, [carol["id"]])["recipients"] == [carol["account"]]  # the directory, by id
    for who in (["sec-bob"], [bob_record["id"].upper()], [""], [7]):
        assert call(alice, seal, who)["error"] == "invalid_argument", who

    env = call(alice, seal, [])
    share = "return await meshkit.share(arg.root, {from: 'sec-alice', to: arg.to, expires: arg.expires});"
    assert call(alice, share, {"root": env["root"], "to": "sec-bob"})["error"] == "invalid_argument"
    # the expiry rule is Core's: a bare number is a Unix time (1970 here), durations need a unit
    for expires in ("3600", 3600, "1H", "10 m"):
        failed = call(alice, share, {"root": env["root"], "to": bob_record["id"], "expires": expires})
        assert failed["error"] == "invalid_argument", expires
    granted = call(alice, share, {"root": env["root"], "to": bob_record["id"], "expires": "1h"})
    assert granted["to"] == bob_made["account"] and abs(granted["expires"] - (time.time() + 3600)) < 120
    revoke = "return await meshkit.revoke(arg.root, {from: 'sec-alice', to: arg.to});"
    assert call(alice, revoke, {"root": env["root"], "to": "sec-bob"})["error"] == "invalid_argument"
    revoked = call(alice, revoke, {"root": env["root"], "to": bob_record["id"]})["revoked"]
    assert sorted(revoked) == sorted(granted["capsules"]) and len(revoked) == 2  # bob's device and recovery key


def test_ui_recipient_pickers_carry_ids_only(two_users, backend):
    """The UI's seal checkboxes and share picker submit ids; names are only shown."""
    alice, _ = two_users
    ready(alice)
    call(alice, "return await meshkit.identity.create('ui-alice');")
    posing_name = forged_record(backend, "ui-friend")
    call(alice, "return await meshkit.contacts.add(arg);", json.dumps(posing_name))
    alice.reload()
    ready(alice)
    alice.wait_for_selector("[data-testid=recipients] input[type=checkbox]", state="attached")  # folded away in Files
    values = alice.eval_on_selector_all("[data-testid=recipients] input[type=checkbox]", "els => els.map(e => e.value)")
    assert values == [posing_name["id"]]
