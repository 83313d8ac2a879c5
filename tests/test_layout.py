"""Architecture rules that keep the same wheel usable in the browser."""

import ast
import pathlib
import subprocess
import sys

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "meshkit_web"
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


def test_build_makes_a_pure_wheel(tmp_path):
    out = subprocess.run([sys.executable, str(PACKAGE.parent / "build.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (wheel,) = (tmp_path / "wheels").glob("meshkit_web-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
