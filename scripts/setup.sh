#!/usr/bin/env bash
# Idempotent setup for a fresh machine: a virtualenv with MeshKit and its test and
# benchmark dependencies (pinned in pyproject.toml), and the npm packages the tests
# use as independent oracles (pinned in tests/js/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==25.3"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[cli,server,test,bench]"
if [ -f tests/js/package-lock.json ]; then
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
fi
