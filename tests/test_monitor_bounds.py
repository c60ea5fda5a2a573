"""Following a log and waiting on a job are bounded: pieces of at most LIVENESS_S on the host, each
with a limit here, so a host that stops answering is reported within about 30 s and the job is left
findable. A scripted runner stands in for SSH (the real thing is in the sandbox tier)."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from remote_training.errors import RemoteCommandError, UnreachableError
from remote_training.inventory import parse_inventory
from remote_training.jobs import monitor
from remote_training.remote import RunResult
from remote_training.snapshot import Job

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


def test_follow_resumes_where_the_last_piece_ended_without_repeating_lines() -> None:
    runner = Scripted(ok(124, "2026-11-30T01:00:00.1Z step 1\n", "2026-11-30T01:00:00.2Z step 2\n"),
                      ok(0, "2026-11-30T01:00:00.2Z step 2\n", "2026-11-30T01:00:03.5Z done\n"))
    out = io.StringIO()
    text = monitor.logs(runner, JOB, follow=True, stream=out)
    assert text == out.getvalue() == "step 1\nstep 2\ndone\n"
    (first, limit), (second, _) = runner.calls
    assert first[:2] == ["timeout", str(monitor.LIVENESS_S)] and "--since" not in first
    assert limit == monitor.LIVENESS_S + monitor.GRACE_S
    assert second[second.index("--since") + 1] == "2026-11-30T01:00:00.2Z"


def test_follow_says_when_the_host_stops_answering() -> None:
    runner = Scripted(ok(124, "2026-11-30T01:00:00.1Z step 1\n"),
                      RemoteCommandError("vm: `timeout` did not finish within 25s", "retry"))
    with pytest.raises(UnreachableError) as info:
        monitor.logs(runner, JOB, follow=True, stream=io.StringIO())
    assert "vm stopped answering while following the log of groot-train-1" in info.value.message
    assert "inv jobs.wait groot-train-1" in info.value.fix and runner.forgotten == 1


def test_wait_tries_once_more_then_leaves_the_job_findable() -> None:
    dead = RemoteCommandError("vm: `timeout` did not finish within 25s", "retry")
    runner = Scripted(ok(124), dead, dead)
    with pytest.raises(UnreachableError) as info:
        monitor.wait(runner, JOB)
    assert "stopped answering while waiting for groot-train-1" in info.value.message
    assert all(limit == monitor.LIVENESS_S + monitor.GRACE_S for _, limit in runner.calls)
    assert monitor.wait(Scripted(ok(124), dead, ok(0, "3\n")), JOB) == 3  # one lost answer is retried
