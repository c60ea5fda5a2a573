"""The launch pipeline, one for every target, as named stages that each own their step and its data:

1. plan (jobs/run.plan_job, before `run`): the typed job -> `Plan`; every bad argument fails there, all at
   once, before any host or API is asked.
2. place (`place`): `--host auto` -> a real host or, with placement.overflow, a serverless target
   (guard.place, once) -> `Placed`; the host name is turned into its Target here, once (targets/fleet.py).
3. provision (`Target.provision`): a stopped VM the job is placed on is started (vm.auto_start), before
   the checks; --dry-run says it would be.
4. check (`check`): the target's start is opened (`Target.open`: a fixed host's launch command held at its
   gate, whose host probe the checks read; a serverless target's SDK made meanwhile), then the guard's
   checks (preflight: host, GPU, port, inputs, output claim, image), every failure at once.
5. start and record (jobs/record.start_recorded around `Start.go`): the ledger's intent, the start with
   the signals held, its record; the claim given back when nothing started.
6. follow (`follow`): a server's readiness (`until_ready`), and with --wait its log to the end and its
   exit code (`errors.raise_if_failed`); the target says only how to ask and how to read.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

from .. import interrupts, preflight
from ..errors import InputError, raise_if_failed
from ..fleet.remote import RemoteRunner
from ..jobs.record import record_end, start_recorded
from ..jobs.run import Plan
from ..jobs.spec import Guard, JobSpec, LaunchResult, NoHooks
from ..progress import Phase, silent
from ..records.ledger import secret_values
from ..targets.base import Start, Target
from ..targets.fleet import for_host


@dataclass(frozen=True)
class Placed:
    """A plan on the host or serverless target it will run on: `spec` is the plan's, placed (never "auto")."""
    plan: Plan
    spec: JobSpec
    target: Target


def run(plan: Plan, guard: Guard, runner: RemoteRunner, inventory: Any, *, auto_start: bool, dry_run: bool,
        job_env: Mapping[str, str], images_file: Path, wait: bool, ready_timeout: float, create_timeout: float,
        progress: Phase = silent, echo: Callable[[str], None] = print) -> LaunchResult:
    """Stages 2 to 6 for a plan: the LaunchResult (after the job ends when `wait`; JobFailed when it failed)."""
    placed = place(plan, guard, runner, inventory)
    spec, target = placed.spec, placed.target
    target.prewarm(spec.host)  # SSH connects while the launch gets ready
    checks = not isinstance(guard, NoHooks)
    interrupts.again()  # before each stage that acts: a signal whose exception Python dropped ends it here
    if checks or not dry_run:  # a dry run with the checks off asks nothing of any host
        target.provision(spec.host, auto_start=auto_start, dry_run=dry_run, echo=echo)
    if not spec.image and not dry_run and not checks:  # with the checks on it is one row among all of theirs
        raise InputError(f"no pushed image for {plan.service.repository} in {images_file}: nothing to run "
                         f"{plan.service.name} with", "build and push it first: inv images.push")
    start = target.open(placed, dry_run=dry_run, job_env=job_env, checks=checks, create_timeout=create_timeout,
                        progress=progress)
    check(spec, guard, start, dry_run=dry_run)
    if dry_run:
        return start.show()
    interrupts.again()
    # partial, not a lambda: the record stage calls the target's start itself, not back into this module
    result = start_recorded(guard, spec, partial(start.go, guard), where=start.where, undo=start.abort)
    return follow(start, result, guard, wait=wait, ready_timeout=ready_timeout, progress=progress, echo=echo,
                  secrets=secret_values({**os.environ, **job_env}))  # what the job is handed: masked


def place(plan: Plan, guard: Guard, runner: RemoteRunner, inventory: Any) -> Placed:
    """Stage 2: `--host auto` placed by the guard (the fixed fleet first, then placement.overflow), once."""
    spec = guard.place(plan.spec) if plan.spec.host == "auto" else plan.spec
    return Placed(plan, spec, for_host(inventory, runner, spec.host))


def check(spec: JobSpec, guard: Guard, start: Start, *, dry_run: bool) -> None:
    """Stage 4: every check (`preflight.run_preflight`, given what the guard holds and the opened start's
    host probe), the report kept by the guard; then the start gets ready (a serverless image pinned by the
    digest the checks saw). Whatever fails lets the start go and gives the output's claim back."""
    try:
        checks = guard.checks(spec)
        if checks is not None:
            guard.keep(spec, preflight.run_preflight(spec, probed=start.probed, **checks))
        if not dry_run:
            start.checked(guard.image_digest(spec.job_id))
    except BaseException:
        start.abort()
        guard.abandon(spec)  # nothing started: the claim goes back (no intent was written yet)
        raise


def follow(start: Start, result: LaunchResult, guard: Guard, *, wait: bool, ready_timeout: float,
           secrets: list[str], progress: Phase = silent, echo: Callable[[str], None] = print) -> LaunchResult:
    """Stage 6, the same for every target: say it started; a server: wait until it answers; `wait`: its log
    to the end (secrets masked), its end recorded, and JobFailed with its own exit code when it failed."""
    echo(start.confirm(result))
    job_id = start.job_id
    if start.serves:
        echo(until_ready(start, ready_timeout, secrets, progress))
        if not wait:
            return result
    elif not wait:
        echo(f"watch: inv jobs.logs {job_id} -f | inv jobs.progress {job_id} | inv jobs.wait {job_id}")
        return result
    code = start.log_to_end(result, secrets)
    record_end(guard, job_id, code)
    raise_if_failed(job_id, start.where, code)
    echo(f"{job_id} finished (exit 0)")
    return result


def until_ready(start: Start, timeout: float, secrets: list[str], progress: Phase = silent) -> str:
    """The one ready-wait: ask the start every `ready_poll_s` until it answers (the line saying where), it
    ended (JobFailed from the ask), or `timeout` passed (JobFailed)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            interrupts.again()
            answer = start.ask_ready(progress, secrets)
            if answer is not None:
                return answer
            if time.monotonic() >= deadline:
                raise start.not_ready(timeout)
            time.sleep(start.ready_poll_s)
    finally:
        progress("")
