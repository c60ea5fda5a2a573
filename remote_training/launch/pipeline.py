"""The launch pipeline, one for every target, as named stages that each own their step and its data:

1. plan (jobs/run.plan_job): the typed job -> `Plan` (JobSpec, compose service, project); every bad
   argument fails here, all at once, before any host or API is asked.
2. place (`place`): `--host auto` -> a real host or, with placement.overflow, a serverless target
   (guard.place, once) -> `Placed`; the host name is turned into its Target here, once (targets/fleet.py).
3. check, start, record (`Target.launch`): the guard's checks (preflight: host, GPU, port, inputs, output
   claim, image; a stopped VM that is the one thing in the way is started there), then the start itself
   between the ledger's intent and its record (jobs/record.py, the same for both targets).
4. follow: a server's readiness, and with --wait its log to the end and its exit code (the target's).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError
from ..fleet.remote import RemoteRunner
from ..jobs.run import Plan
from ..jobs.spec import Guard, JobSpec, LaunchResult, NoHooks
from ..progress import Phase, silent
from ..targets.base import Target
from ..targets.fleet import for_host


@dataclass(frozen=True)
class Placed:
    """A plan on the host or serverless target it will run on: `spec` is the plan's, placed (never "auto")."""
    plan: Plan
    spec: JobSpec
    target: Target


def place(plan: Plan, guard: Guard, runner: RemoteRunner, inventory: Any) -> Placed:
    """Stage 2: `--host auto` placed by the guard (the fixed fleet first, then placement.overflow), once."""
    spec = guard.place(plan.spec) if plan.spec.host == "auto" else plan.spec
    return Placed(plan, spec, for_host(inventory, runner, spec.host))


def launch(placed: Placed, guard: Guard, *, dry_run: bool, job_env: Mapping[str, str], images_file: Path,
           wait: bool, ready_timeout: float, create_timeout: float, progress: Phase = silent) -> LaunchResult:
    """Stages 3 and 4 on the placed target. With the checks off (NoHooks) a missing image is still refused
    here, before anything starts; with them on it is one row among all the checks'."""
    spec = placed.spec
    if not spec.image and not dry_run and isinstance(guard, NoHooks):
        raise InputError(f"no pushed image for {placed.plan.service.repository} in {images_file}: nothing to run "
                         f"{placed.plan.service.name} with", "build and push it first: inv images.push")
    return placed.target.launch(placed, guard, dry_run=dry_run, job_env=job_env, wait=wait,
                                ready_timeout=ready_timeout, create_timeout=create_timeout, progress=progress)
