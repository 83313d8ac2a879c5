"""Managing files in real Chromium (Pyodide, WebCrypto, IndexedDB) against the real gateway:
a usage meter, unpin and delete (shares and send links revoked, out of the library, the
room given back), send links listed after a fresh page load with their opens, the library
offline from IndexedDB, and deleting a file still in the outbox."""

import time

import pytest

from support.browser import RANDOM_BYTES_JS, call, ready
from support.faulty_gateway import Gateway

MiB = 1 << 20


def test_usage_unpin_delete_and_send_links_listed_after_a_reload(profiles):
    alice, bob = profiles(2)
    call(alice, "return await meshkit.identity.create('alice');")
    bob_id = call(bob, "return await meshkit.identity.create('bob');")["id"]
    made = call(alice, RANDOM_BYTES_JS + """
      const kept = await meshkit.seal(new Blob([data]), {from: 'alice', name: 'kept.bin', mode: 'direct'});
      const gone = await meshkit.seal(new Blob([data, data]), {from: 'alice', name: 'gone.bin', mode: 'direct'});
      await meshkit.share(gone.root, {from: 'alice', to: arg.bob});
      const once = await meshkit.sendLinks.create(gone.root, {from: 'alice', opens: 1});
      const always = await meshkit.sendLinks.create(gone.root, {from: 'alice', expires: '1d'});
      return {kept: kept.root, gone: gone.root, once, always, before: await meshkit.usage('alice')};""",
                {"size": 300_000, "bob": bob_id})
    assert "error" not in made, made
    before = made["before"]
    assert set(before) == {"stored", "storageQuota", "pinned", "pinQuota", "gcGrace"}
    assert before["pinned"] > 900_000 and before["stored"] >= before["pinned"] and before["gcGrace"] > 0
    # bob opens the one-open link, and the file as shared with him
    size = call(bob, "return (await meshkit.sendLinks.open(arg)).blob.size;", made["once"]["link"])
    assert size == 600_000
    assert call(bob, "return (await meshkit.open(arg, {as: 'bob'})).blob.size;", made["gone"]) == 600_000

    # a fresh page load: the links are listed from the account's library, the opens from the gateway
    ready(alice)
    links = call(alice, "return await meshkit.sendLinks.list(arg, {as: 'alice'});", made["gone"])
    assert "error" not in links, links
    by = {link["capsule"]: link for link in links}
    once, always = by[made["once"]["capsule"]], by[made["always"]["capsule"]]
    assert len(links) == 2 and links[0]["created"] >= links[1]["created"]
    assert (once["opens"], once["opensUsed"], once["state"]) == (1, 1, "used_up")
    assert always.get("opens") is None and always.get("opensUsed") is None and always["state"] == "live" and always["expires"] == made["always"]["expires"]
    access = call(alice, "return await meshkit.access(arg, {as: 'alice'});", made["gone"])
    assert {s["capsule"] for s in access["shares"] if s["link"]} == set(by)
    assert len([s for s in access["shares"] if not s["link"]]) == 2  # bob's device and recovery key: people

    deleted = call(alice, """
      const done = await meshkit.delete(arg, {as: 'alice'});
      return {done, rows: (await meshkit.envelopes('alice')).map((e) => e.root), after: await meshkit.usage('alice')};""",
                   made["gone"])
    assert "error" not in deleted, deleted
    done, after = deleted["done"], deleted["after"]
    assert (done["root"], done["unpinned"], done["inLibrary"], done["discarded"]) == (made["gone"], True, True, [])
    assert set(by) <= set(done["revoked"]) and len(done["revoked"]) == 4  # + bob's device and recovery key
    assert done["released"] > 590_000
    assert made["gone"] not in deleted["rows"] and made["kept"] in deleted["rows"]
    assert before["pinned"] - after["pinned"] > 590_000 and before["stored"] - after["stored"] > 550_000
    # a second call (the library as the gateway has it now) does not list it either
    ready(alice)
    assert made["gone"] not in call(alice, "return (await meshkit.envelopes('alice')).map((e) => e.root);")
    assert call(bob, "return await meshkit.open(arg, {as: 'bob'});", made["gone"])["error"] == "revoked"
    assert call(bob, "return await meshkit.sendLinks.open(arg);", made["always"]["link"])["error"] == "revoked"
    assert call(alice, "return await meshkit.sendLinks.list(arg, {as: 'alice'});", made["gone"]) == []

    unpinned = call(alice, """const r = await meshkit.unpin(arg, {as: 'alice'});
      return {r, usage: await meshkit.usage('alice')};""", made["kept"])
    assert unpinned["r"] == {"root": made["kept"], "unpinned": True}
    assert after["pinned"] - unpinned["usage"]["pinned"] > 290_000
    assert call(alice, "return await meshkit.unpin(arg, {as: 'alice'});", made["kept"])["error"] == "missing_metadata"


