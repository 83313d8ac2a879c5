"""PDF previews in the app (issue 25), in Chromium through the app's own controls: pdf.js draws
the PDF in app/pdf-view.html, a frame with no origin (sandbox allow-scripts, its own CSP), which
gets only the bytes. Checked: real pixels on its canvas, an opaque origin that reaches no
storage and not the app's page, a PDF's JavaScript and links that run nothing, a page named
.pdf refused, a broken PDF told as such, and the headers the site and the service worker give
the viewer and the app (offline too). Screenshots at 1280x800 and 390x844."""

import os
import time

import httpx
import pytest
from playwright.sync_api import expect

from meshkit_web.gateway.headers import PDF_VIEW_SCRIPTS, app_csp, pdf_view_csp, site_settings
from support.app_ui import app, create, details
from support.attacker_site import AttackerSite
from support.axe import SIZES
from support.constants import BOOT_TIMEOUT
from support.pdfs import broken_pdf, hostile_pdf, text_page
from support.servers import ServerThread

SHOTS = os.environ.get("MESHKIT_SCREENSHOTS")  # a directory: save screenshots there to look at

# inside the viewer: what it drew (blue bar, dark text) and what its origin may reach
CANVAS = """() => { const c = document.querySelector('canvas'); if (!c) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let blue = 0, dark = 0;
  for (let i = 0; i < d.length; i += 4) {
    if (d[i + 2] > 150 && d[i] < 80) blue++;
    if (d[i] < 60 && d[i + 1] < 60 && d[i + 2] < 60) dark++;
  }
  return { width: c.width, height: c.height, blue, dark }; }"""
REACH = """async () => {
  const tries = {
    indexedDB: () => indexedDB.open('meshkit'), localStorage: () => localStorage.length,
    cookie: () => document.cookie, parentDom: () => parent.document.body.dataset,
    caches: () => caches.keys(), connect: () => fetch(location.href),
  };
  const out = { origin: self.origin };
  for (const [name, attempt] of Object.entries(tries)) {
    try { await attempt(); out[name] = 'reached'; } catch (e) { out[name] = e.name; }
  }
  return out; }"""


def upload(page, files: list[dict]) -> None:
    page.get_by_test_id("file-input").set_input_files(files=files)
    expect(page.get_by_test_id("envelope-row")).to_have_count(len(files), timeout=90_000)
    expect(page.locator("[data-testid=envelope-row][data-status=queued]")).to_have_count(0, timeout=90_000)


def row(page, name: str):
    return page.locator("[data-testid=envelope-row]", has_text=name)


def previewed(page, name: str):
    """The details of ``name``, Preview clicked: the dialog."""
    dialog = details(page, row(page, name))
    dialog.get_by_test_id("details-preview").click()
    return dialog


def viewer(dialog, pages: int = 1):
    """The preview's frame, drawn: (its element, its Playwright frame)."""
    frame = dialog.get_by_test_id("preview")
    expect(frame).to_have_attribute("data-pages", str(pages), timeout=60_000)
    return frame, frame.element_handle().content_frame()


