"""The command line itself: Invoke's parser as the tasks need it (no sandbox)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def inv(*args: str, hosts_file: Path | None = None) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(ROOT / ".no-home")}
    if hosts_file:
        env["INVOKE_HOSTS_FILE"] = str(hosts_file)
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("task", ["vm.start", "vm.stop", "jobs.logs", "jobs.stop", "jobs.wait", "images.push"])
def test_help_after_a_task_whose_positional_is_missing_prints_its_help(task):
    # Plain Invoke 2.x would run the task with "--help" as the positional value (invoke#982).
    out = inv(task, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Usage: inv[oke] [--core-opts] {task} ") and "Docstring:" in out.stdout
    assert "--help" not in out.stderr and out.stderr == ""


def test_image_names_are_an_optional_positional():
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "INVOKE_IMAGES_CATALOG": str(ROOT / "docker/sandbox/images.yaml")}

    def plan(*names: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "invoke", "images.plan", *names, "--json"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

    # No names: every image (whatever the registry says, the parser let it through).
    assert "did not receive required positional arguments" not in plan().stderr
    named = plan("nope")
    assert named.returncode == 2 and "unknown image 'nope'" in named.stderr, named.stderr


def test_a_positional_that_is_missing_still_fails_clearly():
    out = inv("vm.start")
    assert out.returncode != 0 and "'vm.start' did not receive required positional arguments: 'host'" in out.stderr
