"""Everyday use of the app (issue 25's first findings): several files at once, by the picker
and dropped anywhere in the window (never navigating away); in "Shared with me" the Play
button beside Open, not on it; the "N new" badge gone once seen; a revoked item keeping its
name and never showing "NaN"."""

import os
import re

from playwright.sync_api import expect

from support.app_ui import goto, signed_in
from support.browser import call

SHOTS = os.environ.get("MESHKIT_SCREENSHOTS")  # a directory: save screenshots there to look at


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"everyday-{name}.png"), full_page=True)


DROP_JS = """([files]) => {
  const transfer = new DataTransfer();
  for (const [name, text] of files) transfer.items.add(new File([text], name, {type: "text/plain"}));
  const target = document.querySelector("h1") || document.body;   // not the drop zone
  for (const type of ["dragenter", "dragover", "drop"]) {
    target.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: transfer}));
  }
}"""


def test_several_files_by_the_picker_and_dropped_anywhere_are_all_encrypted(browser, base_url):
    context, page = signed_in(browser, base_url, "many-files")
    try:
        page.get_by_test_id("file-input").set_input_files(files=[
            {"name": f"picked-{i}.txt", "mimeType": "text/plain", "buffer": f"picked {i}".encode()} for i in range(3)])
        rows = page.get_by_test_id("envelope-row")
        expect(rows).to_have_count(3, timeout=90_000)
        url = page.url
        page.evaluate(DROP_JS, [[["dropped-a.txt", "a"], ["dropped-b.txt", "b"]]])
        expect(rows).to_have_count(5, timeout=90_000)
        assert page.url == url  # the drop did not navigate away from the app
        shot(page, "five-files-1280")
        names = page.get_by_test_id("envelopes").inner_text()
        for name in ("picked-0.txt", "picked-1.txt", "picked-2.txt", "dropped-a.txt", "dropped-b.txt"):
            assert name in names, names
    finally:
        context.close()


def test_shared_with_me_play_beside_open_badge_cleared_and_a_revoked_item_keeps_its_name(browser, base_url):
    alice_context, alice = signed_in(browser, base_url, "ev-alice")
    bob_context, bob = signed_in(browser, base_url, "ev-bob")
    try:
        bob_id = call(bob, "return (await meshkit.identity.list())[0].account;")
        sealed = call(alice, """const f = new File([new Uint8Array(200000)], 'talk.wav', {type: 'audio/wav'});
                                return await meshkit.seal(f, {from: 'ev-alice', name: 'talk.wav', mode: 'direct'});""")
        call(alice, "return await meshkit.share(arg.root, {from: 'ev-alice', to: arg.to});",
             {"root": sealed["root"], "to": bob_id})
        item = bob.locator(f"[data-testid=inbox-item][data-root='{sealed['root']}']")
        item.wait_for(state="attached", timeout=30_000)  # bob is in Files: "Shared with me" is not shown
        badge = bob.get_by_test_id("inbox-new")  # on the "Shared with me" tab
        expect(badge).to_be_visible(timeout=15_000)
        goto(bob, "shared")  # seen: the badge goes, and stays gone (display, not just the attribute)
        expect(badge).to_be_hidden()
        play, opener = item.get_by_test_id("inbox-play"), item.get_by_test_id("inbox-open")
        expect(play).to_be_visible()
        for width in (1280, 390):
            bob.set_viewport_size({"width": width, "height": 800 if width > 400 else 844})
            a, b = play.bounding_box(), opener.bounding_box()
            overlap = not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                           or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
            assert not overlap, (width, a, b)
            shot(bob, f"inbox-{width}")
        opener.focus()
        expect(badge).to_be_hidden()  # still gone

        call(alice, "return await meshkit.revoke(arg.root, {from: 'ev-alice', to: arg.to});",
             {"root": sealed["root"], "to": bob_id})
        opener.click()
        expect(bob.get_by_test_id("error")).to_contain_text("revoked")
        bob.get_by_test_id("inbox-refresh").click()
        expect(item.get_by_test_id("inbox-state")).to_contain_text("revoked")
        expect(item.get_by_test_id("inbox-name")).to_have_text("talk.wav")  # it still says what it was
        assert not re.search(r"NaN|undefined", item.inner_text()), item.inner_text()
        shot(bob, "inbox-revoked-390")
    finally:
        alice_context.close()
        bob_context.close()
