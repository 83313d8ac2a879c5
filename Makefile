# The two commands a new user needs (see README.md):
#   make run    set up, then run the gateway (embedded blockstore + SQLite) on http://127.0.0.1:8765
#   make test   set up, then run the whole test suite
.PHONY: run test setup bench demo

setup:
	./scripts/setup.sh

run: setup
	.venv/bin/python build.py
	.venv/bin/meshkit serve --data ./meshkit-data --port 8765 --site ./site

demo: setup
	./scripts/demo.sh

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python bench/seal_open.py
	.venv/bin/python bench/gateway.py
	.venv/bin/python bench/browser.py
	.venv/bin/python bench/worker.py
	.venv/bin/python bench/accounts.py
