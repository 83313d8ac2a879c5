"""Both sides of a device link (FORMAT.md 11.5) in one process: the code the approving device
shows is what the new device's user types."""

import asyncio
import re
import subprocess
import sys

from meshkit_web.clients import accounts


async def link_device(approver, record, device, *, timeout: float = 30, typed=None, given=None):
    """Link ``device`` (a GatewayClient) into ``record``'s account through ``approver``:
    (the new record as the approver published it, as the device sees it). ``typed(code)``:
    what the user types given the approver's code (the code itself by default);
    ``given(request)``: what the approver is given of the LinkRequest (its link by default)."""
    request = await accounts.request_link(device)
    link = request.link
    shown = asyncio.get_running_loop().create_future()

    async def ask_code(offers):
        code = await shown
        return typed(code) if typed else code
    waiting = asyncio.ensure_future(accounts.wait_for_link(device, link, ask_code=ask_code, timeout=timeout))
    approving = asyncio.ensure_future(accounts.approve_link(approver, record, given(request) if given else link,
                                                            timeout=timeout,
                                                            show_code=lambda code: shown.set_result(code)))
    # the first side to fail says why (a device that joined nothing leaves the approver waiting)
    await asyncio.wait([waiting, approving], return_when=asyncio.FIRST_EXCEPTION)
    for task in (waiting, approving):
        if task.done() and task.exception() is not None:
            for other in (waiting, approving):
                other.cancel()
            raise task.exception()
    return await approving, await waiting


CODE_LINE = re.compile(r"type this code on the new device: (\d{3} \d{3})")


SHORT_CODE_LINE = re.compile(r"the code ([0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5})")


def cli_link(new_home, new_name, approver_home, approver_name, gateway, *, typed=None, timeout=60, verbose=False,
             by_code=False):
    """Both sides through the real `meshkit` command: ``device link`` on the new home, whose
    link (or, ``by_code``, its short code) goes to ``device approve`` on standard input, whose
    code is typed back to the new device (or ``typed(code)``). Returns the two running
    processes (new device, approver)."""
    command = [sys.executable, "-m", "meshkit_web", *(["-v"] if verbose else [])]
    joining = subprocess.Popen([*command, "--home", str(new_home), "device", "link", new_name, "--gateway", gateway,
                                "--timeout", str(timeout)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    link = joining.stdout.readline().strip()
    given = next((m.group(1) for m in map(SHORT_CODE_LINE.search, joining.stderr) if m), None) if by_code else link
    assert given is not None, "the new device showed no short code"
    approving = subprocess.Popen([*command, "--home", str(approver_home), "device", "approve", "--as", approver_name,
                                  "--gateway", gateway, "--timeout", str(timeout)], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    approving.stdin.write(given + "\n")
    approving.stdin.flush()
    code = next((m.group(1) for m in map(CODE_LINE.search, approving.stderr) if m), None)
    assert code is not None, "the approving device showed no code"
    joining.stdin.write((typed(code) if typed else code) + "\n")
    joining.stdin.flush()
    joining.link = link
    return joining, approving


def browser_link(new_page, approver_page, approver_name: str, link: str, *, typed=None, timeout_ms=60_000,
                 given: str | None = None):
    """Both sides in two pages (Playwright, sync): the approver's onCode shows the code, the new
    device's askCode resolves with it (or ``typed(code)``). The approver is given ``link`` (or
    ``given``: the short code). Returns (approved, linked), each the API's value or {"error": code}."""
    def settle(name: str) -> str:  # the outcome kept in window[name] (waited on with a timeout, never forever)
        return f".then((v) => v, (e) => ({{error: e.code}})).then((v) => {{ window.{name} = v; }})"
    # what an earlier link left in the page is cleared first: an old typeCode would take the
    # code while the new link still waits for it (for ever, before the wait was bounded)
    new_page.evaluate("(link) => { window.linked = null; window.typeCode = null; window.offers = null; "
                      "meshkit.devices.waitForLink(link, {askCode: (offers) => "
                      "new Promise((resolve) => { window.offers = offers; window.typeCode = resolve; })})"
                      + settle("linked") + "; }", link)
    approver_page.evaluate("([name, link]) => { window.shownCode = null; window.approved = null; "
                           "meshkit.devices.approve(name, link, {onCode: (code) => { window.shownCode = code; }})"
                           + settle("approved") + "; }", [approver_name, given or link])
    def wait(page, what: str) -> None:
        try:
            page.wait_for_function(f"() => window.{what}", timeout=timeout_ms)
        except Exception as exc:  # noqa: BLE001 - a timeout says what each side last logged
            lines = {name: "\n".join(getattr(p, "console_lines", [])[-25:])
                     for name, p in (("new device", new_page), ("approver", approver_page))}
            state = {"approved": approver_page.evaluate("() => window.approved"),
                     "linked": new_page.evaluate("() => window.linked")}
            raise AssertionError(f"device link: no window.{what} in {timeout_ms / 1000:.0f} s; {state}\n"
                                 + "\n".join(f"--- {k}:\n{v}" for k, v in lines.items())) from exc
    wait(approver_page, "shownCode")
    code = approver_page.evaluate("() => window.shownCode")
    wait(new_page, "typeCode")
    new_page.evaluate("(code) => window.typeCode(code)", typed(code) if typed else code)
    wait(new_page, "linked")
    linked = new_page.evaluate("() => window.linked")
    if "error" in linked:
        return None, linked
    wait(approver_page, "approved")
    return approver_page.evaluate("() => window.approved"), linked
