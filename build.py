#!/usr/bin/env python3
"""Build the deployable site: ``python build.py [--out site]``.

Today: our pure-Python wheel (checked to be py3-none-any, as Pyodide needs), plus
static/ and service_worker/. The browser-runtime issue adds the Pyodide runtime from the
npm package, the browser's dependency wheels and a lock file.
"""

import argparse
import pathlib
import shutil
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent


def build_wheel(out: pathlib.Path) -> pathlib.Path:
    wheels = out / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    for old in wheels.glob("meshkit_web-*.whl"):
        old.unlink()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "-w", str(wheels), str(ROOT)], check=True)
    (wheel,) = wheels.glob("meshkit_web-*.whl")
    if not wheel.name.endswith("-py3-none-any.whl"):
        sys.exit(f"build.py: {wheel.name} is not a pure-Python wheel; Pyodide cannot load it")
    with zipfile.ZipFile(wheel) as archive:
        if not any(name.startswith("meshkit_web/core/") for name in archive.namelist()):
            sys.exit("build.py: the wheel lacks meshkit_web/core")
    return wheel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "site"))
    out = pathlib.Path(parser.parse_args().out)
    wheel = build_wheel(out)
    for folder in ("static", "service_worker"):
        shutil.copytree(ROOT / folder, out / folder, dirs_exist_ok=True)
    print(f"built {out} ({wheel.name})")


if __name__ == "__main__":
    main()
