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
