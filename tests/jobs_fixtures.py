"""Fixtures shared by the jobs sandbox tests: the stand-in image, `inv` in a subprocess, S3, ssh."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECKOUTS = ROOT / "docker" / "sandbox" / "checkouts"


def era_env(era: str) -> dict[str, str]:
    """Run jobs through that era's verbatim positronic compose file, with that era's job image (the images
    env file jobs_env writes)."""
    from rt_sandbox import standin_image

    return {"INVOKE_JOBS_COMPOSE_PROJECT": str(CHECKOUTS / f"positronic-{era}" / "docker"),
            "INVOKE_IMAGES_ENV_FILE": str(standin_image.env_file(ROOT, era))}


@pytest.fixture(scope="session")
def jobs_env(sandbox: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for `inv` subprocesses: the sandbox inventory, each era's job image in its images file, and
    the runbook era's compose file and image (tests of the current era pass era_env("a060cbea"))."""
    from remote_training.jobs import catalog
    from rt_sandbox import standin_image

    for era in catalog.ERAS:
        standin_image.write_env_file(standin_image.env_file(ROOT, era.name), standin_image.ensure(ROOT, era.name))
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
    import boto3

    return boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def keys(s3: Any, url: str) -> list[str]:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    return sorted(obj["Key"][len(key):] for page in pages for obj in page.get("Contents", []))


def put(s3: Any, url: str, body: str) -> None:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def inv(env: dict[str, str], *args: str, timeout: float = 120, extra_env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env={**env, **(extra_env or {})},
                          capture_output=True, text=True, timeout=timeout)


def started_job(result: subprocess.CompletedProcess) -> str:
    found = re.search(r"^started (\S+) on ", result.stdout, re.MULTILINE)
    assert found, f"no job started:\n{result.stdout}\n{result.stderr}"
    return found[1]


def jobs_json(env: dict[str, str], *args: str) -> dict[str, dict[str, Any]]:
    result = inv(env, "jobs.list", "--json", *args)
    assert result.returncode == 0, result.stderr
    return {j["job_id"]: j for j in json.loads(result.stdout)}


def ssh(sandbox: dict[str, Any], host: str, command: str) -> str:
    config = sandbox["root"] / ".sandbox" / "ssh_config"
    return subprocess.run(["ssh", "-F", str(config), host, command], capture_output=True, text=True,
                          timeout=60, check=True).stdout


@pytest.fixture()
def cleanup(sandbox: dict[str, Any]):
    """Job ids to remove (by host) when the test ends, pass or fail."""
    made: list[tuple[str, str]] = []
    yield made
    for host, job_id in made:
        subprocess.run(["ssh", "-F", str(sandbox["root"] / ".sandbox" / "ssh_config"), host,
                        f"docker rm -f {job_id}"], capture_output=True, timeout=60)
