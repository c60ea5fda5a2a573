"""Ship the compose project to a host, content-addressed.

The folder's top-level files (plus generated files such as the images `.env`) is hashed; the host
keeps it under `<workdir>/project-<hash>/`, marked complete only after it is
fully unpacked, so a launch can test one marker file and skip the upload when
nothing changed. Local `.env*` files are never shipped: they may hold secrets.
"""
from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

SKIP_DIRS = {".git", "__pycache__", ".pytest_cache"}
MARKER = ".rt-complete"


@dataclass(frozen=True)
class Project:
    files: tuple[tuple[str, bytes, int], ...]  # (relative path, content, mode) in sorted order
    digest: str  # short sha256 of everything shipped

    def remote_dir(self, workdir: str) -> str:
        return f"{remote_path(workdir)}/project-{self.digest}"

    def tarball(self) -> bytes:
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
            for rel, data, mode in self.files:
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = len(data), mode, 0
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()


def remote_path(path: str) -> str:
    """A host path as the login shell sees it: `~/x` becomes `x` (SSH sessions start in $HOME)."""
    if path in ("~", "~/"):
        return "."
    return path[2:].rstrip("/") if path.startswith("~/") else path.rstrip("/")


def _shipped(rel: Path) -> bool:
    if any(part in SKIP_DIRS for part in rel.parts):
        return False
    return not rel.name.startswith(".env") and not rel.name.endswith((".pyc", "~"))


def collect(folder: Path, extra: Mapping[str, str] | None = None) -> Project:
    """Read the folder and the generated files into a hashed Project."""
    if not (folder / "docker-compose.yml").is_file():
        from ..errors import InputError

        raise InputError(f"{folder} has no docker-compose.yml",
                         "set compose_project in the inventory or jobs.compose_project to the compose folder")
    files: dict[str, tuple[bytes, int]] = {}
    for path in sorted(folder.iterdir()):  # top level only: the compose file and its neighbours, not image sources
        rel = path.relative_to(folder)
        if path.is_file() and _shipped(rel):
            files[rel.as_posix()] = (path.read_bytes(), 0o755 if path.stat().st_mode & 0o111 else 0o644)
    for rel, text in (extra or {}).items():
        files[rel] = (text.encode(), 0o644)
    digest = hashlib.sha256()
    for rel in sorted(files):
        data, mode = files[rel]
        digest.update(f"{rel}\0{mode:o}\0{len(data)}\0".encode())
        digest.update(data)
    ordered = tuple((rel, files[rel][0], files[rel][1]) for rel in sorted(files))
    return Project(ordered, digest.hexdigest()[:16])


# Unpack next to the target and rename into place, so a half-sent project never looks complete.
UNPACK_SCRIPT = (
    'set -e; tgz=$1; dir=$2; tmp="$dir.tmp.$$"; mkdir -p "$tmp"; tar -xzf "$tgz" -C "$tmp"; '
    f'touch "$tmp/{MARKER}"; rm -f "$tgz"; '
    'if [ -e "$dir" ]; then rm -rf "$tmp"; else mv "$tmp" "$dir"; fi'
)


def unpack_argv(tarball_path: str, target_dir: str) -> list[str]:
    return ["sh", "-c", UNPACK_SCRIPT, "sh", tarball_path, target_dir]