@pytest.mark.parametrize("size", list(SIZES))
def test_a_pdf_previews_drawn_in_a_frame_with_no_origin(browser, base_url, size):
    context = browser.new_context(base_url=base_url, viewport=SIZES[size])
    page = context.new_page()
    try:
        app(page)
        create(page, f"pdf-{size}")
        page.get_by_test_id("kit-wrote").click()
        upload(page, [{"name": "letter.pdf", "mimeType": "application/pdf",
                       "buffer": text_page(["Dear reader,", "this page is drawn by pdf.js."], pages=60)}])
        dialog = previewed(page, "letter.pdf")
        frame, inside = viewer(dialog, pages=50)  # of 60: the rest are to be saved
        assert frame.get_attribute("sandbox") == "allow-scripts"
        assert frame.get_attribute("src").endswith("/app/pdf-view.html")
        drawn = inside.evaluate(CANVAS)
        assert drawn and drawn["blue"] > 1000 and drawn["dark"] > 50, drawn  # the bar and the words
        expect(page.get_by_test_id("notice")).to_contain_text("first 50 of 60 pages of “letter.pdf”")
        expect(inside.locator("canvas")).to_have_count(50)
        expect(inside.locator("#pages")).to_contain_text("Pages 51 to 60 are not shown here")
        # only pages near the view hold pixels: scrolled to the end, the first gave its back
        assert len(inside.locator("canvas[data-drawn]").all()) <= 4
        inside.evaluate("() => scrollTo(0, document.body.scrollHeight)")
        expect(inside.locator("canvas[data-page='50'][data-drawn]")).to_have_count(1)
        expect(inside.locator("canvas[data-page='1'][data-drawn]")).to_have_count(0)
        assert len(inside.locator("canvas[data-drawn]").all()) <= 4
        inside.evaluate("() => scrollTo(0, 0)")
        expect(inside.locator("canvas[data-page='1'][data-drawn]")).to_have_count(1)

        # no origin: nothing of the app's storage, cookies, network or page is within reach
        reach = inside.evaluate(REACH)
        assert reach == {"origin": "null", "indexedDB": "SecurityError", "localStorage": "SecurityError",
                         "cookie": "SecurityError", "parentDom": "SecurityError", "caches": "SecurityError",
                         "connect": "TypeError"}, reach

        # as a person sees it: the page fits the dialog's width and scrolls inside the frame
        box, dialog_box = frame.bounding_box(), dialog.bounding_box()
        assert box["x"] >= dialog_box["x"] and box["x"] + box["width"] <= dialog_box["x"] + dialog_box["width"] + 1
        assert inside.evaluate("() => document.querySelector('canvas').getBoundingClientRect().width "
                               "<= document.documentElement.clientWidth")
        if SHOTS:
            frame.scroll_into_view_if_needed()
            page.screenshot(path=os.path.join(SHOTS, f"pdf-{size}-preview.png"))
        dialog.get_by_test_id("details-close").click()
        expect(dialog).to_be_hidden()
        expect(page.locator("iframe")).to_have_count(0)  # closed: the viewer (and its listener) gone
    finally:
        context.close()


