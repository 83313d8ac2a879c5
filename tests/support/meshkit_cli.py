"""The real `meshkit` command in a subprocess, with its own home (tests that drive several
homes at once: several machines of one person)."""

import subprocess
import sys


def meshkit(home, *args, stdin=None, check=True, verbose=False, cwd=None):
    command = [sys.executable, "-m", "meshkit_web", *(["-v"] if verbose else []), "--home", str(home), *map(str, args)]
    proc = subprocess.run(command, capture_output=True, text=True, input=stdin, timeout=300, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"meshkit {args} failed: {proc.stderr}")
    return proc


def published_identity(cli, name: str, gateway: str) -> dict:
    """A new identity of the ``cli`` fixture's home (hybrid: CPython holds X-Wing keys),
    published to ``gateway``: its public record."""
    import json
    cli("identity", "create", name)
    cli("identity", "publish", name, "--gateway", gateway)
    return json.loads(cli("identity", "show", name).stdout)
