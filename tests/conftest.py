"""Shared fixtures. `sandbox` brings the sandbox fleet up once per session (never skipped).

Two tiers: every test that uses the `sandbox` fixture, directly or through other fixtures, is marked
`sandbox` here (it needs root and the fleet); `-m "not sandbox"` is the fast tier (`make test-fast`).
The packages are imported as installed (`pip install -e '.[test]'`), not through sys.path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "sandbox" in getattr(item, "fixturenames", ()):  # the closure: fixtures of fixtures count
            item.add_marker(pytest.mark.sandbox)


@pytest.fixture(scope="session")
def sandbox() -> dict[str, Any]:
    """The contents of .sandbox/sandbox.json, plus "root" and "hosts_file" as Paths."""
    from rt_sandbox import fleet

    state = dict(fleet.ensure_up(PROJECT_ROOT, keep_recent_stops=False))  # every test starts from a full fleet
    state["root"] = PROJECT_ROOT
    state["hosts_file"] = PROJECT_ROOT / ".sandbox" / "hosts.yaml"
    return state


@pytest.fixture()
def remote(sandbox: dict[str, Any]):
    """A runner over the sandbox inventory, closed after the test."""
    from remote_training.fleet.inventory import load_inventory
    from remote_training.fleet.remote import RemoteRunner

    runner = RemoteRunner(load_inventory(sandbox["hosts_file"]), connect_timeout=5)
    yield runner
    runner.close()


@pytest.fixture()
def tag() -> str:
    """A fresh name for the containers and labels a test makes."""
    import uuid

    return f"rtt-{uuid.uuid4().hex[:10]}"
