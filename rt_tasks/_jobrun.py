"""What every job-launching task shares: the configuration a launch reads (checkout, pushed images,
checks on or off, secrets), handed to the core's launch pipeline (remote_training/launch/pipeline.py) in one call.

Kept out of the domain modules so dataset/train/serve/infer stay a list of flags and one call each.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

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

    return LaunchGuard(run, inventory, ledger=ledger_from_config(c), overflow=overflow_target(c, inventory))


def overflow_target(c: Any, inventory: Any) -> Any:
    """The serverless target placement.overflow names (remote_training/targets/fleet.py), or None when off."""
    from remote_training.targets.fleet import overflow_target as named

    value = setting(c, "placement.overflow")
    return named(inventory, str(value).strip()) if truthy(value) else None


def start(c: Any, build: Callable[[Any], Any], *, host: str | None, dry_run: bool, wait: bool,
          force: bool = False, replace: bool = False, port: int | None = None,
          env: dict[str, str] | None = None) -> Any:
    """Launch one typed job through the checkout's compose file, by the core's launch pipeline
    (remote_training/launch/pipeline.py) on whichever target it is placed on; returns the LaunchResult (after
    the job ends when `wait`).

    `build` makes the job from remote_training.jobs.services (`lambda jobs: jobs.GrootTrain(...)`) once SSH is
    dialling: that module's import (its typed jobs' dataclasses) is CPU the dial would otherwise wait behind,
    and a job's values are checked by plan_job, after the dial began, either way."""
    inventory = load_inventory(c)
    run = runner(c, dry_run=dry_run, inventory=inventory)
    named = next((h for h in inventory.hosts if host in h.names), None) if host and not dry_run else None
    if named:  # SSH connects while the launch's code, the checkout and the plan are read (an unknown name fails
        run.prewarm(named)  # in plan_job); first, so that its handshake's waits overlap their CPU
    from remote_training.jobs import services
    from remote_training.jobs.catalog import load_checkout
    from remote_training.jobs.run import plan_job
    from remote_training.launch import pipeline
    from remote_training.progress import Progress

    try:
        job = build(services)
        cat = jobs_catalog(c)  # read once: the checkout's default folder and the pushed images both come from it
        folder = compose_folder(c, inventory, cat)
        checkout = load_checkout(folder)
        env_path, images = service_images(c, checkout, cat)
        plan = plan_job(job, checkout, inventory, images, host=host, port=port, force=force, replace=replace,
                        env=env)
        guard = make_hooks(c, run, inventory)
    except BaseException:
        run.close()  # the background connect ends before the refusal does
        raise
    try:
        with Progress(plan.spec.job_id) as progress:
            return pipeline.run(plan, guard, run, inventory, auto_start=truthy(setting(c, "vm.auto_start")),
                                dry_run=dry_run, job_env=job_env(inventory, folder), images_file=env_path, wait=wait,
                                ready_timeout=float(setting(c, "jobs.ready_timeout")),
                                create_timeout=float(setting(c, "jobs.create_timeout")), progress=progress)
    finally:
        guard.close()
        run.close()
