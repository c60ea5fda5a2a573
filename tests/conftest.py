"""Shared fixtures. `sandbox` brings the sandbox fleet up once per session (never skipped).

Two tiers: every test that uses the `sandbox` fixture, directly or through other fixtures, is marked
`sandbox` here (it needs root and the fleet); `-m "not sandbox"` is the fast tier (`make test-fast`).
The packages are imported as installed (`pip install -e '.[test]'`), not through sys.path. The helpers
(paths, running the CLI, S3, ssh) are in tests/support.py.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from typing import Any

import pytest

from tests.support import ROOT, era_env


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "sandbox" in getattr(item, "fixturenames", ()):  # the closure: fixtures of fixtures count
            item.add_marker(pytest.mark.sandbox)


@pytest.fixture(scope="session")
def sandbox() -> dict[str, Any]:
    """The contents of .sandbox/sandbox.json, plus "root" and "hosts_file" as Paths."""
    from rt_sandbox import fleet

    state = dict(fleet.ensure_up(ROOT, keep_recent_stops=False))  # every test starts from a full fleet
    state["root"] = ROOT
    state["hosts_file"] = ROOT / ".sandbox" / "hosts.yaml"
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
    return f"rtt-{uuid.uuid4().hex[:10]}"


# -- the jobs tests: `inv` subprocesses against the sandbox, the stand-in job images, S3 -----------------
@pytest.fixture(scope="session")
def jobs_env(sandbox: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for `inv` subprocesses: the sandbox inventory, each era's job image in its images file, and
    the runbook era's compose file and image (tests of the current era pass era_env("a060cbea"))."""
    from remote_training.jobs import catalog
    from rt_sandbox import standin_image

    for era in catalog.ERAS:
        standin_image.ensure_named(ROOT, era.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "WANDB_", "AWS_"))}
    env.update(INVOKE_HOSTS_FILE=str(sandbox["hosts_file"]),
               INVOKE_JOBS_LEDGER=str(tmp_path_factory.mktemp("ledger") / "ledger.jsonl"),
               AWS_ACCESS_KEY_ID="AKIAJOBSSANDBOX0001", AWS_SECRET_ACCESS_KEY="moto-takes-any-secret-1",
               **era_env("4261b1aa"))
    return env


@pytest.fixture()
def prefix() -> str:
    """A fresh S3 folder name per test (moto keeps objects for the whole session)."""
    return f"jobs-test/{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def s3(sandbox: dict[str, Any]) -> Any:
    """A boto3 S3 client on the sandbox's moto server."""
    import boto3

    return boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


@pytest.fixture()
def cleanup(sandbox: dict[str, Any]):
    """Job ids to remove (by host) when the test ends, pass or fail."""
    made: list[tuple[str, str]] = []
    yield made
    for host, job_id in made:
        subprocess.run(["ssh", "-F", str(sandbox["root"] / ".sandbox" / "ssh_config"), host,
                        f"docker rm -f {job_id}"], capture_output=True, timeout=60)
