# The two commands a new user needs (see README.md):
#   make run    set up, then run the demo (two identities, seal, open, a refused open)
#   make test   set up, then run the whole test suite
.PHONY: run test setup bench

setup:
	./scripts/setup.sh

run: setup
	./scripts/demo.sh

test: setup
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/python bench/seal_open.py
