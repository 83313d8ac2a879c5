"""The CLI as a device of a browser account, and a browser as a device of a CLI account:
one protocol (clients/accounts.py) on CPython and in Pyodide, against one gateway. Each
side links the other by link + comparison code, then sees the library with its names and
opens what the other sealed."""

import re
import subprocess
import sys

from support.browser import OPEN_TEXT_JS, SEAL_TEXT_JS, call, ready
from support.linking import CODE_LINE
from support.meshkit_cli import meshkit



def test_the_cli_joins_a_browser_account(page, base_url, tmp_path):
    ready(page)
    made = call(page, "return await meshkit.identity.create('web-a', {deviceName: 'web-a'});")
    sealed = call(page, SEAL_TEXT_JS, {"as": "web-a", "text": "made in the browser", "name": "report.txt"})
    home = tmp_path / "cli"
    waiting = subprocess.Popen([sys.executable, "-m", "meshkit_web", "--home", str(home), "device", "link", "cli-a",
                                "--gateway", base_url, "--timeout", "90"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        link = waiting.stdout.readline().strip()
        page.evaluate("(link) => { window.shownCode = null; window.approving = meshkit.devices.approve('web-a', "
                      "link, {onCode: (code) => { window.shownCode = code; }}).then((v) => v, "
                      "(e) => ({error: e.code})); }", link)
        page.wait_for_function("() => window.shownCode", timeout=90_000)
        waiting.stdin.write(page.evaluate("() => window.shownCode") + "\n")  # typed on the command line
        waiting.stdin.flush()
        approved = call(page, "return await window.approving;")
        assert approved["device"]["name"] == "cli-a", approved
        out, err = waiting.communicate(timeout=120)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, err
    assert made["account"] in err and made["recoveryPhrase"].split()[3] not in out + err
    listed = meshkit(home, "library", "--as", "cli-a", "--gateway", base_url).stdout
    assert re.search(rf"^{sealed['root']}\tmine\t.*\treport\.txt$", listed, re.M), listed
    meshkit(home, "open", sealed["root"], "--as", "cli-a", "--out", tmp_path / "report.txt", "--gateway", base_url)
    assert (tmp_path / "report.txt").read_text() == "made in the browser"
    # the browser sees the CLI as one of its devices, and what the CLI seals
    names = {d["name"] for d in call(page, "return await meshkit.devices.list('web-a');")}
    assert names == {"web-a", "cli-a"}
    note = tmp_path / "from-cli.txt"
    note.write_text("made on the command line")
    root = meshkit(home, "seal", note, "--from", "cli-a", "--gateway", base_url).stdout.split()[-1]
    assert call(page, OPEN_TEXT_JS, {"root": root, "as": "web-a"}) == "made on the command line"
    assert [e["name"] for e in call(page, "return await meshkit.envelopes('web-a');") if e["root"] == root] == [
        "from-cli.txt"]


def test_a_browser_joins_a_cli_account(page, base_url, tmp_path):
    home = tmp_path / "cli"
    meshkit(home, "identity", "create", "cli-b", "--gateway", base_url, "--phrase-file", tmp_path / "kit.txt",
            "--device-name", "cli-b")
    note = tmp_path / "plan.txt"
    note.write_text("the plan")
    root = meshkit(home, "seal", note, "--from", "cli-b", "--gateway", base_url).stdout.split()[-1]
    ready(page)
    request = call(page, "return await meshkit.devices.requestLink({deviceName: 'web-b'});")
    # the CLI approves: it reads the link on standard input and shows a code, typed in the page;
    # a wrong code first, and the page joins nothing
    for typed in ("000 000", None):
        page.evaluate("(link) => { window.typeCode = null; window.linking = meshkit.devices.waitForLink(link, "
                      "{askCode: () => new Promise((resolve) => { window.typeCode = resolve; })})"
                      ".then((v) => v, (e) => ({error: e.code})); }", request["link"])
        approving = subprocess.Popen([sys.executable, "-m", "meshkit_web", "--home", str(home), "device", "approve",
                                      "--as", "cli-b", "--gateway", base_url, "--timeout", "8" if typed else "60"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            approving.stdin.write(request["link"] + "\n")
            approving.stdin.flush()
            code = next(m.group(1) for m in map(CODE_LINE.search, approving.stderr) if m)
            page.wait_for_function("() => window.typeCode", timeout=60_000)
            page.evaluate("(code) => window.typeCode(code)", (typed if typed != code else "111 111") if typed else code)
            if typed:
                assert call(page, "return await window.linking;")["error"] == "link_code_mismatch"
                assert approving.wait(timeout=60) == 1
                request = call(page, "return await meshkit.devices.requestLink({deviceName: 'web-b'});")
            else:
                assert approving.wait(timeout=60) == 0, approving.stderr.read()
        finally:
            approving.kill()
    linked = call(page, "return await window.linking;")
    assert "error" not in linked, linked
    assert [e["name"] for e in call(page, "return await meshkit.envelopes('web-b');") if e["root"] == root] == [
        "plan.txt"]
    assert call(page, OPEN_TEXT_JS, {"root": root, "as": "web-b"}) == "the plan"
    devices = meshkit(home, "device", "list", "--as", "cli-b", "--gateway", base_url).stdout
    assert "web-b" in devices and "cli-b" in devices


def test_the_senders_file_name_travels_inside_the_envelope(profiles):
    """A hostile name from one person (a directory, a bidi override) reaches the other as a
    name without the override, and is offered for saving under a safe one."""
    alice, bob = profiles(2)
    call(alice, "return await meshkit.identity.create('meta-alice');")
    bob_made = call(bob, "return await meshkit.identity.create('meta-bob');")
    sealed = call(alice, """
      const file = new File([new TextEncoder().encode('quarterly')], arg.name, {type: 'application/pdf',
                            lastModified: 1700000000000});
      return await meshkit.seal(file, {from: 'meta-alice', to: [arg.to], name: arg.name, mode: 'direct'});""",
                  {"name": "../../Q3\u202efdp.exe", "to": bob_made["id"]})
    described = call(bob, "return await meshkit.describe(arg, {as: 'meta-bob'});", sealed["root"])
    assert described["name"] == "../../Q3fdp.exe" and described["saveAs"] == "Q3fdp.exe"
    assert (described["type"], described["size"], described["mtime"]) == ("application/pdf", 9, 1700000000)
    opened = call(bob, "const o = await meshkit.open(arg, {as: 'meta-bob'}); delete o.blob; return o;", sealed["root"])
    assert opened["saveAs"] == "Q3fdp.exe"