def test_offline_the_library_is_answered_from_indexeddb_marked_cached(profiles):
    """A second device (recovered from the phrase, in its own browser) lists what the first
    sealed from the account's library; offline, the same rows, cached."""
    first, second = profiles(2)
    phrase = call(first, "return (await meshkit.identity.create('alice')).recoveryPhrase;")
    sealed = call(first, RANDOM_BYTES_JS + """
      return (await meshkit.seal(new Blob([data]), {from: 'alice', name: 'report.pdf', mode: 'direct'})).root;""",
                  {"size": 1000})
    assert call(second, "return (await meshkit.identity.recover('phone', arg)).name;", phrase) == "phone"
    online = call(second, "return await meshkit.envelopes('phone');")
    assert [(e["root"], e["name"], e.get("from_library"), e.get("cached")) for e in online] == [
        (sealed, "report.pdf", True, None)]
    second.context.set_offline(True)
    try:
        offline = call(second, "return await meshkit.envelopes('phone');")
        assert [(e["root"], e["name"], e.get("from_library"), e.get("cached")) for e in offline] == [
            (sealed, "report.pdf", True, True)], offline
        assert call(second, "return await meshkit.usage('phone');")["error"] == "unavailable"
    finally:
        second.context.set_offline(False)
    assert [e.get("cached") for e in call(second, "return await meshkit.envelopes('phone');")] == [None]


OUTBOX_BLOCKS_JS = """(job) => new Promise((resolve, reject) => {
  const open = indexedDB.open('meshkit');
  open.onsuccess = () => {
    const req = open.result.transaction('outbox').objectStore('outbox').count(IDBKeyRange.bound(job + ' ', job + ' \\uffff'));
    req.onsuccess = () => { resolve(req.result); open.result.close(); };
    req.onerror = () => reject(req.error);
  };
})"""


@pytest.fixture
def small_pin_quota(site, tmp_path):
    gateway = Gateway(site, tmp_path / "small-pins", pin_quota=MiB).start()
    yield gateway
    gateway.stop()


def test_deleting_a_file_in_the_outbox_discards_it_here_and_gives_its_blocks_back(browser, small_pin_quota):
    """A job refused at its pin (every block landed): delete discards it, its staged blocks
    leave IndexedDB and what it stored is given back at the gateway at once."""
    context = browser.new_context(base_url=small_pin_quota.url)
    page = context.new_page()
    ready(page)
    call(page, "return await meshkit.identity.create('alice');")
    empty = call(page, "return await meshkit.usage('alice');")
    context.set_offline(True)  # online, both quotas refuse it before staging
    job = call(page, RANDOM_BYTES_JS + """
      return await meshkit.seal(new Blob([data]), {from: 'alice', name: 'big.bin', mode: 'outbox'});""",
               {"size": 2 * MiB + 1})
    context.set_offline(False)
    call(page, "await meshkit.jobs.run(); return null;")
    deadline = time.time() + 120
    while (state := call(page, "return await meshkit.jobs.get(arg);", job["job"]))["state"] != "failed":
        assert time.time() < deadline, state
        time.sleep(0.2)
    assert state["error"]["code"] == "quota_exceeded"
    staged = page.evaluate(OUTBOX_BLOCKS_JS, job["job"])
    stored = call(page, "return await meshkit.usage('alice');")["stored"]
    assert staged == state["blocks"] >= 3 and stored - empty["stored"] > 2 * MiB  # its blocks landed

    done = call(page, "return await meshkit.delete(arg, {as: 'alice'});", job["root"])
    assert "error" not in done, done
    assert done["discarded"] == [job["job"]] and done["unpinned"] is False
    assert page.evaluate(OUTBOX_BLOCKS_JS, job["job"]) == 0
    assert call(page, "return await meshkit.jobs.get(arg);", job["job"]) is None
    after = call(page, "return await meshkit.usage('alice');")
    assert stored - after["stored"] > 2 * MiB  # given back at once, not after the grace
    assert job["root"] not in call(page, "return (await meshkit.envelopes('alice')).map((e) => e.root);")
    context.close()