def test_a_pdfs_script_and_a_page_named_pdf_run_nothing_and_a_broken_pdf_is_told(browser, base_url):
    hits = AttackerSite()  # records every request it gets
    recorder = ServerThread(hits).start()
    context = browser.new_context(base_url=base_url, viewport=SIZES["desktop"])
    page = context.new_page()
    try:
        app(page)
        create(page, "pdf-hostile")
        page.get_by_test_id("kit-wrote").click()
        page.evaluate("() => { window.seen = []; addEventListener('message', (e) => seen.push(JSON.stringify(e.data))); }")
        page_as_pdf = (f"<!doctype html><script>parent.postMessage('html-ran', '*'); top.document.body.dataset.html = 'ran';"
                       f" fetch('{recorder.url}/html');</script><img src='{recorder.url}/img'>").encode()
        upload(page, [
            {"name": "hostile.pdf", "mimeType": "application/pdf", "buffer": hostile_pdf(recorder.url)},
            {"name": "invoice.pdf", "mimeType": "application/pdf", "buffer": page_as_pdf},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": broken_pdf()}])

        # the hostile PDF is drawn; its JavaScript (at open, on the page) and its link do nothing
        dialog = previewed(page, "hostile.pdf")
        frame, inside = viewer(dialog)
        assert inside.evaluate(CANVAS)["dark"] > 50
        frame.click()  # on the link that covers the page: the canvas has no links
        time.sleep(1.5)
        assert [hit for hit in hits.hits if hit != "/healthz"] == []
        assert page.evaluate("() => ({ ...document.body.dataset })") == {}
        assert page.evaluate("() => seen") == ['{"type":"ready"}', '{"type":"rendered","pages":1,"total":1}']
        assert len(context.pages) == 1  # no window opened
        dialog.get_by_test_id("details-close").click()

        # a page that says it is a PDF: refused by its bytes, never framed, never run
        dialog = previewed(page, "invoice.pdf")
        expect(page.get_by_test_id("notice")).to_contain_text("its bytes are not an image or a PDF", timeout=30_000)
        expect(dialog.get_by_test_id("preview")).to_have_count(0)
        dialog.get_by_test_id("details-close").click()

        # a broken PDF: said so in the dialog, which goes on working
        dialog = previewed(page, "broken.pdf")
        expect(dialog.get_by_test_id("preview-failed")).to_contain_text("cannot be previewed here; use Save", timeout=60_000)
        expect(dialog.get_by_test_id("preview")).to_have_count(0)
        expect(dialog.get_by_test_id("access-spot")).to_contain_text("only you can open it", timeout=30_000)
        dialog.get_by_test_id("details-close").click()
        expect(dialog).to_be_hidden()

        time.sleep(1)
        assert [hit for hit in hits.hits if hit != "/healthz"] == []
        assert page.evaluate("() => ({ ...document.body.dataset })") == {}
        assert "html-ran" not in " ".join(page.evaluate("() => seen"))
    finally:
        context.close()
        recorder.stop()


def test_the_viewer_and_the_app_carry_their_own_policies_from_the_site_and_the_worker(browser, base_url, site):
    settings = site_settings(str(site))
    view = settings["pdf_view"]
    assert view.endswith("/app/pdf-view.html")
    viewer_csp = pdf_view_csp(settings["pdf_view_hashes"])
    assert "sandbox allow-scripts" in viewer_csp and "allow-same-origin" not in viewer_csp

    # the site: the viewer's own policy; its modules (only they) with CORS; the app frames only it
    got = httpx.get(base_url + view)
    assert got.status_code == 200 and got.headers["content-security-policy"] == viewer_csp
    assert got.headers["x-frame-options"] == "SAMEORIGIN"
    release = view.removesuffix("app/pdf-view.html")
    for script in PDF_VIEW_SCRIPTS:
        assert httpx.get(base_url + release + script).headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in httpx.get(base_url + release + "app/app.js").headers
    assert httpx.get(base_url + "/").headers["content-security-policy"] == app_csp(
        settings["connect"], settings["hashes"], base_url + view)

    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    try:
        app(page)
        page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=BOOT_TIMEOUT)
        page.reload()  # now the worker answers the page (with its own copy of the app's policy)
        page.wait_for_function("() => document.documentElement.dataset.meshkitUi === 'ready'", timeout=BOOT_TIMEOUT)
        framing = """async (src) => new Promise((resolve) => {
          const frame = document.createElement('iframe');
          frame.sandbox = 'allow-scripts';
          const refused = (e) => { if (e.blockedURI.endsWith(src.split('?')[0])) resolve(e.violatedDirective); };
          document.addEventListener('securitypolicyviolation', refused);
          frame.onload = () => setTimeout(() => resolve('loaded'), 300);
          frame.src = src;
          document.body.append(frame);
          setTimeout(() => resolve('timeout'), 5000); })"""
        assert page.evaluate(framing, view) == "loaded"
        for other in ("/build.json", release + "app/app.js", release + "app/pdfjs/LICENSE"):
            assert page.evaluate(framing, other) == "frame-src", other

        # the worker answers the viewer with its policy, from the network and from its cache offline
        fetched = """async (url) => { const r = await fetch(url);
          return [r.status, r.headers.get('content-security-policy'), r.headers.get('x-frame-options')]; }"""
        assert page.evaluate(fetched, view) == [200, viewer_csp, "SAMEORIGIN"]
        context.set_offline(True)
        assert page.evaluate(fetched, view) == [200, viewer_csp, "SAMEORIGIN"]
        # opened on its own (a top-level page the worker answers): still no origin
        alone = context.new_page()
        response = alone.goto(view)
        assert response.headers["content-security-policy"] == viewer_csp
        assert alone.evaluate("() => self.origin") == "null"
    finally:
        context.set_offline(False)
        context.close()
