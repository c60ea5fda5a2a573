"""The launch path, as explicit stages: plan, place, check and launch, report, follow.

1. `plan_job`: the typed job against the checkout's catalog becomes a JobSpec (program, era, argv
   rendered once, inputs, output, run folder, port, image) and the project to ship. Pure: bad input
   fails here, every bad value at once, before any host or S3 is asked.
2. `run_plan` (a fixed host's part of launch/pipeline.py, after placement): `launch`: the host probe
   runs inside the launch command, held at a gate while every check runs (`guard.before_launch`: host,
   GPU, port, inputs, output claim, image); the job starts only after all pass, between the ledger's
   intent and its record (launch/record.py); `guard.abandon` takes the claim back when the start failed.
3. Servers: return once the port answers. `wait`: stream the log to the end, record the exit code.

No Invoke here: the task layer (rt_tasks/_jobrun.py) reads configuration and calls launch/pipeline.py.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .. import validate
from ..errors import InputError, JobFailed, PreflightError
from ..inventory import Inventory
from ..ledger import secret_values
from ..progress import Phase, silent
from ..remote import RemoteRunner
from .catalog import PROGRAMS, Checkout, ComposeService, Program
from .project import OVERRIDE, Project, collect, override_text
from .spec import Guard, JobSpec, LaunchResult, new_job_id
from .upstream import Sources


@dataclass(frozen=True)
class Plan:
    spec: JobSpec
    service: ComposeService
    program: Program
    project: Project
    era_label: str
    source_root: Path | None = None  # the checkout's repository (its Python sources: jobs/upstream.py)


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
        from ..serverless.spec import resource_name

        job_id = resource_name(job_id)  # the Nebius name, so jobs.* find it by the same word
    spec = JobSpec(job_id=job_id, service=svc.name, kind=program.kind, host=target, args=tuple(args),
                   image=images.get(svc.name),
                   port=(default_port if port is None else validate.port(port)) if container_port else None,
                   gpu_mem_mb=program.gpu_mem_mb, inputs=job.inputs, output=job.output,
                   exp_name=getattr(job, "exp_name", None), resume=getattr(job, "resume", False), force=force,
                   replace=replace, env=dict(env or {}), program=program.name, era=era.name, run_folder=run_folder,
                   checkpoints=job.checkpoints, checkpoint=getattr(job, "checkpoint", None), layout=program.layout,
                   client=job.client(era) if program.kind == "serve" else None, container_port=container_port,
                   options=job.options)
    project = collect(checkout.compose_dir, {OVERRIDE: override_text(dict(images))})
    return Plan(spec, svc, program, project, era.label, checkout.compose_dir.parent)


def checked_argv(job: Any, checkout: Checkout, svc: ComposeService, options: Mapping[str, Any] | None = None,
                 problems_so_far: Sequence[InputError] = ()) -> list[str]:
    """The job's argv for the checkout's era, rendered once, with every problem reported at once: the values'
    shapes, what the era's program takes, and each name (command word, `@`/`.` config) against what the
    checkout's own Python defines (jobs/upstream.py). A checkout without its Python sources (only docker/)
    gets a warning and its names go unchecked until the job starts. `options`: the job's with any launch
    option (--port); `problems_so_far`: the caller's own findings, reported with these."""
    problems = validate.check_options(job.options if options is None else options) + list(problems_so_far)
    shapes = len(problems)
    sources = Sources.of(checkout.compose_dir)
    if sources is None:
        sys.stderr.write(f"warning: {checkout.compose_dir.resolve().parent} has no positronic/ sources beside "
                         "docker/: command and config names are not checked before launch\n")
    args: list[str] = []
    try:
        args = job.argv(checkout.era, sources)
    except InputError as exc:
        problems += [] if any(str(exc) == str(p) for p in problems) else [exc]
    if sources is not None and args:
        problems += sources.check_argv(svc.program, args, job.relative_bases(checkout.era), job.choices(checkout.era))
    if len(problems) == 1 and not shapes:
        raise problems[0]  # one wrong name: the bad-input error itself
    if problems:
        raise PreflightError([("arguments", p.message, p.fix or "correct the argument") for p in problems])
    return args


