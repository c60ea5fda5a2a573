"""What every job-launching task shares: build the JobSpec, ship, start, and optionally wait.

Kept out of the domain modules so dataset/train/serve/infer stay a list of
flags and one call each.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from remote_training.errors import InputError, JobFailed

from ._cli import PROJECT_ROOT, err, load_inventory, runner, setting

SECRET_NAMES = ("WANDB_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Flag help shared by the launching tasks.
HOST_HELP = "host name or alias to run on, or auto (placement picks one); default: the service's usual host"
WAIT_HELP = "stay attached: stream the job's log and exit with its exit code"
DRY_HELP = "print the host and the exact remote commands; start nothing"
JOBS_DEFAULTS = {"compose_project": "", "ready_timeout": 600, "preflight": True, "ledger": ""}


def image_env(c: Any) -> tuple[Path, dict[str, str]]:
    """The RT_IMAGE_* refs images.push last wrote (config images.env_file)."""
    from remote_training.images.envfile import read_image_env
    from remote_training.inventory import resolve_path

    path = resolve_path(str(setting(c, "images.env_file")), PROJECT_ROOT)
    return path, {k: v for k, v in read_image_env(path).items() if k.startswith("RT_IMAGE_")}


def compose_folder(c: Any, inventory: Any) -> Path:
    """The team's positronic checkout's docker/ folder: jobs.compose_project, else hosts.yaml's
    compose_project, else the positronic repository the image catalog names, plus docker/."""
    from remote_training.inventory import resolve_path

    configured = str(setting(c, "jobs.compose_project") or "")
    if configured:
        return resolve_path(configured, PROJECT_ROOT)
    if inventory.compose_project:
        return inventory.compose_project
    from .images import catalog

    cat = catalog(c, check_sources=False)
    repo = next((s.repo_dir for s in cat.images.values() if s.repo == (cat.image_tag_repo or "positronic")), None)
    if repo is None:
        raise InputError(f"the image catalog {cat.path} names no positronic repository",
                         "set jobs.compose_project (INVOKE_JOBS_COMPOSE_PROJECT) to positronic's docker/ folder")
    return repo / "docker"


def service_images(c: Any, checkout: Any) -> tuple[Path, dict[str, str]]:
    """(env file, compose service -> pushed ref) for every service whose image the catalog builds."""
    from .images import catalog

    env_path, refs = image_env(c)
    cat = catalog(c, check_sources=False)
    out = {}
    for svc in checkout.services.values():
        spec = next((s for s in cat.images.values() if s.repository == svc.repository), None)
        if spec is not None and refs.get(spec.env_name):
            out[svc.name] = refs[spec.env_name]
    return env_path, out


def job_env(inventory: Any, folder: Path) -> dict[str, str]:
    """Values the container gets on the launch command's stdin: S3 endpoint and the caller's secrets."""
    env: dict[str, str] = {}
    endpoint = inventory.s3_endpoint or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        env["AWS_ENDPOINT_URL"] = str(endpoint)
    from remote_training.images.envfile import read_image_env

    wandb_file = folder / ".env.wandb"
    if "WANDB_API_KEY" not in os.environ and wandb_file.exists():
        env.update({k: v for k, v in read_image_env(wandb_file).items() if k == "WANDB_API_KEY"})
    env.update({k: os.environ[k] for k in SECRET_NAMES if os.environ.get(k)})
    return env


def make_hooks(c: Any, run: Any, inventory: Any, *, s3_worker: bool = False) -> Any:
    """Preflight before launch, the ledger after (remote_training.guard); INVOKE_JOBS_PREFLIGHT=0 turns both off.

    s3_worker: the job reads or writes S3, so start the S3 checks' worker process now.
    """
    from remote_training.jobs.spec import NoHooks

    if not _truthy(setting(c, "jobs.preflight")):
        return NoHooks()
    from remote_training.guard import LaunchGuard

    from ._history import ledger_from_config

    return LaunchGuard(run, inventory, ledger=ledger_from_config(c), s3_worker=s3_worker,
                       auto_start=_truthy(setting(c, "vm.auto_start")))


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() not in ("0", "false", "no", "off", "")


def start(c: Any, job: Any, *, host: str | None, dry_run: bool, wait: bool, force: bool = False,
          replace: bool = False, port: int | None = None, env: dict[str, str] | None = None) -> Any:
    """Launch one typed job (remote_training.jobs.services) through the checkout's compose file;
    returns the LaunchResult (after the job ends when `wait`)."""
    from remote_training import validate
    from remote_training.errors import PreflightError
    from remote_training.jobs import monitor
    from remote_training.jobs.catalog import PROGRAMS, load_checkout
    from remote_training.jobs.launch import launch
    from remote_training.jobs.project import OVERRIDE, collect, override_text
    from remote_training.jobs.spec import JobSpec, new_job_id

    inventory = load_inventory(c)
    folder = compose_folder(c, inventory)
    checkout = load_checkout(folder)
    era = checkout.era
    svc, program = checkout.service(job.service) if job.role == "service" else checkout.role(job.role)
    problems = validate.check_options(job.options)  # every bad value at once, before rendering any
    if problems:
        raise PreflightError([("arguments", p.message, p.fix or "correct the argument") for p in problems])
    args = job.argv(era)
    run_folder = job.run_folder(era)
    if run_folder:
        validate.s3_folder(run_folder)
    host = host or program.default_host
    if not host or (host == "auto" and program.name not in PROGRAMS):
        raise InputError(f"{svc.name} runs {program.name}, which the catalog does not size for placement",
                         "name the host with --host")
    host = host if host == "auto" else inventory.get(host).name  # an unknown name fails here, before anything
    container_port = (era.server_port.get(job.role) or (svc.ports[0][1] if svc.ports else None)
                      if program.kind == "serve" else None)
    run = runner(c, dry_run=dry_run, inventory=inventory)
    hooks = make_hooks(c, run, inventory, s3_worker=bool(job.inputs or job.output))  # its worker warms up meanwhile
    if host != "auto" and not dry_run:
        run.prewarm(inventory.get(host))  # after the worker's fork: SSH connects while the launch is planned
    try:
        env_path, images = service_images(c, checkout)
        image = images.get(svc.name)
        if not image and not dry_run and not hasattr(hooks, "place"):  # with preflight on, one row among all
            raise InputError(f"no pushed image for {svc.repository} in {env_path}: nothing to run {svc.name} with",
                             "build and push it first: inv images.push")
        project = collect(folder, {OVERRIDE: override_text(images)})
        default_port = next((h for h, c in svc.ports if c == container_port), container_port)
        spec = JobSpec(job_id=new_job_id(svc.name), service=svc.name, kind=program.kind, host=host, args=tuple(args),
                       image=image, port=(port or default_port) if container_port else None,
                       gpu_mem_mb=program.gpu_mem_mb, inputs=job.inputs, output=job.output, exp_name=getattr(job, "exp_name", None),
                       resume=getattr(job, "resume", False), force=force, replace=replace, env=env or {}, program=program.name,
                       era=era.name, run_folder=run_folder, checkpoints=job.checkpoints,
                       checkpoint=getattr(job, "checkpoint", None), layout=program.layout,
                       client=job.client(era) if program.kind == "serve" else None, container_port=container_port,
                       options=job.options)
        if spec.host == "auto":
            if not hasattr(hooks, "place"):
                raise InputError("--host auto needs placement, which is off (jobs.preflight=0)", "name a host")
            spec = hooks.place(spec)
        target = inventory.get(spec.host)
        if dry_run:
            print(f"# {spec.job_id}: {svc.name} ({era.label}) on {target.name} ({target.ssh}), "
                  f"image {image or '(none pushed yet)'}")
        result = launch(run, spec, project, job_env=job_env(inventory, folder), hooks=hooks)
        if dry_run:
            return result
        shipped = "project sent" if result.shipped else "project unchanged"
        print(f"started {spec.job_id} on {target.name} ({shipped}, {result.seconds:.1f}s)")
        if program.kind != "serve" and not wait:
            print(f"watch: inv jobs.logs {spec.job_id} -f | inv jobs.progress {spec.job_id} | inv jobs.wait {spec.job_id}")
            return result
        found = monitor.find_job(run, [target], spec.job_id)
        if program.kind == "serve":
            address = run.connection(target).host
            wait_port(run, found, address, spec.port, float(setting(c, "jobs.ready_timeout")))
            print(f"{svc.name} answers on {address}:{spec.port} (job {spec.job_id}; stop: inv serve.stop {spec.job_id})")
            if wait:
                follow(run, found, hooks)
        else:
            follow(run, found, hooks)
        return result
    finally:
        if hasattr(hooks, "close"):
            hooks.close()
        run.close()


def follow(run: Any, job: Any, hooks: Any = None) -> int:
    """Stream the log until the job ends, record the end, then raise JobFailed on a non-zero exit."""
    from remote_training.jobs import monitor

    monitor.logs(run, job, follow=True, stream=sys.stdout)
    code = monitor.wait(run, job)
    record_end(hooks, job.job_id, code)
    monitor.raise_if_failed(job, code)
    print(f"{job.job_id} finished (exit 0)")
    return code


def record_end(hooks: Any, job_id: str, code: int) -> None:
    """Tell the ledger how a job ended (hooks without `finish` record nothing)."""
    if hasattr(hooks, "finish"):
        try:
            hooks.finish(job_id, code)
        except Exception as exc:  # the exit code is the answer; a ledger problem is only a warning
            err(f"warning: the end of {job_id} was not recorded: {exc}")


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


def wait_port(run: Any, job: Any, address: str, port: int, timeout: float) -> None:
    """Return once the server's port accepts a connection; fail fast if the job died."""
    from remote_training.jobs import monitor

    deadline = time.monotonic() + timeout
    checks = 0
    while time.monotonic() < deadline:
        if answers(address, port):
            return
        checks += 1
        if checks % 4 == 0:  # every ~2 s: did the server exit?
            current = monitor.host_jobs(run, run.inventory.get(job.host))
            mine = next((j for j in current if j.job_id == job.job_id), None)
            if mine is None or not mine.running:
                code = mine.exit_code if mine else -1
                tail = monitor.logs(run, job, tail=5) if mine else ""
                error = JobFailed(f"{job.service} {job.job_id} on {job.host} exited {code} before its port "
                                  f"{port} answered: {tail.strip().splitlines()[-1:] or ''}",
                                  f"inv jobs.logs {job.job_id}")
                error.job_exit = code or 1
                raise error
        time.sleep(0.5)
    raise JobFailed(f"{job.service} {job.job_id} did not answer on {address}:{port} within {timeout:g}s",
                    f"inv jobs.logs {job.job_id}; stop it with inv serve.stop {job.job_id}")
