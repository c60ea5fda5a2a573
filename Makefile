# The set-up commands of the README. `install`, `test`, `demo` and `bench` install what is missing first
# (as root, on Debian); `test-fast` needs neither root nor the sandbox, only the package installed
# (python3 -m pip install -e '.[test]').
PYTHON ?= python3
INV ?= $(PYTHON) -m invoke

.PHONY: install test test-fast test-sandbox demo sandbox-down bench

install:
	bash scripts/install.sh

# Both tiers: the fast one first (it fails in seconds), then the one against the sandbox fleet, which
# runs even when the fast one failed; the target fails if either did.
test: install
	@fast=0; $(MAKE) --no-print-directory test-fast || fast=$$?; \
	$(MAKE) --no-print-directory test-sandbox && exit $$fast

# No root, no sandbox: everything the `sandbox` fixture does not reach (marked in tests/conftest.py).
test-fast:
	$(PYTHON) -m pytest -q -m "not sandbox" tests

test-sandbox:
	$(INV) sandbox.up
	$(PYTHON) -m pytest -q -m sandbox tests

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
