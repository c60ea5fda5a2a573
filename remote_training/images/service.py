"""One call for the tasks: plan, build/push, record the pushed refs, report."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from ..errors import ImageError
from .builder import Event, Outcome, execute
from .catalog import Catalog
from .envfile import update_env_file
from .planner import BuildPlan, make_plan
from .source_key import FileHashCache, default_cache_path

PUSHED_OK = ("up to date", "pushed", "built+pushed", "retagged")


@dataclass
class BuildResult:
    plan: BuildPlan
    outcomes: list[Outcome]
    env: dict[str, str] = field(default_factory=dict)  # what was written to the env file

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def rows(self) -> list[tuple]:
        steps = self.plan.by_name()
        return [(o.name, steps[o.name].key_tag, steps[o.name].action, o.status,
                 f"{o.seconds:.1f}s" if o.seconds else "", o.detail) for o in self.outcomes]


def plan_images(catalog: Catalog, names: Iterable[str] | None, *, push: bool, force: bool | Iterable[str] = False,
                cache_path: Path | None = None, latest: bool | None = None) -> BuildPlan:
    """`latest`: push/tag `latest` too (None: only under CI, as upstream's Makefile)."""
    cache = FileHashCache(cache_path or default_cache_path())
    plan = make_plan(catalog, names, push=push, force=force, cache=cache, latest=latest)
    cache.save()
    return plan


def run_images(catalog: Catalog, names: Iterable[str] | None, *, push: bool, force: bool | Iterable[str] = False,
               parallel: int = 3, env_file: Path | None = None, cache_path: Path | None = None,
               latest: bool | None = None, on_event: Event | None = None, live: bool | None = None) -> BuildResult:
    """Build (and push) what the plan says; never raises for a failed image (see `raise_for`)."""
    plan = plan_images(catalog, names, push=push, force=force, cache_path=cache_path, latest=latest)
    outcomes = execute(plan, parallel=parallel, on_event=on_event, live=live)
    result = BuildResult(plan, outcomes)
    if push and env_file is not None:
        result.env = image_env(catalog, plan, outcomes)
        if result.env:
            update_env_file(env_file, result.env)
    return result


def image_env(catalog: Catalog, plan: BuildPlan, outcomes: list[Outcome]) -> dict[str, str]:
    """RT_IMAGE_<NAME>=<key ref> for every image now in the registry; IMAGE_TAG when all are.

    IMAGE_TAG is what upstream's `make push` writes: the branch of the image_tag_repo checkout;
    its short SHA when detached; `latest` when that was pushed; otherwise none (no common tag)."""
    steps = plan.by_name()
    env = {steps[o.name].spec.env_name: o.ref for o in outcomes if o.status in PUSHED_OK}
    if env and len(env) == len(outcomes):
        repo_dirs = [str(s.spec.repo_dir) for s in plan.steps if s.spec.repo == catalog.image_tag_repo]
        git = plan.git.get(repo_dirs[0]) if repo_dirs else None
        tag = (git.branch or git.sha) if git else ""
        if tag or plan.latest:
            env["IMAGE_TAG"] = tag or "latest"
    return env


def raise_for(result: BuildResult) -> None:
    failed = result.failed
    if failed:
        names = ", ".join(f"{o.name} ({o.status})" for o in failed)
        first = next((o.detail for o in failed if o.status == "failed"), failed[0].detail)
        raise ImageError(f"{len(failed)} image(s) not done: {names}; first error: {first}",
                         fix="fix the cause and rerun: finished images are not redone")
