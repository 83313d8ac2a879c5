# The two commands a new user needs (see README.md):
#   make run    set up, then run the gateway (embedded blockstore + SQLite) on http://127.0.0.1:8765
#   make test   set up, then run the whole test suite
.PHONY: run test setup bench demo sdk screenshots

setup:
	./scripts/setup.sh

run: setup
	.venv/bin/python build.py
	.venv/bin/meshkit serve --data ./meshkit-data --port 8765 --site ./site

# the meshkit-web package other apps embed (docs/SDK.md), into ./sdk-out
sdk: setup
	.venv/bin/python build.py --sdk ./sdk-out

demo: setup
	./scripts/demo.sh

test: setup
	.venv/bin/python -m pytest

# the README's screenshots, made by the app's journeys at 1280x800 and 390x844
screenshots: setup
	MESHKIT_SCREENSHOTS=$(CURDIR)/docs/screenshots .venv/bin/python -m pytest -q tests/app/test_app_files.py \
		tests/app/test_app_sharing.py tests/app/test_app_pdf.py

# every benchmark, then one table of every target (bench/summary.py); rows in bench/.rows.jsonl
BENCH_ROWS := $(CURDIR)/bench/.rows.jsonl
bench: setup
	rm -f $(BENCH_ROWS)
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/seal_open.py
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/seal_open.py --size-mib 4096 --peers none --record-as cli.large
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/gateway.py
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/browser.py --memory-mib 4096
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/first_visit.py
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/worker.py --large-mib 4096
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/sdk.py --size-mib 256
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/python_api.py --size-mib 256
	.venv/bin/python bench/accounts.py
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/library.py
	MESHKIT_BENCH_ROWS=$(BENCH_ROWS) .venv/bin/python bench/pq.py
	.venv/bin/python bench/profile_browser.py
	cd bench && ../.venv/bin/python summary.py $(BENCH_ROWS)
