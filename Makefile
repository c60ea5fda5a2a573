# The set-up commands of the README. Everything runs in the project's virtual environment, .venv/
# (scripts/install.sh makes it; nothing is installed into the system Python). `install` also installs the
# sandbox's Debian packages (root, scripts/install-sandbox.sh); `test-fast` needs neither root nor the
# sandbox: the venv (`make venv`), and the docker and busybox CLIs of those packages (README).
VENV ?= .venv
PYTHON := $(VENV)/bin/python
INV := $(PYTHON) -m invoke

.PHONY: venv install lint test test-fast test-offline test-sandbox demo sandbox-down bench

venv:
	bash scripts/install.sh

install: venv
	bash scripts/install-sandbox.sh

# ruff (style, likely bugs, imports) and mypy (types): pyproject.toml configures both; seconds, no sandbox.
# Both run, and the target fails if either found something.
lint: venv
	@status=0; $(VENV)/bin/ruff check . || status=$$?; \
	$(VENV)/bin/mypy || status=$$?; exit $$status

# Both tiers: the fast one first (it fails in seconds), then the one against the sandbox fleet, which
# runs even when the fast one failed; the target fails if either did. The fast tier needs no sandbox, so
# the sandbox comes up, and each era's job image is built, meanwhile (their log printed after the fast
# tier's; a failure there is the sandbox tier's own `sandbox.up` to report).
test: install
	@mkdir -p .sandbox; $(INV) sandbox.up --job-images >.sandbox/make-test-up.log 2>&1 & up=$$!; \
	fast=0; $(MAKE) --no-print-directory test-fast || fast=$$?; \
	wait $$up || echo "sandbox.up --job-images failed (exit $$?); its log:"; cat .sandbox/make-test-up.log; \
	$(MAKE) --no-print-directory test-sandbox && exit $$fast

# No root, no sandbox, no network: everything the `sandbox` fixture does not reach (tests/conftest.py).
test-fast: venv
	$(PYTHON) -m pytest -q -m "not sandbox" tests

# The fast tier in a network namespace of its own (root): loopback only, no other interface, route or
# name server, so a fast test that reaches past this machine fails here. No other target runs it.
test-offline: venv
	unshare --net sh -c 'ip link set lo up && exec $(PYTHON) -m pytest -q -m "not sandbox" tests'

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
