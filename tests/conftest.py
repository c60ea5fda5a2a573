"""Shared fixtures. `sandbox` brings the sandbox fleet up once per session (never skipped)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))


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
    from remote_training.inventory import load_inventory
    from remote_training.remote import RemoteRunner

    runner = RemoteRunner(load_inventory(sandbox["hosts_file"]), connect_timeout=5)
    yield runner
    runner.close()


@pytest.fixture()
def tag() -> str:
    """A fresh name for the containers and labels a test makes."""
    import uuid

    return f"rtt-{uuid.uuid4().hex[:10]}"
