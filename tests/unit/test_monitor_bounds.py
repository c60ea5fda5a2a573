"""Waiting on a job is bounded: pieces of at most LIVENESS_S on the host, each with a limit here, so a
host that stops answering is reported within about 30 s and the job is left findable. A scripted runner
stands in for SSH here; following a log through a real cut is in tests/sandbox/test_faults.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from remote_training.errors import RemoteCommandError, UnreachableError
from remote_training.fleet.inventory import parse_inventory
from remote_training.fleet.remote import RunResult
from remote_training.fleet.snapshot import Job
from remote_training.jobs import monitor

INVENTORY = parse_inventory("hosts:\n  vm: {ssh: u@vm, gpu: H100, gpu_memory_gb: 80}\n", Path("hosts.yaml"))
JOB = Job(job_id="groot-train-1", host="vm", service="groot-train", kind="train", state="running")


class Scripted:
    """Answers each run() with the next scripted result (or raises it); records the argv and limits."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[list[str], float | None]] = []
        self.inventory = INVENTORY
        self.forgotten = 0

    def run(self, host, argv, *, check=True, mutating=True, stream=None, timeout=None, **_):
        self.calls.append((list(argv), timeout))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def forget(self, host) -> None:
        self.forgotten += 1


def ok(status: int, *lines: str) -> RunResult:
    return RunResult("vm", "cmd", status, "".join(lines))


def test_wait_tries_once_more_then_leaves_the_job_findable() -> None:
    dead = RemoteCommandError("vm: `timeout` did not finish within 25s", "retry")
    runner = Scripted(ok(124), dead, dead)
    with pytest.raises(UnreachableError) as info:
        monitor.wait(runner, JOB)
    assert "stopped answering while waiting for groot-train-1" in info.value.message
    assert all(limit == monitor.LIVENESS_S + monitor.GRACE_S for _, limit in runner.calls)
    assert monitor.wait(Scripted(ok(124), dead, ok(0, "3\n")), JOB) == 3  # one lost answer is retried


def test_a_vanished_container_is_told_by_the_wait_scripts_status_not_by_docker_wording() -> None:
    """The host's script asks the engine whether the container exists (`docker ps -a`) and exits GONE when
    it does not; any other failure of the wait is its own error, whatever its stderr says."""
    with pytest.raises(RemoteCommandError) as gone:
        monitor.wait(Scripted(ok(monitor.GONE)), JOB)
    assert "groot-train-1 is gone from vm" in gone.value.message and "jobs.history --job" in gone.value.fix
    worded = RunResult("vm", "cmd", 1, "", "Error: No such container: groot-train-1\n")
    with pytest.raises(RemoteCommandError) as other:
        monitor.wait(Scripted(worded), JOB)
    assert "docker wait groot-train-1 failed" in other.value.message
