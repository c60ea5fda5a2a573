# The two set-up commands of the README. Both install what is missing first.
PYTHON ?= python3
INV ?= $(PYTHON) -m invoke

.PHONY: install test demo sandbox-down bench

install:
	bash scripts/install.sh

test: install
	$(INV) sandbox.up
	$(PYTHON) -m pytest -q tests

demo: install
	$(INV) sandbox.up
	$(INV) demo

sandbox-down:
	$(INV) sandbox.down

bench: install
	$(PYTHON) bench/cli_startup.py
