"""WebKitGTK for tests/support/engines.py: Selenium's WebKitGTK driver (WebKitWebDriver +
MiniBrowser in automation mode), run under ``xvfb-run -a`` (MiniBrowser has no headless
mode), driven by line-delimited JSON on stdin/stdout: the same requests and answers as
tests/js/engine_firefox.mjs.

    xvfb-run -a python engine_webkit.py '{"port": N}'

WebKit's WebDriver gives no console log, so after each navigation a small hook (run with
execute_script, which the page's CSP does not govern) keeps the page's console lines in the
page; ``call`` answers carry the new ones as {"event": "console"} lines. Lines logged before
the hook (between the response and the load event) are not seen.
"""

import json
import sys

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.webkitgtk.options import Options
from selenium.webdriver.webkitgtk.service import Service

MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
WEBDRIVER = "/usr/bin/WebKitWebDriver"

CONSOLE_HOOK = """
if (!window.__engineConsole) {
  const lines = window.__engineConsole = [];
  lines.taken = 0;
  const keep = (text) => { lines.push(text); if (lines.length > 1000) { lines.shift(); lines.taken = Math.max(0, lines.taken - 1); } };
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    const original = console[level].bind(console);
    console[level] = (...args) => { try { keep(level + ': ' + args.map(String).join(' ')); } catch (e) {} original(...args); };
  }
  addEventListener('error', (e) => keep('pageerror: ' + e.message));
  addEventListener('unhandledrejection', (e) => keep('unhandledrejection: ' + String(e.reason && (e.reason.stack || e.reason))));
}
"""
TAKE_CONSOLE = """
const lines = window.__engineConsole || [];
const fresh = lines.slice(lines.taken || 0);
lines.taken = lines.length;
return fresh;
"""


def write(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    options_in = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    options = Options()
    options.binary_location = options_in.get("minibrowser", MINIBROWSER)
    options.add_argument("--automation")
    # the driver listens on 127.0.0.1 only (its default "local" may also take ::1)
    service = Service(executable_path=options_in.get("webdriver", WEBDRIVER), port=int(options_in["port"]),
                      service_args=["--host=127.0.0.1"])
    try:
        driver = webdriver.WebKitGTK(options=options, service=service)
    except Exception as exc:  # noqa: BLE001 - reported to engines.py, which fails the test with it
        write({"event": "failed", "error": f"{type(exc).__name__}: {exc}"})
        return 1
    try:
        caps = driver.capabilities
        write({"event": "started", "browser_pid": None,
               "version": f"{caps.get('browserName')} {caps.get('browserVersion')}"})
        for line in sys.stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            op = request.get("op")
            try:
                if op == "close":
                    write({"id": request.get("id"), "ok": True, "value": True})
                    break
                bound = request.get("timeout_ms", 60_000) / 1000 + 15  # the page's own bound, then ours
                driver.set_page_load_timeout(bound)
                driver.set_script_timeout(bound)
                if op == "open":
                    driver.get(request["url"])
                    driver.execute_script(CONSOLE_HOOK)
                    value = driver.current_url
                elif op == "reload":
                    driver.refresh()
                    driver.execute_script(CONSOLE_HOOK)
                    value = driver.current_url
                elif op == "call":
                    script = ("const done = arguments[arguments.length - 1];\n"
                              f"({request['source']})(arguments[0], arguments[1]).then(done, "
                              "(e) => done(JSON.stringify({driverError: String(e && (e.stack || e))})));")
                    try:
                        value = driver.execute_async_script(script, request.get("arg"), request["timeout_ms"])
                    finally:
                        try:
                            for text in driver.execute_script(TAKE_CONSOLE) or []:
                                write({"event": "console", "text": str(text)})
                        except WebDriverException:
                            pass
                else:
                    raise ValueError(f"unknown op {op}")
                write({"id": request.get("id"), "ok": True, "value": value})
            except Exception as exc:  # noqa: BLE001 - every failure is an answer, never a silent hang
                write({"id": request.get("id"), "ok": False, "error": f"{type(exc).__name__}: {exc}"})
    finally:
        try:
            driver.quit()
        except Exception:  # noqa: BLE001 - engines.py kills what is left
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
