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

# Each script prints its own figures and ratios; vm_status_bench resizes the sandbox, so it runs last.
bench: install
	$(INV) sandbox.up
	$(PYTHON) bench/cli_startup.py
	$(PYTHON) bench/images_bench.py
	$(PYTHON) bench/jobs_launch_bench.py
	$(PYTHON) bench/vm_status_bench.py
