"""axe-core (tests/js/node_modules) on a page of the app: no serious or critical violation."""

import json

from support.constants import TESTS

AXE = TESTS / "js" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def accessible(page, view: str) -> None:
    """axe-core on the page as it is: no serious or critical violation (WCAG 2.x A/AA)."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())  # through the debugger: not subject to the app's CSP
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag', values:
        ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}, resultTypes: ['violations']})""")
    bad = [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
           for v in result["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{view}: {json.dumps(bad)}"
