"""images: build and push the fleet's images in dependency order, skipping what has not changed."""
from __future__ import annotations

from pathlib import Path

from invoke import Collection

from remote_training.output import print_json, print_table
from ._cli import CHECKOUT, PROJECT_ROOT, config_file, err, optional_positional, rt_task, setting, state_folder

# `inv images.push gr00t` names images, `inv images.push` means all of them.
for _name in ("images.plan", "images.build", "images.push"):
    optional_positional(_name, "names")

NAMES_HELP = "image names, comma separated (gr00t,openpi); their bases come along; default: all"
FORCE_HELP = "rebuild even when the key tag is already in the registry"
LATEST_HELP = "tag and push `latest` too (default: only when CI is set, as upstream's Makefile)"


def _path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def catalog(c, check_sources: bool = True):
    """The image catalog by the search order (rt_tasks/_cli.config_file), with images.root and images.registry."""
    from remote_training.images.catalog import load_catalog

    root = str(setting(c, "images.root") or "")
    return load_catalog(catalog_path(c),
                        root=_path(root) if root else None,
                        registry=str(setting(c, "images.registry") or "") or None, check_sources=check_sources,
                        # the repositories' folder: beside this checkout, else where rt runs (an installed wheel)
                        fallback_root=CHECKOUT.parent if CHECKOUT else Path.cwd())


def catalog_path(c) -> Path:
    """The image catalog's file, by the search order (rt_tasks/_cli.config_file)."""
    from remote_training.config_files import CATALOG

    return config_file(c, CATALOG, setting(c, "images.catalog")).path


def env_file(c) -> Path:
    """Where images.push records the refs it pushed: images.env_file, else .env beside the image catalog."""
    from remote_training.fleet.inventory import resolve_path

    configured = str(setting(c, "images.env_file") or "")
    return resolve_path(configured, PROJECT_ROOT) if configured else catalog_path(c).parent / ".env"


def cache_path(c) -> Path:
    """The file-digest cache: <state dir>/images/file-digests.json (rt_tasks/_cli.state_folder)."""
    from remote_training.images.source_key import CACHE_NAME

    return state_folder(c) / "images" / CACHE_NAME


def _latest(latest: bool) -> bool | None:
    return True if latest else None  # None: the planner asks CI


def _names(names: str | None) -> list[str]:
    return [n for n in (names or "").replace(",", " ").split() if n]


def _notes(plan) -> None:
    for note in plan.notes:
        err(f"note: {note}")


def _show_plan(plan, json: bool, dry_run: bool) -> None:
    _notes(plan)
    if json:
        print_json([s.to_dict() | ({"commands": s.commands(plan.push)} if dry_run else {}) for s in plan.steps])
        return
    print_table(["image", "repository", "key tag", "action", "why"],
                [(s.name, s.repo_ref, s.key_tag, s.action, s.reason) for s in plan.steps],
                title="image plan" + (" (push)" if plan.push else " (build)"))
    if dry_run:
        for step in plan.steps:
            for line in step.commands(plan.push):
                print(line)


def _plan(c, names: str | None, push: bool, force: bool, latest: bool):
    from remote_training.images.service import plan_images

    return plan_images(catalog(c), _names(names), push=push, force=force, cache_path=cache_path(c),
                       latest=_latest(latest))


def _run(c, names: str | None, push: bool, force: bool, dry_run: bool, json: bool, parallel: int,
         latest: bool) -> None:
    from remote_training.images.service import raise_for, run_images

    if dry_run:
        _show_plan(_plan(c, names, push, force, latest), json, dry_run=True)
        return
    result = run_images(catalog(c), _names(names), push=push, force=force, cache_path=cache_path(c),
                        latest=_latest(latest), parallel=int(parallel or setting(c, "images.parallel")),
                        env_file=env_file(c) if push else None)
    _notes(result.plan)
    for outcome in result.outcomes:
        if outcome.log:
            err(f"--- {outcome.name}: last lines of the build ---\n" + "\n".join(outcome.log))
    if json:
        print_json([{"image": o.name, "status": o.status, "ref": o.ref, "seconds": round(o.seconds, 2),
                     "detail": o.detail} for o in result.outcomes])
    else:
        print_table(["image", "key tag", "plan", "result", "time", "detail"], result.rows(),
                    title="images " + ("push" if push else "build"))
    raise_for(result)


@rt_task(positional=["names"], help={"names": NAMES_HELP, "json": "print JSON instead of a table",
                                     "force": "plan as if every named image had to be rebuilt",
                                     "push": "plan for a push (the default); --no-push plans a build",
                                     "latest": LATEST_HELP})
def plan(c, names=None, json=False, force=False, push=True, latest=False):
    """Show, per image, build, push or skip and why."""
    _show_plan(_plan(c, names, push, force, latest), json, dry_run=False)


@rt_task(positional=["names"], help={"names": NAMES_HELP, "force": FORCE_HELP, "latest": LATEST_HELP,
                                     "dry_run": "print the plan and the exact docker commands; build nothing",
                                     "json": "print the result as JSON", "parallel": "chains built at once"})
def build(c, names=None, force=False, dry_run=False, json=False, parallel=0, latest=False):
    """Build the named images (and stale bases) locally with BuildKit, without pushing."""
    _run(c, names, False, force, dry_run, json, parallel, latest)


@rt_task(positional=["names"], help={"names": NAMES_HELP, "force": FORCE_HELP, "latest": LATEST_HELP,
                                     "dry_run": "print the plan and the exact docker commands; push nothing",
                                     "json": "print the result as JSON", "parallel": "chains built at once"})
def push(c, names=None, force=False, dry_run=False, json=False, parallel=0, latest=False):
    """Build what changed with BuildKit and push it, bases first; record the refs in images.env_file.

    Tags: the branch and short SHA of each repository's git checkout, `latest` under CI or --latest,
    and the content key tag src-<12 hex> that lets unchanged images be skipped."""
    _run(c, names, True, force, dry_run, json, parallel, latest)


ns = Collection("images")
ns.add_task(plan, default=True)
ns.add_task(build)
ns.add_task(push)
# catalog, env_file: empty means found by the search order (README "Configuration"), .env beside the catalog
ns.configure({"images": {"catalog": "", "root": "", "registry": "", "env_file": "",
                         "parallel": 3}})
