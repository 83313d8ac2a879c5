"""The browser runtime in real Chromium: Pyodide + our wheel, WebCrypto, IndexedDB."""

from playwright.sync_api import Page

from support.browser import call, in_page_core
from support.constants import BOOT_TIMEOUT


def ready(page: Page) -> None:
    page.goto("/")
    page.wait_for_function("() => document.documentElement.dataset.meshkitReady", timeout=BOOT_TIMEOUT)
    state = page.evaluate("document.documentElement.dataset.meshkitReady")
    assert state == "true", page.inner_text("#app")


def test_boots_offline_and_reports_capabilities(page: Page):
    ready(page)
    caps = page.evaluate("meshkit.capabilities()")
    assert caps["crypto"]["backend"] == "webcrypto"
    assert caps["key_storage"]["mode"] == "non-extractable"
    assert caps["persistence"]["mode"] == "indexeddb"
    assert caps["runtime"].startswith("pyodide (Python 3.14")


CONVERT_PY = """
from meshkit_web.browser import jsapi as arg
from meshkit_web.core.errors import InvalidArgumentError

def convert(name, value, options=None):
    # what the converter makes of a JS value as Pyodide hands it to a runtime method
    try:
        found = getattr(arg, name)(value, *([] if name in ("optional", "flag", "py") else ["it"]),
                                   **(options.to_py() if options is not None else {}))
    except InvalidArgumentError:
        return "invalid_argument"
    return "function" if callable(found) else repr(found)
convert
"""


def test_js_arguments_are_converted_in_one_place(page: Page):
    """browser/jsapi.py's converters on real JS values (undefined, null, numbers, arrays,
    objects, typed arrays, functions): what a JS caller may pass comes out as Python, and
    anything else is invalid_argument, never "undefined" or "[object Object]"."""
    ready(page)
    in_page_core(page)
    got = call(page, """
      const convert = await meshkitPy.runPythonAsync(arg);
      const cases = {
        text: [["a"], [7], [undefined], [null], [{}], [[1]], [true], [undefined, {default: "d"}], ["", {default: "d"}]],
        optional: [[undefined], [null], [""], ["3h"], [[1, 2]], [0]],
        number: [[5], ["5"], [2.5], [NaN], [Infinity], [true], [{}], [undefined, {default: 7}],
                 [2.5, {whole: false}], [undefined]],
        flag: [[undefined], [null], [true], [false], [1]],
        callback: [[() => 1], [undefined], [null], [0], [false], ["x"], [undefined, {required: true}]],
        data: [["hi"], [new Uint8Array([1, 2])], [new Uint8Array([1, 2]).buffer], [new Uint16Array([258])],
               [{}], [undefined], [[1, 2]]],
        texts: [["a"], [["a", "b"]], [["a", {}]]],
      };
      const out = {};
      for (const [name, list] of Object.entries(cases)) {
        out[name] = list.map(([value, options]) => convert(name, value, options));
      }
      return out;""", CONVERT_PY)
    assert "error" not in got, got
    bad = "invalid_argument"
    assert got["text"] == ["'a'", "'7'", bad, bad, bad, bad, bad, "'d'", "'d'"]
    assert got["optional"] == ["None", "None", "None", "'3h'", "[1, 2]", "0"]
    assert got["number"] == ["5", "5", bad, bad, bad, bad, bad, "7", "2.5", bad]
    assert got["flag"] == ["False", "False", "True", "False", "True"]
    assert got["callback"] == ["function", "None", "None", "None", "None", bad, bad]
    assert got["data"] == ["'hi'", "b'\\x01\\x02'", "b'\\x01\\x02'", "b'\\x02\\x01'", bad, bad, bad]
    assert got["texts"] == ["['a']", "['a', 'b']", bad]


def test_runtime_methods_refuse_arguments_of_the_wrong_type(page: Page):
    ready(page)
    got = call(page, """
      const code = async (f) => { try { await f(); return "ok"; } catch (e) { return e.code; } };
      return {
        create: await code(() => meshkit.identity.create({name: "x"})),
        job: await code(() => meshkit.jobs.get(undefined)),
        missing: await code(() => meshkit.jobs.get("job-none")),
        records: await code(() => meshkit.records.get(undefined, "settings")),
      };""")
    assert got == {"create": "invalid_argument", "job": "invalid_argument", "missing": "ok",
                   "records": "invalid_argument"}, got
