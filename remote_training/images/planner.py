"""The plan: per image, its source key and whether to build, push or skip it, and why.

Planning reads files and asks the registry; it never builds. The docker engine
is consulted only when an image's key tag is missing from the registry (was it
built here already and only the push is left?), so a no-op run needs no engine.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping

from ..errors import ImageError
from .catalog import Catalog, ImageSpec, full_ref
from .registry import manifest_digest
from .source_key import KEY_TAG_PREFIX, FileHashCache, key_tag, source_key

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
                "tags": self.tags, "stale_tags": self.stale_tags, "context": str(self.spec.context),
                "dockerfile": str(self.spec.dockerfile)}

    def build_argv(self) -> list[str]:
        """The exact BuildKit build this step runs: buildx's default `docker` driver builds inside the
        engine, so FROM sees the engine's own images (a base built here, never pulled from the Hub)
        and the result lands in the engine's image store under every tag."""
        argv = ["docker", "buildx", "build", "--progress=plain", "--platform", self.spec.platform,
                "-f", str(self.spec.dockerfile)]
        for k, v in sorted(self.build_args.items()):
            argv += ["--build-arg", f"{k}={v}"]
        argv += ["--label", f"rt.source_key={self.key}"]
        for tag in self.tags:
            argv += ["-t", f"{self.repo_ref}:{tag}"]
        return argv + [str(self.spec.context)]

    def tag_argvs(self) -> list[list[str]]:
        """For PUSH: `docker tag` of the image built here onto this run's moving tags; it may have been
        built at another commit (same sources), so its branch/SHA tags name an older one or none."""
        if self.action != PUSH:
            return []
        return [["docker", "tag", self.key_ref, f"{self.repo_ref}:{tag}"] for tag in self.moving_tags]

    def push_argvs(self) -> list[list[str]]:
        """One `docker push` per tag, the key tag last (its presence in the registry means 'done')."""
        return [["docker", "push", "--quiet", f"{self.repo_ref}:{tag}"] for tag in self.tags]

    def commands(self, push: bool) -> list[str]:
        """The commands this step runs, as a shell would take them (for --dry-run)."""
        out: list[str] = []
        if self.action == BUILD:
            out.append(shlex.join(self.build_argv()))
        if push and self.action in (BUILD, PUSH):
            out += [shlex.join(argv) for argv in self.tag_argvs() + self.push_argvs()]
        if push and self.action == TAG:  # no command: a manifest copy inside the registry, no layers move
            out += [f"# registry API: tag {self.key_ref} as {self.repo_ref}:{tag} (manifest copy, no layers move)"
                    for tag in self.stale_tags]
        return out


@dataclass
class BuildPlan:
    steps: list[Step]
    push: bool
    hashed_files: int = 0  # contents read this run; the rest came from the cache
    git: dict[str, GitInfo] = field(default_factory=dict)  # repo folder -> what git says about it
    latest: bool = False  # `latest` is among the moving tags (CI or --latest)

    @property
    def notes(self) -> list[str]:
        return [g.note for g in self.git.values() if g.note]

    def by_name(self) -> dict[str, Step]:
        return {s.name: s for s in self.steps}

    @property
    def work(self) -> list[Step]:
        return [s for s in self.steps if s.action != SKIP]


def make_plan(catalog: Catalog, names: Iterable[str] | None, *, push: bool, force: bool | Iterable[str] = False,
              cache: FileHashCache, latest: bool | None = None,
              registry_digest: Callable[[str], str | None] = manifest_digest,
              local_has: Callable[[str], bool] | None = None) -> BuildPlan:
    """Tags per image: branch and short SHA of its git checkout, `latest` when `latest` (None: under CI),
    the catalog's extra tags, and the content key tag `src-<12 hex>` last."""
    selected = catalog.select(list(names or []))
    forced = {s.name for s in selected} if force is True else set(force or ())
    local_has = local_has or engine_has_image
    latest = ci_latest() if latest is None else latest
    steps: dict[str, Step] = {}
    git: dict[str, GitInfo] = {}
    for spec in selected:
        base = steps.get(spec.base) if spec.base else None
        args = dict(spec.build_args)
        if base is not None:
            args.pop(spec.base_arg, None)  # the base enters the key through its own key
        key = source_key(spec.context, spec.dockerfile, args, spec.platform, base.key if base else None, cache)
        if base is not None:
            args[spec.base_arg] = base.key_ref  # the exact base just resolved, never `latest`
        repo_dir = str(spec.repo_dir)
        if repo_dir not in git:
            git[repo_dir] = git_info(spec.repo_dir)
        moving = git[repo_dir].tags + (["latest"] if latest else []) + list(spec.tags)
        step = Step(spec, key, full_ref(catalog.registry, spec.repository), list(dict.fromkeys(moving)), args,
                    base_ref=base.key_ref if base else None)
        step.action, step.reason = _decide(step, push, spec.name in forced, registry_digest, local_has)
        steps[spec.name] = step
    return BuildPlan(list(steps.values()), push, cache.hashed, git, latest)


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


