"""Hand-made PDFs for the app's previews: a real one (a page with text and a coloured bar), a
hostile one (JavaScript that runs at open and links that would reach a recorder), one that is
broken past its header. Written object by object, with a true cross-reference table."""


def pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF of ``objects`` (object 1 is the catalog), each numbered in order."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer, xref)
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s>>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def text_page(lines: list[str], open_action: bytes = b"", annots: bytes = b"", pages: int = 1) -> bytes:
    """``pages`` A4 pages, each a blue bar across its top and ``lines`` of Helvetica under it."""
    text = b"".join(b"(%s) Tj 0 -22 Td " % line.encode("latin-1").replace(b"(", b"\\(").replace(b")", b"\\)")
                    for line in lines)
    content = b"0.1 0.3 0.8 rg 40 760 515 40 re f 0 0 0 rg BT /F1 18 Tf 50 720 Td " + text + b"ET"
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            b"/Contents 4 0 R " + annots + b">>")
    return pdf([
        b"<< /Type /Catalog /Pages 2 0 R " + open_action + b">>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % (5 + n) for n in range(pages)), pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        stream(content),
    ] + [page] * pages)


def hostile_pdf(recorder: str) -> bytes:
    """A page whose opening runs JavaScript (OpenAction and the page's open action) that tries
    to reach ``recorder`` (an URL a test server records), to mark the app's page and to post
    to it; and a link to the recorder covering the page."""
    script = (f"try {{ parent.document.body.dataset.pdfScript = 'ran'; }} catch (e) {{}}"
              f" try {{ top.postMessage('pdf-script-ran', '*'); }} catch (e) {{}}"
              f" try {{ fetch('{recorder}/fetch'); }} catch (e) {{}}"
              f" try {{ app.launchURL('{recorder}/launch', true); }} catch (e) {{}}"
              f" try {{ this.submitForm('{recorder}/submit'); }} catch (e) {{}}").encode()
    action = b"<< /S /JavaScript /JS (" + script.replace(b"(", b"\\(").replace(b")", b"\\)") + b") >>"
    link = (b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 595 842] /Border [0 0 0] "
            b"/A << /S /URI /URI (" + recorder.encode() + b"/link) >> >>] /AA << /O " + action + b" >> ")
    return text_page(["Nothing here may run."], open_action=b"/OpenAction " + action + b" ", annots=link)


def broken_pdf() -> bytes:
    """A PDF by its first bytes, and nothing a reader can use after them."""
    return b"%PDF-1.7\n" + b"\x00\xff not a PDF at all " * 64
