"""Helpers the tests share (the fixtures are in conftest.py): the checkout's paths, running the CLI in a
subprocess (run_cli: the one place that does), S3 objects and ssh into a sandbox host."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the checkout
CHECKOUTS = ROOT / "docker" / "sandbox" / "checkouts"  # upstream's verbatim compose projects, one per era
DATA = ROOT / "tests" / "data"  # output captured from real tools (nvidia-smi on an H200)

# A converted dataset's meta/info.json, all the sandbox's ACT trainers read of it: the features are what the
# current era's `lerobot_0_3_3.codecs.joints_traj` declares (its training encoder's lerobot_features), from which
# lerobot's make_policy takes the policy's input and output features.
ACT_DATASET_INFO = json.dumps({
    "codebase_version": "v2.1", "fps": 15, "total_episodes": 1, "total_frames": 8,
    "features": {"observation.state": {"dtype": "float32", "shape": [8], "names": ["robot_state.q", "grip"]},
                 **{f"observation.images.{camera}": {"dtype": "video", "shape": [224, 224, 3],
                                                     "names": ["height", "width", "channel"]}
                    for camera in ("left", "side")},
                 "action": {"dtype": "float32", "shape": [8], "names": ["actions"]}}})

# The two commands a user types, run with this interpreter: `inv` (Invoke's program) and `rt` (ours).
PROGRAMS = {"inv": (sys.executable, "-m", "invoke"), "rt": (sys.executable, "-m", "rt_tasks")}
USAGE_NAMES = {"inv": "inv[oke]", "rt": "rt"}  # how each names itself in its help's "Usage:" line


def cli_argv(*args: str, program: str = "inv") -> list[str]:
    """The argv of `inv ARGS` (or `rt ARGS`), for a test that drives the process itself (Popen)."""
    return [*PROGRAMS[program], *args]


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | str = ROOT, timeout: float = 120,
            program: str = "inv") -> subprocess.CompletedProcess:
    """`inv ARGS` (or `rt ARGS`) as a user runs it, from the checkout unless `cwd` says otherwise: the output
    captured as text, within `timeout` seconds. `env` replaces the environment (None: this process's)."""
    return subprocess.run(cli_argv(*args, program=program), cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def inv(env: dict[str, str], *args: str, timeout: float = 120, extra_env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess:
    """run_cli in the jobs tests' shape: their environment (the jobs_env fixture) first, plus `extra_env`."""
    return run_cli(*args, env={**env, **(extra_env or {})}, timeout=timeout)


def era_env(era: str) -> dict[str, str]:
    """Run jobs through that era's verbatim positronic compose file, with that era's job image (the images
    env file jobs_env writes)."""
    from rt_sandbox import standin_image

    return {"INVOKE_JOBS_COMPOSE_PROJECT": str(CHECKOUTS / f"positronic-{era}" / "docker"),
            "INVOKE_IMAGES_ENV_FILE": str(standin_image.env_file(ROOT, era))}


def keys(s3: Any, url: str) -> list[str]:
    """The object keys under an s3:// folder, relative to it."""
    bucket, _, key = url.removeprefix("s3://").partition("/")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
    return sorted(obj["Key"][len(key):] for page in pages for obj in page.get("Contents", []))


def put(s3: Any, url: str, body: str) -> None:
    bucket, _, key = url.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())


def started_job(result: subprocess.CompletedProcess) -> str:
    """The job id a launch printed ("started JOB on HOST")."""
    found = re.search(r"^started (\S+) on ", result.stdout, re.MULTILINE)
    assert found, f"no job started:\n{result.stdout}\n{result.stderr}"
    return found[1]


def jobs_json(env: dict[str, str], *args: str) -> dict[str, dict[str, Any]]:
    """`inv jobs.list --json`, by job id."""
    result = inv(env, "jobs.list", "--json", *args)
    assert result.returncode == 0, result.stderr
    return {j["job_id"]: j for j in json.loads(result.stdout)}


def ssh(sandbox: dict[str, Any], host: str, command: str) -> str:
    """A command's output on a sandbox host, through the sandbox's own ssh_config."""
    config = sandbox["root"] / ".sandbox" / "ssh_config"
    return subprocess.run(["ssh", "-F", str(config), host, command], capture_output=True, text=True,
                          timeout=60, check=True).stdout
