#!/usr/bin/env bash
# Idempotent setup for a fresh machine: a virtualenv with MeshKit and its test and
# benchmark dependencies (pinned in pyproject.toml), and the npm packages the tests
# use as independent oracles (pinned in tests/js/package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

# System packages the tests use: PostgreSQL (the metadata suite also runs on it),
# Debian's Chromium (the browser tests; Playwright cannot download its own here), nginx, Redis,
# Firefox ESR and WebKitGTK.
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
# The scale-out test: nginx balancing gateway replicas that share Redis (rate limits, challenges)
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x /usr/bin/redis-server ] || need+=(redis-server)
# The other engines (tests/sdk/test_engines.py): Firefox ESR (driven by puppeteer-core from
# tests/js) and WebKitGTK (Selenium + WebKitWebDriver, under xvfb-run: MiniBrowser has no headless mode)
[ -x /usr/bin/firefox-esr ] || need+=(firefox-esr)
[ -x /usr/bin/WebKitWebDriver ] || need+=(webkit2gtk-driver)
command -v xvfb-run >/dev/null 2>&1 || need+=(xvfb)
command -v xauth >/dev/null 2>&1 || need+=(xauth)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The age CLI (Go), the benchmark's peer for the CLI rows: best effort, the tests do not need it
if ! command -v age >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends age >/dev/null 2>&1 \
    || echo "setup: the age CLI could not be installed; make bench reports its rows as not measured" >&2
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip==25.3"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[cli,server,test,bench]"
if [ -f tests/js/package-lock.json ]; then
  npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
fi
if [ -f tests/ipfs/package-lock.json ]; then  # js-ipfs: a real Kubo-RPC server for the provider tests
  # --omit=peer: its peer dependencies pull browser and React Native stacks it never loads here
  npm ci --prefix tests/ipfs --omit=peer --no-audit --no-fund --loglevel=error
fi
if [ -f tests/helia/package-lock.json ]; then  # Helia + @helia/verified-fetch: the IPFS project's own clients
  npm ci --prefix tests/helia --omit=peer --no-audit --no-fund --loglevel=error
fi
if [ -f bench/js/package-lock.json ]; then  # the browser benchmark's peers (age, OpenPGP.js, esbuild)
  npm ci --prefix bench/js --no-audit --no-fund --loglevel=error
fi