@dataclass(frozen=True)
class GitInfo:
    """What git says about the checkout that holds an image's sources (upstream's Makefile habit)."""

    repo_dir: str
    toplevel: str = ""  # the checkout's root; differs from repo_dir when the sources sit inside another checkout
    branch: str = ""  # as a Docker tag: `/` -> `-`; '' when detached or outside git
    sha: str = ""  # short SHA of HEAD; '' outside git or before the first commit
    note: str = ""  # why a tag is missing, or whose commit the tags name

    @property
    def tags(self) -> list[str]:
        return [t for t in (self.branch, self.sha) if t]


def git_info(repo_dir: Path) -> GitInfo:
    """Branch and short SHA of the git checkout holding `repo_dir`, as `git rev-parse` reports them.

    Like upstream's `BRANCH := $(shell git rev-parse --abbrev-ref HEAD | tr '/' '-')` and
    `GIT_SHA := $(shell git rev-parse --short HEAD)`, run in the repository. Sources inside another
    checkout (the sandbox repos in this project's tree) get that checkout's branch and SHA, with a note;
    sources outside git get neither, with a note; a detached HEAD gets only the SHA.
    """
    def git(*args: str) -> tuple[int, str]:
        try:
            done = subprocess.run(["git", "-C", str(repo_dir), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return 1, str(exc)
        return done.returncode, (done.stdout if done.returncode == 0 else done.stderr).strip()

    where = str(repo_dir)
    rc, out = git("rev-parse", "--show-toplevel")
    if rc != 0:
        reason = out.splitlines()[-1] if out else "git failed"
        if "not a git repository" in reason:
            reason = "not a git checkout"
        return GitInfo(where, note=f"{where}: {reason}; no branch/SHA tags (only the src- key tag)")
    toplevel = out
    rc, sha = git("rev-parse", "--short", "HEAD")
    if rc != 0:
        return GitInfo(where, toplevel, note=f"{where}: no commit yet in {toplevel}; no branch/SHA tags")
    _, branch = git("rev-parse", "--abbrev-ref", "HEAD")
    notes = []
    if Path(toplevel).resolve() != Path(where).resolve():
        notes.append(f"{where} is inside the git checkout {toplevel}: branch/SHA tags name its commit")
    branch_tag = docker_tag(branch) if branch and branch != "HEAD" else ""
    if branch == "HEAD":
        notes.append(f"{where}: detached HEAD, no branch tag")
    elif branch_tag in ("latest", "") or branch_tag.startswith(KEY_TAG_PREFIX):
        notes.append(f"{where}: branch {branch!r} would clash with the {branch_tag or 'empty'} tag; no branch tag")
        branch_tag = ""
    return GitInfo(where, toplevel, branch_tag, docker_tag(sha), "; ".join(notes))


def docker_tag(text: str) -> str:
    """A branch name as a Docker tag: `/` (and anything else Docker refuses) becomes `-`."""
    return re.sub(r"[^A-Za-z0-9_.-]", "-", text.strip()).lstrip(".-")[:128]


def ci_latest(environ: Mapping[str, str] | None = None) -> bool:
    """Upstream pushes `latest` only under `ifdef CI`: CI set to a true value (validate.truthy)."""
    from ..validate import truthy

    return truthy((os.environ if environ is None else environ).get("CI", ""))
