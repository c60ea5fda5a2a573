"""The launch pipeline's first stage, plan (the others: launch/pipeline.py).

`plan_job`: the typed job against the checkout's catalog becomes a JobSpec (program, era, argv
rendered once, inputs, output, run folder, port, image) and the project to ship. Pure: bad input
fails here, every bad value at once, before any host or S3 is asked.

No Invoke here: the task layer (rt_tasks/_jobrun.py) reads configuration and calls these.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from .. import validate
from ..errors import InputError, PreflightError, RTError, unique
from ..fleet.inventory import Inventory
from ..fleet.serverless_target import resource_name
from .catalog import PROGRAMS, Checkout, ComposeService, Program, Readiness, serving
from .project import OVERRIDE, Project, collect, override_text
from .spec import JobSpec, new_job_id
from .upstream import Sources


@dataclass(frozen=True)
class Plan:
    spec: JobSpec
    service: ComposeService
    program: Program
    project: Project
    era_label: str
    source_root: Path | None = None  # the checkout's repository (its Python sources: jobs/upstream.py)
    ready: Readiness | None = None  # servers: how a fixed host asks whether it answers (catalog.SERVING)


# Set in every job's container. Upstream's compose services ask for a terminal (`tty: true`), and its programs
# report with print(); `compose run -d` from a launch over SSH gets no terminal (compose turns -T on by itself
# when its output is not one: docker/compose#10180), so Python would block-buffer those lines until exit and
# jobs.logs -f / jobs.progress would show nothing while a job runs. Unbuffered output is what upstream's own
# serverless jobs set too (shared/upstream/SERVERLESS.md: `PYTHONUNBUFFERED=1`);
# https://docs.python.org/3/using/cmdline.html#envvar-PYTHONUNBUFFERED
JOB_ENV = {"PYTHONUNBUFFERED": "1"}


def plan_job(job: Any, checkout: Checkout, inventory: Inventory, images: Mapping[str, str], *,
             host: str | None, port: int | str | None = None, force: bool = False, replace: bool = False,
             env: Mapping[str, str] | None = None) -> Plan:
    """Stage 1: the whole job, worked out once. `images`: compose service -> pushed image ref."""
    era = checkout.era
    svc, program = checkout.service(job.service) if job.role == "service" else checkout.role(job.role)
    container_port = (era.server_port.get(job.role) or (svc.ports[0][1] if svc.ports else None)
                      if program.kind == "serve" else None)
    given = {**job.options, "port": port} if port is not None else job.options
    apart = validate.output_apart(job.inputs, job.output)
    if port is not None and container_port is None:
        apart.append(InputError(f"--port {port!r}: {svc.name} runs {program.name}, which serves nothing",
                                "drop --port (it publishes a server's port)"))
    if getattr(job, "resume", False) and force:
        apart.append(InputError("--resume and --force both given",
                                "use --resume to continue the run, or --force to start over"))
    args = checked_argv(job, checkout, svc, given, apart)
    run_folder = job.run_folder(era)
    if run_folder:
        validate.s3_folder(run_folder)
    target = host or program.default_host
    if not target or (target == "auto" and program.name not in PROGRAMS):
        raise InputError(f"{svc.name} runs {program.name}, which the catalog does not size for placement",
                         "name the host with --host")
    cloud = inventory.serverless_target(target) if target != "auto" else None
    target = target if target == "auto" else cloud.name if cloud else inventory.get(target).name  # unknown: fails
    default_port = next((h for h, c in svc.ports if c == container_port), container_port)
    job_id = new_job_id(svc.name)
    if cloud is not None:
        job_id = resource_name(job_id)  # the Nebius name, so jobs.* find it by the same word
    spec = JobSpec(job_id=job_id, service=svc.name, kind=program.kind, host=target, args=tuple(args),
                   image=images.get(svc.name),
                   port=(default_port if port is None else validate.port(port)) if container_port else None,
                   gpu_mem_mb=program.gpu_mem_mb, inputs=job.inputs, output=job.output,
                   exp_name=getattr(job, "exp_name", None), resume=getattr(job, "resume", False), force=force,
                   replace=replace, env={**JOB_ENV, **(env or {})}, program=program.name, era=era.name,
                   run_folder=run_folder,
                   checkpoints=job.checkpoints, checkpoint=getattr(job, "checkpoint", None), layout=program.layout,
                   client=job.client(era) if program.kind == "serve" else None, container_port=container_port,
                   options=job.options)
    project = collect(checkout.compose_dir, {OVERRIDE: override_text(dict(images))})
    return Plan(spec, svc, program, project, era.label, checkout.compose_dir.parent,
                readiness(checkout, program, args) if program.kind == "serve" else None)


def readiness(checkout: Checkout, program: Program, args: Sequence[str]) -> Readiness:
    """The server's readiness ask for these arguments; whether it takes its TLS flag is read from the checkout's
    own code (a checkout without its sources: upstream's current default)."""
    sources = Sources.of(checkout.compose_dir)
    return serving(program.name).readiness(
        args, lambda parameter: sources.takes_parameter(program.name, parameter) if sources else True)


def checked_argv(job: Any, checkout: Checkout, svc: ComposeService, options: Mapping[str, Any] | None = None,
                 problems_so_far: Sequence[InputError] = ()) -> list[str]:
    """The job's argv for the checkout's era, rendered once, with every problem reported at once: the values'
    shapes (control characters in any argument included), what the era's program takes, and each name
    (command word, `@`/`.` config) against what the checkout's own Python defines (jobs/upstream.py). A
    checkout without its Python sources (only docker/) gets a warning and its names go unchecked until the
    job starts. `options`: the job's with any launch option (--port); `problems_so_far`: the caller's own
    findings, reported with these."""
    problems: list[RTError] = [*validate.check_options(job.options if options is None else options),
                               *problems_so_far]
    shapes = len(problems)
    sources = Sources.of(checkout.compose_dir)
    if sources is None:
        sys.stderr.write(f"warning: {checkout.compose_dir.resolve().parent} has no positronic/ sources beside "
                         "docker/: command and config names are not checked before launch\n")
    args: list[str] = []
    try:
        args = job.argv(checkout.era, sources)
    except InputError as exc:
        problems = unique([*problems, exc])
    # what the user passed through as given (jobs.run's own arguments) reaches a shell and the job's log
    control = [InputError(f"argument {arg!r} contains control characters", "remove newlines and tabs")
               for arg in args if any(ord(ch) < 32 or ord(ch) == 127 for ch in arg)]
    problems, shapes = [*problems, *control], shapes + len(control)
    if sources is not None and args:
        problems += sources.check_argv(svc.program, args, job.relative_bases(checkout.era), job.choices(checkout.era))
    if len(problems) == 1 and not shapes:
        raise problems[0]  # one wrong name: the bad-input error itself
    if problems:
        raise PreflightError([("arguments", p.message, p.fix or "correct the argument") for p in problems])
    return args
