"""The error tree of the core, and the one table that maps it to exit codes.

Core code raises these; the task layer (rt_tasks/_cli.py) turns them into
`invoke.Exit` with the code below, so a Makefile or a cron job can tell a bad
argument from an unreachable host without parsing text.
"""
from __future__ import annotations

import enum
from typing import Any, Sequence, TypeVar


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1  # anything not classified below
    BAD_INPUT = 2  # the user's arguments or files are wrong: fix them and retry
    INVENTORY = 3  # hosts.yaml (or the file INVOKE_HOSTS_FILE names) is invalid
    UNREACHABLE = 4  # a host did not answer SSH within the connect timeout
    REMOTE_FAILED = 5  # a remote command ran and failed
    PROVIDER = 6  # the cloud API refused or failed (auth, state)
    NO_CAPACITY = 7  # the cloud has no GPU for this VM right now
    PREFLIGHT = 8  # one or more pre-launch checks failed; nothing was started
    IMAGE = 9  # building or pushing an image failed
    JOB_FAILED = 10  # a job ended with a non-zero exit code
    SANDBOX = 11  # the local sandbox fleet could not be brought up


class RTError(Exception):
    """Base of every error the core raises on purpose.

    `fix` is one sentence that tells the user what to do next.
    """

    exit_code: int = ExitCode.ERROR  # the process's exit code (JobFailed: may be the job's own)

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class InputError(RTError):
    exit_code = ExitCode.BAD_INPUT


class JobNotFound(InputError):
    """No job by that reference on the places asked (a fixed host's or a target's): the caller may look elsewhere."""


class InventoryError(RTError):
    exit_code = ExitCode.INVENTORY


class UnreachableError(RTError):
    exit_code = ExitCode.UNREACHABLE


class RemoteCommandError(RTError):
    exit_code = ExitCode.REMOTE_FAILED

    def __init__(self, message: str, fix: str | None = None, *, exit_status: int = 1,
                 stdout: str = "", stderr: str = "") -> None:
        super().__init__(message, fix)
        self.exit_status = exit_status
        self.stdout = stdout
        self.stderr = stderr


class ProviderError(RTError):
    exit_code = ExitCode.PROVIDER


class NoCapacityError(ProviderError):
    exit_code = ExitCode.NO_CAPACITY


class PreflightError(RTError):
    """Several checks failed at once; `failures` holds (check, problem, fix) rows, `report` what the
    checks learnt (preflight.Report, e.g. a stopped VM the launch path may start), when they got that far."""

    exit_code = ExitCode.PREFLIGHT

    def __init__(self, failures: list[tuple[str, str, str]], report: Any = None) -> None:
        self.failures = failures
        self.report = report
        lines = [f"{check}: {problem} (fix: {fix})" for check, problem, fix in failures]
        super().__init__(f"{len(failures)} preflight check(s) failed; nothing was started:\n  "
                         + "\n  ".join(lines))


class ImageError(RTError):
    exit_code = ExitCode.IMAGE


class JobFailed(RTError):
    """A job ended non-zero. `exit_code`: the process's exit code, the job's own when given
    (`exit_code=N`: rt exits as the job did), else JOB_FAILED (10), which no other failure of rt gives."""

    exit_code: int = ExitCode.JOB_FAILED

    def __init__(self, message: str, fix: str | None = None, *, exit_code: int | None = None) -> None:
        super().__init__(message, fix)
        if exit_code:
            self.exit_code = exit_code


def raise_if_failed(job_id: str, where: str, code: int, *, own_code: bool = True) -> None:
    """The one JobFailed of a job that ended non-zero, on any target: the process then exits with the job's
    own code, or with `own_code` false with rt's JOB_FAILED (10), which no other failure of rt gives."""
    if code != 0:
        raise JobFailed(f"job {job_id} on {where} exited {code}", f"inv jobs.errors {job_id} / inv jobs.logs {job_id}",
                        exit_code=code if own_code else None)


class SandboxError(RTError):
    exit_code = ExitCode.SANDBOX


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken like Ctrl-C (the same clean-ups run: a claim given back, a start recorded), exit 143."""


_Problem = TypeVar("_Problem", bound=RTError)


def unique(problems: Sequence[_Problem]) -> list[_Problem]:
    """`problems` with repeats dropped (the same type, message and fix), in order: one mistake found
    by two checks is reported once."""
    seen: set[tuple[type, str, str | None]] = set()
    kept: list[_Problem] = []
    for problem in problems:
        key = (type(problem), problem.message, problem.fix)
        if key not in seen:
            seen.add(key)
            kept.append(problem)
    return kept


def exit_code_for(error: BaseException) -> int:
    """The process exit code for an error: the one place this mapping lives."""
    if isinstance(error, RTError):
        return int(error.exit_code)
    if isinstance(error, Terminated):
        return 143
    if isinstance(error, KeyboardInterrupt):
        return 130
    return int(ExitCode.ERROR)
