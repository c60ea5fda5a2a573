"""The image catalog: which images exist, where their sources live, what they build on.

A catalog file (docker/images.yaml) names repositories relative to a root
(default: the directory holding this checkout, like the seed's ../gr00t) and,
per image, its context, Dockerfile, build args, base and extra tags. Loading
validates everything (unknown base, cycle, missing Dockerfile or context) so
that a bad catalog fails before anything builds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config_files import read_yaml
from ..errors import ImageError, InputError
from .registry import split_ref

IMAGE_KEYS = {"repository", "repo", "context", "dockerfile", "build_args", "base", "base_arg", "platform", "tags"}
TOP_KEYS = {"registry", "platform", "root", "repos", "images", "image_tag_repo"}
DEFAULT_PLATFORM = "linux/amd64"


@dataclass(frozen=True)
class ImageSpec:
    name: str  # short name, the catalog key: gr00t-base
    repository: str  # registry path without the prefix: positro/gr00t-base
    repo: str  # source repository name (gr00t, openpi, positronic)
    repo_dir: Path
    context: Path
    dockerfile: Path
    build_args: dict[str, str] = field(default_factory=dict)
    base: str | None = None
    base_arg: str = "BASE_IMAGE"
    platform: str = DEFAULT_PLATFORM
    tags: tuple[str, ...] = ()

    @property
    def env_name(self) -> str:
        """The docker/.env variable that carries this image's pushed ref."""
        return "RT_IMAGE_" + self.name.upper().replace("-", "_").replace(".", "_")


@dataclass(frozen=True)
class Catalog:
    path: Path
    registry: str
    images: dict[str, ImageSpec]  # in dependency order: bases first
    image_tag_repo: str | None = None

    def resolve(self, name: str) -> ImageSpec:
        """Accept the short name (gr00t), the repository (positro/gr00t) or a ref with a tag."""
        bare = name.strip()
        if bare in self.images:
            return self.images[bare]
        bare = split_ref(bare)[0]  # drop a tag
        for spec in self.images.values():
            if bare in (spec.repository, full_ref(self.registry, spec.repository)):
                return spec
        raise InputError(f"unknown image {name!r} in {self.path}",
                         fix=f"use one of: {', '.join(self.images)}")

    def select(self, names: list[str] | None) -> list[ImageSpec]:
        """The named images plus every base they need, bases first; all images when none named."""
        if not names:
            return list(self.images.values())
        wanted: set[str] = set()
        for name in names:
            spec: ImageSpec | None = self.resolve(name)
            while spec is not None and spec.name not in wanted:
                wanted.add(spec.name)
                spec = self.images[spec.base] if spec.base else None
        return [s for s in self.images.values() if s.name in wanted]

    def dependents(self, name: str) -> list[str]:
        return [s.name for s in self.images.values() if s.base == name]


def full_ref(registry: str, repository: str) -> str:
    return f"{registry}/{repository}" if registry else repository


def default_root(project_root: Path) -> Path:
    return project_root.resolve().parent


def load_catalog(path: Path, root: Path | None = None, registry: str | None = None, *,
                 check_sources: bool = True, fallback_root: Path | None = None) -> Catalog:
    """Read and validate a catalog; `root`/`registry` from config win over the file's own; with neither,
    `fallback_root` (default: the folder that holds this project's checkout).

    check_sources=False: what jobs need (repositories, env names, where repos live) without the
    image sources being checked out on this machine."""
    if not path.is_file():
        raise InputError(f"image catalog {path} not found", fix="set images.catalog (INVOKE_IMAGES_CATALOG)")
    try:
        data = read_yaml(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML: {exc}", fix="fix the catalog syntax") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), dict) or not data["images"]:
        raise InputError(f"{path}: needs a non-empty `images:` mapping", fix="see docker/images.yaml")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise InputError(f"{path}: unknown top-level key(s) {sorted(unknown)}", fix=f"use only {sorted(TOP_KEYS)}")

    if root is None:
        root = (path.parent / data["root"]) if data.get("root") else (
            fallback_root or default_root(Path(__file__).parents[2]))
    root = root.resolve()
    repos: dict[str, Any] = data.get("repos") or {}
    platform = str(data.get("platform") or DEFAULT_PLATFORM)
    specs = {name: _image(path, root, repos, platform, name, raw, check_sources)
             for name, raw in data["images"].items()}

    for spec in specs.values():
        if spec.base is not None and spec.base not in specs:
            raise ImageError(f"{path}: image {spec.name!r} has unknown base {spec.base!r}",
                             fix=f"bases must be catalog images: {', '.join(specs)}")
    ordered = _dependency_order(path, specs)
    reg = registry if registry else str(data.get("registry") or "")
    return Catalog(path=path, registry=reg.rstrip("/"), images={s.name: s for s in ordered},
                   image_tag_repo=data.get("image_tag_repo"))


def _image(path: Path, root: Path, repos: dict, platform: str, name: str, raw: Any, check_sources: bool) -> ImageSpec:
    where = f"{path}: image {name!r}"
    if not isinstance(raw, dict):
        raise InputError(f"{where} must be a mapping", fix="see docker/images.yaml")
    unknown = set(raw) - IMAGE_KEYS
    if unknown:
        raise InputError(f"{where}: unknown key(s) {sorted(unknown)}", fix=f"use only {sorted(IMAGE_KEYS)}")
    for key in ("repository", "repo", "dockerfile"):
        if not raw.get(key):
            raise InputError(f"{where}: missing `{key}`", fix="add it to the catalog")
    repo = str(raw["repo"])
    repo_dir = (root / str(repos.get(repo, repo))).resolve()
    context = (repo_dir / str(raw.get("context", "."))).resolve()
    dockerfile = (repo_dir / str(raw["dockerfile"])).resolve()
    if check_sources and not context.is_dir():
        raise ImageError(f"{where}: build context {context} does not exist",
                         fix=f"check out the {repo} repository under {root} or set images.root")
    if check_sources and not dockerfile.is_file():
        raise ImageError(f"{where}: Dockerfile {dockerfile} does not exist",
                         fix="fix `dockerfile:` in the catalog or add the file")
    args = raw.get("build_args") or {}
    if not isinstance(args, dict):
        raise InputError(f"{where}: build_args must be a mapping", fix="write NAME: value pairs")
    tags = raw.get("tags") or []
    return ImageSpec(name=name, repository=str(raw["repository"]), repo=repo, repo_dir=repo_dir,
                     context=context, dockerfile=dockerfile,
                     build_args={str(k): str(v) for k, v in args.items()},
                     base=str(raw["base"]) if raw.get("base") else None,
                     base_arg=str(raw.get("base_arg") or "BASE_IMAGE"),
                     platform=str(raw.get("platform") or platform), tags=tuple(str(t) for t in tags))


def _dependency_order(path: Path, specs: dict[str, ImageSpec]) -> list[ImageSpec]:
    """Bases before dependents, keeping file order otherwise; a cycle is an error."""
    done: list[ImageSpec] = []
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = " -> ".join(trail[trail.index(name):] + [name])
            raise ImageError(f"{path}: base cycle {cycle}", fix="an image cannot (indirectly) be its own base")
        state[name] = "visiting"
        base = specs[name].base
        if base:
            visit(base, trail + [name])
        state[name] = "done"
        done.append(specs[name])

    for name in specs:
        visit(name, [])
    return done
