"""A passkey as a second way to recover an account, in real Chromium with CDP's virtual
authenticator (WebAuthn PRF): Alice adds a passkey with her phrase and seals a file; in a
fresh browser (new IndexedDB) holding the same passkey, recoverWithPasskey restores her
account and the file opens (the same authenticator, every byte the origin stored cleared:
CDP cannot carry a credential's PRF secret to another authenticator). A wrap altered at the
gateway fails typed and leaves no identity; an authenticator without PRF is told
`unsupported` and nothing is stored.

The page is on http://localhost:PORT: an IP address is not a valid relying-party id."""

import sqlite3

from support.browser import OPEN_DIGEST_JS, call
from support.passkeys import device, forget_everything, localhost_app  # noqa: F401 (fixtures)

SEAL = """
  const file = new File([new Uint8Array(arg.size).map((_, i) => (i * 13) % 251)], arg.name);
  return await meshkit.seal(file, {from: arg.as, to: [], mode: "direct"});"""


def stored_wraps(db) -> list:
    with sqlite3.connect(db) as conn:
        return [bytes(row[0]) for row in conn.execute("SELECT data FROM passkeys")]


def set_wraps(db, data: bytes) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE passkeys SET data = ?", (data,))


def test_recover_with_a_passkey_in_a_fresh_browser(device, localhost_app):
    laptop = device()
    made = call(laptop, "return await meshkit.identity.create('alice');")
    assert "error" not in made, made
    phrase = made["recoveryPhrase"]
    caps = call(laptop, "return await meshkit.capabilities();")
    assert caps["passkey_recovery"]["available"] in (True, "unknown"), caps["passkey_recovery"]

    # a phrase that is not the account's: refused before any prompt, no passkey made
    wrong = call(laptop, "return await meshkit.identity.addPasskey('alice', {phrase: arg});",
                 " ".join(reversed(phrase.split())))
    assert wrong["error"] == "bad_phrase", wrong
    assert laptop.cdp.send("WebAuthn.getCredentials", {"authenticatorId": laptop.authenticator})["credentials"] == []
    added = call(laptop, "return await meshkit.identity.addPasskey('alice', {phrase: arg});", phrase)
    assert "error" not in added, added
    assert call(laptop, "return await meshkit.identity.passkeys('alice');") == [added]
    # one per account on a provider: a second would orphan the first one's wrap
    twice = call(laptop, "return await meshkit.identity.addPasskey('alice', {phrase: arg});", phrase)
    assert twice["error"] == "passkey_exists", twice
    assert len(stored_wraps(localhost_app.db)) == 1
    sealed = call(laptop, SEAL, {"as": "alice", "size": 200_000, "name": "plans.pdf"})
    assert sealed["status"] == "uploaded", sealed
    digest = call(laptop, OPEN_DIGEST_JS, {"root": sealed["root"], "as": "alice"})
    diagnostics = str(call(laptop, "return await meshkit.diagnostics();"))
    assert phrase.split()[0] + " " + phrase.split()[1] not in diagnostics

    # a new browser with the same passkey (a synced passkey, or a security key carried over).
    # CDP's exported credentials carry no PRF secret (WebAuthn.getCredentials has no such field,
    # and an imported credential gives no PRF output), so the authenticator stays and every byte
    # the origin stored goes: IndexedDB, caches, service workers, then a new page load
    exported = laptop.cdp.send("WebAuthn.getCredentials", {"authenticatorId": laptop.authenticator})["credentials"]
    assert [c["isResidentCredential"] for c in exported] == [True]
    fresh = forget_everything(laptop, localhost_app.origin)
    assert call(fresh, "return await meshkit.identity.list();") == []

    # a gateway that alters the wrap: a typed error, and no identity is left behind
    [good] = stored_wraps(localhost_app.db)
    set_wraps(localhost_app.db, good[:-1] + bytes([good[-1] ^ 1]))
    bad = call(fresh, "return await meshkit.identity.recoverWithPasskey('alice-phone');")
    assert bad["error"] == "bad_passkey", bad
    assert call(fresh, "return await meshkit.identity.list();") == []
    set_wraps(localhost_app.db, good)

    recovered = call(fresh, "return await meshkit.identity.recoverWithPasskey('alice-phone', {deviceName: 'phone'});")
    assert "error" not in recovered, recovered
    assert (recovered["account"], recovered["accountFingerprint"]) == (made["account"], made["accountFingerprint"])
    assert recovered["restored"] >= 1
    assert call(fresh, OPEN_DIGEST_JS, {"root": sealed["root"], "as": "alice-phone"}) == digest
    again = call(fresh, "return await meshkit.identity.recoverWithPasskey('alice-phone');")
    assert again["error"] == "identity_exists", again

    # any device of the account lists and removes it; then it recovers nothing
    assert call(fresh, "return await meshkit.identity.passkeys('alice-phone');") == [added]
    assert call(fresh, "return await meshkit.identity.removePasskey('alice-phone', arg);", added["credentialId"]) == {
        "removed": added["credentialId"]}
    assert stored_wraps(localhost_app.db) == []
    # and the browser told the authenticator (signalUnknownCredential): it offers it no more
    assert fresh.cdp.send("WebAuthn.getCredentials", {"authenticatorId": fresh.authenticator})["credentials"] == []
    gone = call(fresh, "return await meshkit.identity.recoverWithPasskey('alice-tablet');")
    assert gone["error"] == "passkey_cancelled", gone  # no passkey of this site to pick


def test_an_authenticator_without_prf_is_told_unsupported_and_nothing_is_stored(device, localhost_app):
    page = device(prf=False)
    made = call(page, "return await meshkit.identity.create('bob');")
    assert "error" not in made, made
    refused = call(page, "return await meshkit.identity.addPasskey('bob', {phrase: arg});", made["recoveryPhrase"])
    assert refused["error"] == "unsupported", refused
    assert call(page, "return await meshkit.identity.passkeys('bob');") == []
    assert stored_wraps(localhost_app.db) == []
    nothing = call(page, "return await meshkit.identity.recoverWithPasskey('bob-2');")
    assert nothing["error"] in ("unsupported", "passkey_cancelled"), nothing
    assert [i["name"] for i in call(page, "return await meshkit.identity.list();")] == ["bob"]
