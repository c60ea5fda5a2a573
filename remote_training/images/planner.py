"""The plan: per image, its source key and whether to build, push or skip it, and why.

Planning reads files and asks the registry; it never builds. The docker engine
is consulted only when an image's key tag is missing from the registry (was it
built here already and only the push is left?), so a no-op run needs no engine.
"""
from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ..errors import ImageError
from .catalog import Catalog, ImageSpec, full_ref
from .registry import manifest_digest
from .source_key import FileHashCache, key_tag, source_key

BUILD, PUSH, TAG, SKIP = "build", "push", "tag", "skip"  # TAG: only moving tags lag behind


@dataclass
class Step:
    spec: ImageSpec
    key: str
    repo_ref: str  # registry-prefixed repository, no tag
    moving_tags: list[str]
    build_args: dict[str, str]  # what the build receives, the base's exact key ref included
    action: str = BUILD
    reason: str = ""
    base_ref: str | None = None
    stale_tags: list[str] = field(default_factory=list)  # moving tags to re-point (TAG)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def key_tag(self) -> str:
        return key_tag(self.key)

    @property
    def key_ref(self) -> str:
        return f"{self.repo_ref}:{self.key_tag}"

    @property
    def tags(self) -> list[str]:
        """Every tag to push; the key tag last, because its presence means 'done'."""
        return [*self.moving_tags, self.key_tag]

    def to_dict(self) -> dict:
        return {"image": self.name, "ref": self.key_ref, "key": self.key, "action": self.action,
                "reason": self.reason, "base": self.spec.base, "base_ref": self.base_ref,
                "tags": self.tags, "stale_tags": self.stale_tags, "context": str(self.spec.context), "dockerfile": str(self.spec.dockerfile)}

    def commands(self, push: bool) -> list[str]:
        """The docker CLI equivalent of what this step does (for --dry-run)."""
        out: list[str] = []
        if self.action == BUILD:
            argv = ["docker", "build", "--platform", self.spec.platform, "-f", str(self.spec.dockerfile)]
            for k, v in sorted(self.build_args.items()):
                argv += ["--build-arg", f"{k}={v}"]
            for tag in self.tags:
                argv += ["-t", f"{self.repo_ref}:{tag}"]
            out.append(shlex.join(argv + [str(self.spec.context)]))
        if push and self.action in (BUILD, PUSH):
            out += [shlex.join(["docker", "push", f"{self.repo_ref}:{tag}"]) for tag in self.tags]
        if push and self.action == TAG:  # done through the registry API (no layers move); CLI equivalent:
            out.append(shlex.join(["docker", "pull", self.key_ref]))
            for tag in self.stale_tags:
                out += [shlex.join(["docker", "tag", self.key_ref, f"{self.repo_ref}:{tag}"]),
                        shlex.join(["docker", "push", f"{self.repo_ref}:{tag}"])]
        return out


@dataclass
class Plan:
    steps: list[Step]
    push: bool
    hashed_files: int = 0  # contents read this run; the rest came from the cache
    git_tags: dict[str, str] = field(default_factory=dict)

    def by_name(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps}

    @property
    def work(self) -> list[Step]:
        return [s for s in self.steps if s.action != SKIP]


def make_plan(catalog: Catalog, names: Iterable[str] | None, *, push: bool, force: bool | Iterable[str] = False,
              cache: FileHashCache, registry_digest: Callable[[str], str | None] = manifest_digest,
              local_has: Callable[[str], bool] | None = None) -> Plan:
    selected = catalog.select(list(names or []))
    forced = {s.name for s in selected} if force is True else set(force or ())
    local_has = local_has or engine_has_image
    steps: dict[str, Step] = {}
    git_tags: dict[str, str] = {}
    for spec in selected:
        base = steps.get(spec.base) if spec.base else None
        args = dict(spec.build_args)
        if base is not None:
            args.pop(spec.base_arg, None)  # the base enters the key through its own key
        key = source_key(spec.context, spec.dockerfile, args, spec.platform, base.key if base else None, cache)
        if base is not None:
            args[spec.base_arg] = base.key_ref  # the exact base just resolved, never `latest`
        repo_dir = str(spec.repo_dir)
        if repo_dir not in git_tags:
            git_tags[repo_dir] = git_moving_tag(spec.repo_dir)
        moving = ["latest"] + ([git_tags[repo_dir]] if git_tags[repo_dir] else []) + list(spec.tags)
        step = Step(spec, key, full_ref(catalog.registry, spec.repository), list(dict.fromkeys(moving)), args,
                    base_ref=base.key_ref if base else None)
        step.action, step.reason = _decide(step, push, spec.name in forced, registry_digest, local_has)
        steps[spec.name] = step
    return Plan(list(steps.values()), push, cache.hashed, git_tags)


def _decide(step: Step, push: bool, forced: bool, registry_digest: Callable[[str], str | None],
            local_has: Callable[[str], bool]) -> tuple[str, str]:
    if forced:
        return BUILD, "--force"
    try:
        digest = registry_digest(step.key_ref)
    except ImageError:
        if push:
            raise  # pushing needs the registry: say so before building anything
        digest = None
    if digest and push:
        # `latest` and the branch tag must name what was pushed last, even when that is an older key
        step.stale_tags = [t for t in step.moving_tags if registry_digest(f"{step.repo_ref}:{t}") != digest]
        if step.stale_tags:
            return TAG, f"{step.key_tag} in the registry; re-point {', '.join(step.stale_tags)}"
    if digest:
        return SKIP, f"{step.key_tag} in the registry"
    if local_has(step.key_ref):
        return (PUSH, f"{step.key_tag} built here, not yet pushed") if push else (SKIP, f"{step.key_tag} built here")
    return BUILD, f"no {step.key_tag} yet (sources changed)"


def engine_has_image(ref: str) -> bool:
    import docker  # heavy: only when the registry lacks the key

    try:
        docker.from_env().images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False
    except docker.errors.DockerException as exc:
        raise ImageError(f"docker engine unreachable: {exc}", fix="start dockerd or set DOCKER_HOST") from None


def git_moving_tag(repo_dir: Path) -> str:
    """The repository's branch, or its short SHA when detached; '' outside git."""
    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    tag = branch if branch and branch != "HEAD" else git("rev-parse", "--short", "HEAD")
    tag = re.sub(r"[^A-Za-z0-9_.-]", "-", tag).lstrip(".-")[:128]
    return "" if tag == "latest" else tag
