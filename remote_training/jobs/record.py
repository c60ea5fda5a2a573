"""The record stage, the same for every target: the ledger's launch line (the intent) before `go`, SIGINT
and SIGTERM held from `go` until the start is recorded, the output's claim given back when nothing started.

    result = start_recorded(guard, spec, go, where=target.name)   # go() starts the job: its LaunchResult

So no job runs without a record, and no record claims an output for a job that never started, whichever
target (a fixed host's compose run, a Nebius Serverless create) did the starting.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from ..errors import Terminated
from .spec import Guard, JobSpec, LaunchResult


def start_recorded(guard: Guard, spec: JobSpec, go: Callable[[], LaunchResult], *, where: str,
                   undo: Callable[[], None] = lambda: None) -> LaunchResult:
    """Write the intent, then `go` with the signals held, then record the start. `undo`: what to let go of
    when the intent cannot be written (a held launch command); then nothing started and the claim goes back."""
    try:
        guard.intent(spec)  # the ledger's launch line before anything may start; no record, no launch
    except BaseException:
        undo()
        guard.abandon(spec)
        raise
    with signals_held(spec.job_id) as held:  # from `go` until the start is recorded
        try:
            result = go()
        except KeyboardInterrupt:
            raise  # asked twice to leave: whether it started is unknown, so its claim and intent stay
        except BaseException:
            guard.abandon(spec)  # nothing runs: the output's claim goes back
            raise
        try:
            guard.record(spec, result)
        except Exception as exc:  # the job runs now: a bookkeeping failure must not report the launch as failed
            sys.stdout.write(f"warning: {spec.job_id} started but was not recorded: {exc}\n")
    if held:
        sys.stderr.write(f"{spec.job_id} started on {where} and is recorded (inv jobs.list, inv jobs.history); "
                         f"it runs on: inv jobs.stop {spec.job_id} stops it\n")
        raise KeyboardInterrupt if held[0] == signal.SIGINT else Terminated()
    return result


@contextmanager
def signals_held(job_id: str) -> Iterator[list[int]]:
    """SIGINT and SIGTERM held from `go` until the job's start is recorded: a launch interrupted there
    finishes recording the start (its container) and then leaves with the signal's code, so no container
    runs without a record. A second signal leaves at once (the launch line and the claim stay: whether it
    started is then unknown). Only the main thread can take signals; elsewhere nothing is held."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return

    def hold(signum: int, frame: Any) -> None:
        if held:
            raise KeyboardInterrupt
        held.append(signum)
        sys.stderr.write(f"{job_id} is starting: its start is recorded first, then this ends "
                         "(again to leave at once)\n")

    previous = {sig: signal.signal(sig, hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def record_end(guard: Guard | None, job_id: str, code: int, ended: str | None = None) -> None:
    """Tell the ledger how a job ended (NoHooks records nothing); `ended`: when, if it ended before it
    was seen (else now)."""
    if guard is None:
        return
    try:
        guard.finish(job_id, code, ended=ended)
    except Exception as exc:  # noqa: BLE001 - the exit code is the answer; a ledger problem is only a warning
        sys.stderr.write(f"warning: the end of {job_id} was not recorded: {exc}\n")
