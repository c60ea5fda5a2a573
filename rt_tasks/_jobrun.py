"""What every job-launching task shares: the configuration a launch reads (checkout, pushed images,
checks on or off, secrets), handed to the core's launch path (remote_training/jobs/run.py).

Kept out of the domain modules so dataset/train/serve/infer stay a list of flags and one call each.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from remote_training.errors import InputError
from remote_training.validate import truthy
from ._cli import PROJECT_ROOT, load_inventory, runner, setting

SECRET_NAMES = ("WANDB_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
# Flag help shared by the launching tasks.
HOST_HELP = ("host name or alias to run on, a Nebius Serverless target (e.g. cloud), or auto (placement picks one; "
             "placement.overflow lets it use serverless); default: the service's usual host")
WAIT_HELP = "stay attached: stream the job's log and exit with its exit code"
DRY_HELP = "print the host and the exact remote commands; start nothing"
JOBS_DEFAULTS = {"compose_project": "", "ready_timeout": 600, "create_timeout": 120, "preflight": True, "ledger": ""}
# --host auto: the fixed fleet first; with overflow on (a serverless target's name, or true for the only
# one) a job no fixed host can take goes to Nebius Serverless. Off by default: it spends money per run.
PLACEMENT_DEFAULTS = {"overflow": False}


def image_env(c: Any) -> tuple[Path, dict[str, str]]:
    """The RT_IMAGE_* refs images.push last wrote (config images.env_file)."""
    from remote_training.images.envfile import read_image_env
    from .images import env_file

    path = env_file(c)
    return path, {k: v for k, v in read_image_env(path).items() if k.startswith("RT_IMAGE_")}


def jobs_catalog(c: Any) -> Any:
    """The image catalog as jobs read it: repositories and env names, no image sources needed here."""
    from .images import catalog

    return catalog(c, check_sources=False)


def compose_folder(c: Any, inventory: Any, cat: Any = None) -> Path:
    """The team's positronic checkout's docker/ folder: jobs.compose_project, else hosts.yaml's
    compose_project, else the positronic repository the image catalog (`cat`, read when not given)
    names, plus docker/."""
    from remote_training.fleet.inventory import resolve_path

    configured = str(setting(c, "jobs.compose_project") or "")
    if configured:
        return resolve_path(configured, PROJECT_ROOT)
    if inventory.compose_project:
        return inventory.compose_project
    cat = cat or jobs_catalog(c)
    repo = next((s.repo_dir for s in cat.images.values() if s.repo == (cat.image_tag_repo or "positronic")), None)
    if repo is None:
        raise InputError(f"the image catalog {cat.path} names no positronic repository",
                         "set jobs.compose_project (INVOKE_JOBS_COMPOSE_PROJECT) to positronic's docker/ folder")
    return repo / "docker"


def service_images(c: Any, checkout: Any, cat: Any) -> tuple[Path, dict[str, str]]:
    """(env file, compose service -> pushed ref) for every service whose image the catalog `cat` builds."""
    env_path, refs = image_env(c)
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


def handed_secrets(c: Any, inventory: Any) -> list[str]:
    """The secret values a launch from here hands its jobs (`job_env`): masked in everything a job prints."""
    from remote_training.records.ledger import secret_values

    try:
        handed = job_env(inventory, compose_folder(c, inventory))
    except InputError:  # no checkout configured: this environment's secrets still are what a job gets
        handed = {}
    return secret_values({**os.environ, **handed})


def make_hooks(c: Any, run: Any, inventory: Any) -> Any:
    """Preflight before launch, the ledger after (remote_training.guard); INVOKE_JOBS_PREFLIGHT=0 turns both off."""
    if not truthy(setting(c, "jobs.preflight")):
        from remote_training.jobs.spec import NoHooks

        return NoHooks()
    from remote_training.guard import LaunchGuard
    from ._history import ledger_from_config

    return LaunchGuard(run, inventory, ledger=ledger_from_config(c),
                       auto_start=truthy(setting(c, "vm.auto_start")), overflow=overflow_target(c, inventory))


def overflow_target(c: Any, inventory: Any) -> Any:
    """The serverless target placement.overflow names (true: the inventory's only one), or None."""
    value = setting(c, "placement.overflow")
    if not truthy(value):
        return None
    if str(value).strip().lower() in ("1", "true", "yes", "on"):
        if len(inventory.serverless) != 1:
            raise InputError(f"placement.overflow is on, and the inventory has {len(inventory.serverless)} serverless "
                             "targets", "set placement.overflow to the target's name (INVOKE_PLACEMENT_OVERFLOW=cloud)")
        return inventory.serverless[0]
    target = inventory.serverless_target(str(value).strip())
    if target is None:
        raise InputError(f"placement.overflow names {value!r}, which is no serverless target of {inventory.path}",
                         "name a host whose provider is nebius-serverless, or set it to false")
    return target


def start(c: Any, job: Any, *, host: str | None, dry_run: bool, wait: bool, force: bool = False,
          replace: bool = False, port: int | None = None, env: dict[str, str] | None = None) -> Any:
    """Launch one typed job (remote_training.jobs.services) through the checkout's compose file, by the
    core's launch path (remote_training/jobs/run.py); returns the LaunchResult (after the job ends when `wait`)."""
    from remote_training.jobs.catalog import load_checkout
    from remote_training.jobs.run import plan_job, run_plan
    from remote_training.jobs.spec import NoHooks
    from remote_training.progress import Progress

    inventory = load_inventory(c)
    run = runner(c, dry_run=dry_run, inventory=inventory)
    named = next((h for h in inventory.hosts if host in h.names), None) if host and not dry_run else None
    if named:  # SSH connects while the checkout and the plan are read (an unknown name fails in plan_job)
        run.prewarm(named)
    try:
        cat = jobs_catalog(c)  # read once: the checkout's default folder and the pushed images both come from it
        folder = compose_folder(c, inventory, cat)
        checkout = load_checkout(folder)
        env_path, images = service_images(c, checkout, cat)
        plan = plan_job(job, checkout, inventory, images, host=host, port=port, force=force, replace=replace,
                        env=env)
    except BaseException:
        run.close()  # the background connect ends before the refusal does
        raise
    cloud = inventory.serverless_target(plan.spec.host)
    if cloud is not None:
        return _start_serverless(c, plan, cloud, inventory, run, dry_run=dry_run, wait=wait)
    guard = make_hooks(c, run, inventory)
    if plan.spec.host == "auto" and getattr(guard, "overflow", None) is not None:
        from dataclasses import replace

        plan = replace(plan, spec=guard.place(plan.spec))  # placed now: it may be the serverless target
        cloud = inventory.serverless_target(plan.spec.host)
        if cloud is not None:  # the same guard checks it there
            return _start_serverless(c, plan, cloud, inventory, run, dry_run=dry_run, wait=wait, guard=guard)
    if plan.spec.host != "auto" and not dry_run and not named:
        run.prewarm(inventory.get(plan.spec.host))  # the service's usual host: SSH connects while we go on
    try:
        if not plan.spec.image and not dry_run and isinstance(guard, NoHooks):  # with checks on: one row among all
            raise InputError(f"no pushed image for {plan.service.repository} in {env_path}: nothing to run "
                             f"{plan.service.name} with", "build and push it first: inv images.push")
        with Progress(plan.spec.job_id) as progress:
            return run_plan(plan, run, guard, job_env=job_env(inventory, folder), wait=wait,
                            ready_timeout=float(setting(c, "jobs.ready_timeout")), progress=progress)
    finally:
        guard.close()
        run.close()


def _start_serverless(c: Any, plan: Any, cloud: Any, inventory: Any, run: Any, *, dry_run: bool, wait: bool,
                      guard: Any = None) -> Any:
    """The same plan on a Nebius Serverless target: checks, one create call, the ledger; no SSH.
    `guard`: the one placement already made (--host auto overflowing); closed here like a new one."""
    from remote_training.progress import Progress
    from remote_training.serverless.launch import run as launch_serverless

    if guard is None:
        guard = make_hooks(c, run, inventory)
    try:
        with Progress(plan.spec.job_id) as progress:
            return launch_serverless(plan, cloud, inventory, guard, dry_run=dry_run, wait=wait,
                                     ready_timeout=float(setting(c, "jobs.ready_timeout")),
                                     create_timeout=float(setting(c, "jobs.create_timeout")), progress=progress)
    finally:
        guard.close()
        run.close()