def run_plan(placed: Any, runner: RemoteRunner, guard: Guard, *, job_env: Mapping[str, str], wait: bool,
             ready_timeout: float, echo: Callable[[str], None] = print, progress: Phase = silent) -> LaunchResult:
    """On a fixed host: check and launch, report; then wait for a server's port or the job's end.
    `placed`: launch/pipeline.Placed (its spec's host is a real host)."""
    from .launch import launch

    plan, spec = placed.plan, placed.spec
    secrets = secret_values({**os.environ, **job_env})  # what the job is handed: masked in what it prints
    target = runner.inventory.get(spec.host)
    if runner.dry_run:
        echo(f"# {spec.job_id}: {plan.service.name} ({plan.era_label}) on {target.name} ({target.ssh}), "
             f"image {spec.image or '(none pushed yet)'}")
    result = launch(runner, spec, plan.project, job_env=job_env, hooks=guard)
    if runner.dry_run:
        return result
    shipped = "project sent" if result.shipped else "project unchanged"
    echo(f"started {spec.job_id} on {target.name} ({shipped}, {result.seconds:.1f}s)")
    if plan.program.kind != "serve" and not wait:
        echo(f"watch: inv jobs.logs {spec.job_id} -f | inv jobs.progress {spec.job_id} | inv jobs.wait {spec.job_id}")
        return result
    from . import monitor

    found = monitor.find_job(runner, [runner.inventory.get(spec.host)], spec.job_id)
    if plan.program.kind == "serve":
        address = runner.connection(runner.inventory.get(spec.host)).host
        try:
            wait_port(runner, found, address, spec.port, ready_timeout, secrets, progress)
        finally:
            progress("")
        echo(f"{plan.service.name} answers on {address}:{spec.port} (job {spec.job_id}; "
             f"stop: inv serve.stop {spec.job_id})")
        if not wait:
            return result
    follow(runner, found, guard, echo=echo, secrets=secrets)
    return result


def follow(runner: RemoteRunner, job: Any, guard: Guard | None = None, echo: Callable[[str], None] = print,
           secrets: list[str] | None = None) -> int:
    """Stream the log (secrets masked) until the job ends, record the end, then raise JobFailed on a non-zero exit."""
    from ..targets.base import raise_if_failed
    from . import monitor

    monitor.logs(runner, job, follow=True, stream=sys.stdout, secrets=secrets)
    code = monitor.wait(runner, job)
    record_end(guard, job.job_id, code)
    raise_if_failed(job.job_id, job.host, code)
    echo(f"{job.job_id} finished (exit 0)")
    return code


def record_end(guard: Guard | None, job_id: str, code: int, ended: str | None = None) -> None:
    """Tell the ledger how a job ended (NoHooks records nothing); `ended`: when, if it ended before it
    was seen (else now)."""
    if guard is None:
        return
    try:
        guard.finish(job_id, code, ended=ended)
    except Exception as exc:  # noqa: BLE001 - the exit code is the answer; a ledger problem is only a warning
        sys.stderr.write(f"warning: the end of {job_id} was not recorded: {exc}\n")


def answers(address: str, port: int) -> bool:
    """The server itself answers: an HTTP reply, or an open, silent socket (a ZeroMQ server).

    A bare TCP connect is not enough: a userland port proxy accepts before the server listens,
    then closes without a byte.
    """
    try:
        with socket.create_connection((address, port), timeout=2) as conn:
            conn.sendall(b"GET /api/v1/models HTTP/1.0\r\nHost: rt\r\n\r\n")
            conn.settimeout(2)
            try:
                return bool(conn.recv(1))
            except socket.timeout:
                return True
    except OSError:
        return False


def wait_port(runner: RemoteRunner, job: Any, address: str, port: int, timeout: float,
              secrets: list[str] | None = None, progress: Phase = silent) -> None:
    """Return once the server's port answers; fail fast if the job died."""
    from . import monitor

    deadline = time.monotonic() + timeout
    checks = 0
    progress(f"waiting for {job.service} to answer on {address}:{port}")
    while time.monotonic() < deadline:
        if answers(address, port):
            return
        checks += 1
        if checks % 4 == 0:  # every ~2 s: did the server exit?
            current = monitor.host_jobs(runner, runner.inventory.get(job.host))
            mine = next((j for j in current if j.job_id == job.job_id), None)
            if mine is None or not mine.running:
                code = mine.exit_code if mine else -1
                tail = monitor.logs(runner, job, tail=5, secrets=secrets) if mine else ""
                raise JobFailed(f"{job.service} {job.job_id} on {job.host} exited {code} before its port "
                                f"{port} answered: {tail.strip().splitlines()[-1:] or ''}",
                                f"inv jobs.logs {job.job_id}", exit_code=code or 1)
        time.sleep(0.5)
    raise JobFailed(f"{job.service} {job.job_id} did not answer on {address}:{port} within {timeout:g}s",
                    f"inv jobs.logs {job.job_id}; stop it with inv serve.stop {job.job_id}")
