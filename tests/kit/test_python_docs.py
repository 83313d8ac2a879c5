"""docs/PYTHON.md's examples run as written: the five-line quickstart, two people through a
real gateway, and a worker's test on the plugin's fixtures, in a folder of its own (no
conftest of ours: pytest finds meshkit_web.testing by its entry point, as it would for an
app developer)."""

import os
import pathlib
import re
import subprocess
import sys

from support.constants import ROOT

CHROMIUM = os.environ.get("MESHKIT_CHROMIUM", "/usr/bin/chromium")

DOC = (ROOT / "docs" / "PYTHON.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, re.S)


def _run(args, cwd: pathlib.Path, timeout=300) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_quickstart_seals_and_opens_in_five_lines(tmp_path):
    (command,) = [b for b in _blocks("sh") if b.startswith("python -c ")]
    code = command[len("python -c '"):].rstrip().rstrip("'")
    assert len(code.splitlines()) <= 5
    out = _run([sys.executable, "-c", code], tmp_path)
    root, opened = out.split(" ", 1)
    assert root.startswith("bafy") and opened.strip() == "b'hello'"
    assert (tmp_path / "my-meshkit" / "home" / "identities" / "alice.json").stat().st_mode & 0o077 == 0


def test_two_people_through_a_gateway(meshkit_gateway, tmp_path):
    (script,) = [b for b in _blocks("python") if "MeshKit.connect(GATEWAY" in b]
    (tmp_path / "two.py").write_text(script)
    out = _run([sys.executable, "two.py", meshkit_gateway.url], tmp_path)
    assert "shared with 2 keys of Bob's account" in out
    assert "report.txt from mk" in out and "b'Q3 numbers'" in out
    assert out.strip().endswith("revoked: Bob's next open fails")


def test_a_developers_own_test_gets_the_fixtures_by_entry_point(tmp_path):
    """The docs' worker test, run by pytest in a folder of its own, after a pytest-playwright
    test of the same session (which leaves its event loop on the test thread)."""
    (example,) = [b for b in _blocks("python") if "def test_the_worker_files_what_arrives" in b]
    (tmp_path / "test_b_mine.py").write_text(example)
    (tmp_path / "test_a_browser.py").write_text(
        "def test_a_page(page):\n    page.set_content('<p>hi</p>')\n    assert page.inner_text('p') == 'hi'\n")
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture(scope='session')\ndef browser_type_launch_args(browser_type_launch_args):\n"
        f"    return {{**browser_type_launch_args, 'executable_path': {CHROMIUM!r}, 'args': ['--no-sandbox']}}\n")
    out = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "."], tmp_path)
    assert "2 passed" in out


def test_the_readme_shows_the_same_quickstart():
    readme = (ROOT / "README.md").read_text()
    (command,) = [b for b in _blocks("sh") if b.startswith("python -c ")]
    assert ".venv/bin/" + command in readme
