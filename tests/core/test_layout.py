"""Architecture rules that keep the same wheel usable in the browser."""

import ast
import subprocess
import sys

from support.constants import ROOT

PACKAGE = ROOT / "meshkit_web"
FORBIDDEN_IN_CORE = {"nacl", "js", "pyodide", "starlette", "uvicorn", "httpx", "fastapi", "tqdm", "os",
                     "socket", "sqlite3", "asyncio.subprocess", "subprocess", "cryptography", "jwt",
                     "sqlalchemy", "limits", "pydantic", "aiosqlite", "asyncpg"}


def test_core_imports_nothing_platform_specific():
    for path in sorted((PACKAGE / "core").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 1, f"{path.name} reaches outside core"
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_IN_CORE, f"{path.name} imports {name}"


def test_importing_core_loads_no_backend():
    code = ("import sys, meshkit_web.core.envelope, meshkit_web.core.capsule, meshkit_web.core.proof, "
            "meshkit_web.core.car; bad = [m for m in ('nacl', 'tqdm', 'js', 'httpx', 'fastapi', 'sqlalchemy') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_gateway_client_loads_no_server_or_http_library():
    """The browser runtime reuses the client's protocol logic with its own transport."""
    code = ("import sys, meshkit_web.clients.gateway; bad = [m for m in ('nacl', 'httpx', 'fastapi', 'starlette', "
            "'sqlalchemy', 'jwt', 'meshkit_web.gateway') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_build_makes_a_self_contained_site(site):
    """build.py: an immutable release with Pyodide, a lock naming only served wheels with
    their real hashes, and our pure wheel without server-only code."""
    import hashlib, json, zipfile
    info = json.loads((site / "build.json").read_text())
    release = site / "b" / info["build"]
    assert (site / "index.html").read_text().count(f"/b/{info['build']}/") >= 2
    lock = json.loads((release / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["info"]["python"].startswith("3.14")
    for name, package in lock["packages"].items():
        wheel = (release / "pyodide" / package["file_name"]).resolve()
        assert wheel.is_file() and hashlib.sha256(wheel.read_bytes()).hexdigest() == package["sha256"], name
        assert all(dep in lock["packages"] for dep in package["depends"])
    (wheel,) = (release / "wheels").glob("meshkit_web-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "meshkit_web/core/envelope.py" in names and "meshkit_web/browser/runtime.py" in names
    assert not [n for n in names if n.startswith(("meshkit_web/gateway/", "meshkit_web/providers/", "meshkit_web/cli/", "meshkit_web/kit/",
                                                  "meshkit_web/stores/", "meshkit_web/crypto/"))
                or n.startswith("meshkit_web/") and not n.startswith(("meshkit_web/__init__.py", "meshkit_web/core/",
                                                                      "meshkit_web/clients/", "meshkit_web/browser/"))]
    assert {"pyodide.asm.wasm", "python_stdlib.zip", "pyodide-lock.json"} <= {p.name for p in (release / "pyodide").iterdir()}
    assert {"meshkit.js", "meshkit-sw.js", "package.json", "index.d.ts", "integrity.json"} <= {p.name for p in release.iterdir()}
