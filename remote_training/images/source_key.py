"""Source keys: a content hash of everything that goes into one image build.

The key covers the Dockerfile, the context files that .dockerignore admits
(path, mode, content), the build args, the platform and the base image's key,
so a derived image's key changes whenever its base's sources change.
File contents are hashed once and cached by (path, size, mtime_ns, inode) in the
state directory: a no-op run over a context of thousands of files (or one of
model weights) costs one stat per file, not one read.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, TypeGuard

KEY_VERSION = "rt-image-key-v1"
KEY_TAG_PREFIX = "src-"
KEY_TAG_HEX = 12
# A file whose mtime is this close to "now" when it is hashed is not cached: a second
# same-size write inside the filesystem's timestamp granularity would otherwise go unnoticed.
RACY_SECONDS = 2.0
CACHE_VERSION = "rt-file-digests-v2"  # a cache file with any other version is ignored, never trusted
CACHE_NAME = "file-digests.json"


def default_cache_path(state_dir: Path | str | None = None) -> Path:
    """<state dir>/images/file-digests.json; the state dir is the caller's (config vm.state_dir), else
    remote_training.state's default."""
    from ..state import state_dir as resolve

    return resolve(state_dir) / "images" / CACHE_NAME


# --- .dockerignore, with Docker's semantics ---------------------------------

@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern
    exclusion: bool  # a `!pattern` line: re-admits what earlier lines excluded


def _translate(pattern: str) -> re.Pattern:
    """Docker's glob: `*` and `?` stay inside one path segment, `**` spans any."""
    out, i, n = "^", 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            if i + 1 < n and pattern[i + 1] == "*":
                i += 2
                if i < n and pattern[i] == "/":
                    i += 1
                out += ".*" if i >= n else "(.*/)?"
                continue
            out += "[^/]*"
        elif ch == "?":
            out += "[^/]"
        elif ch == "\\" and i + 1 < n:
            i += 1
            out += re.escape(pattern[i])
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out += re.escape(ch)
            else:
                body = pattern[i + 1:end]
                if body.startswith("^") or body.startswith("!"):
                    body = "^" + body[1:]
                out += "[" + body.replace("\\", "\\\\") + "]"
                i = end
        else:
            out += re.escape(ch)
        i += 1
    return re.compile(out + "$")


class IgnoreMatcher:
    """Decides which context paths a .dockerignore excludes (last matching line wins)."""

    def __init__(self, lines: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in lines:
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            exclusion = line.startswith("!")
            if exclusion:
                line = line[1:].strip()
            line = os.path.normpath(line).lstrip("/")
            if line in ("", "."):
                continue
            self.patterns.append(_Pattern(_translate(line), exclusion))
        self.has_exclusions = any(p.exclusion for p in self.patterns)

    def excluded(self, rel: str) -> bool:
        """`rel` is a '/'-separated path inside the context; parents' matches count too."""
        parts = rel.split("/")
        candidates = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        matched = False
        for pat in self.patterns:
            if pat.exclusion != matched:
                continue  # only a line that could flip the verdict needs evaluating
            if any(pat.regex.match(c) for c in candidates):
                matched = not pat.exclusion
        return matched


# --- walking and hashing ------------------------------------------------------

@dataclass(frozen=True)
class ContextEntry:
    rel: str  # '/'-separated path inside the context
    path: str
    kind: str  # "file", "dir" or "link"
    mode: int
    size: int = 0
    mtime_ns: int = 0
    ino: int = 0


def ignore_file(context: Path, dockerfile: Path | None = None) -> Path:
    """The ignore file BuildKit applies: `<Dockerfile>.dockerignore` beside the Dockerfile when there
    is one, else the context's `.dockerignore`."""
    if dockerfile is not None:
        specific = dockerfile.with_name(dockerfile.name + ".dockerignore")
        if specific.is_file():
            return specific
    return context / ".dockerignore"


def context_entries(context: Path, dockerfile: Path | None = None) -> list[ContextEntry]:
    """Everything Docker would send for this context, sorted by path.

    .dockerignore and the Dockerfile are always sent, as Docker itself does.
    """
    ignore = ignore_file(context, dockerfile)
    matcher = IgnoreMatcher(ignore.read_text().splitlines() if ignore.is_file() else [])
    always = {".dockerignore"}
    if dockerfile is not None:
        try:
            always.add(dockerfile.resolve().relative_to(context.resolve()).as_posix())
        except ValueError:
            pass  # a Dockerfile outside the context is hashed on its own
    entries = list(_walk(context, "", matcher, always))
    entries.sort(key=lambda e: e.rel)
    return entries


def _walk(root: Path, prefix: str, matcher: IgnoreMatcher, always: set[str]) -> Iterator[ContextEntry]:
    with os.scandir(root / prefix if prefix else root) as it:
        for de in it:
            rel = f"{prefix}/{de.name}" if prefix else de.name
            st = de.stat(follow_symlinks=False)
            excluded = matcher.excluded(rel) and rel not in always
            if stat.S_ISDIR(st.st_mode):
                if excluded and not matcher.has_exclusions and not any(a.startswith(rel + "/") for a in always):
                    continue  # nothing below can be re-admitted: skip the whole tree
                if not excluded:
                    yield ContextEntry(rel, de.path, "dir", stat.S_IMODE(st.st_mode))
                yield from _walk(root, rel, matcher, always)
            elif not excluded:
                kind = "link" if stat.S_ISLNK(st.st_mode) else "file"
                if kind == "file" and not stat.S_ISREG(st.st_mode):
                    continue  # sockets, fifos: Docker cannot send them either
                yield ContextEntry(rel, de.path, kind, stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns,
                                   st.st_ino)


class FileHashCache:
    """sha256 of file contents, remembered per path by (size, mtime_ns, inode) in one JSON file.

    File format: {"version": CACHE_VERSION, "entries": {path: [size, mtime_ns, inode, sha256 hex]}}.
    A file whose size, mtime or inode differs from its entry is read again; a file hashed while its
    mtime was within RACY_SECONDS of now is not remembered. A cache that is unreadable, not JSON, of
    another version or of another shape is ignored as a whole (`ignored` says why); a malformed entry
    is a miss. Saving writes a temporary file and renames it over the old one.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, list] = {}
        self.dirty = False
        self.hashed = 0  # files actually read this run (for tests and the bench)
        self.ignored = ""  # why an existing cache file was not used
        self.contexts: dict[tuple, str] = {}  # (context, ignore file) -> digest, once per run (images share contexts)
        if path is not None:
            self.entries, self.ignored = _load_entries(path)

    def digest(self, path: Path | str, size: int | None = None, mtime_ns: int | None = None,
               ino: int | None = None) -> str:
        """Content hash; pass size, mtime_ns and ino when a directory scan already has them."""
        if size is None or mtime_ns is None or ino is None:
            st = os.stat(path)
            size, mtime_ns, ino = st.st_size, st.st_mtime_ns, st.st_ino
        key = str(path)
        hit = self.entries.get(key)
        if _valid_entry(hit) and hit[0] == size and hit[1] == mtime_ns and hit[2] == ino:
            return hit[3]
        now = time.time()  # before reading: a write after this moment leaves a newer mtime
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        self.hashed += 1
        if now - mtime_ns / 1e9 > RACY_SECONDS:
            self.entries[key] = [size, mtime_ns, ino, h.hexdigest()]
        else:
            self.entries.pop(key, None)  # racy: the next run reads it again
        self.dirty = True
        return h.hexdigest()

    def save(self) -> None:
        if not (self.dirty and self.path):
            return
        # Forget files that are gone, so the cache does not grow with every deleted checkout.
        self.entries = {k: v for k, v in self.entries.items() if _valid_entry(v) and os.path.exists(k)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "w") as fh:
                json.dump({"version": CACHE_VERSION, "entries": self.entries}, fh, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)  # atomic: a parallel run never reads half a file
        finally:
            tmp.unlink(missing_ok=True)
        self.dirty = False


def _load_entries(path: Path) -> tuple[dict[str, list], str]:
    """(entries, why ignored); a missing file is simply empty."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}, ""
    except (OSError, UnicodeDecodeError) as exc:
        return {}, f"unreadable ({exc.__class__.__name__})"
    try:
        data = json.loads(text)
    except ValueError:
        return {}, "not JSON"
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        found = data.get("version") if isinstance(data, dict) else type(data).__name__
        return {}, f"version {found!r}, not {CACHE_VERSION!r}"
    entries = data.get("entries")
    if not isinstance(entries, dict):
        return {}, "no entries mapping"
    return entries, ""


def _valid_entry(entry: object) -> TypeGuard[list]:
    """[size, mtime_ns, inode, sha256 hex], as `FileHashCache` writes them."""
    return (isinstance(entry, list) and len(entry) == 4
            and all(isinstance(v, int) and not isinstance(v, bool) for v in entry[:3])
            and isinstance(entry[3], str) and len(entry[3]) == 64
            and all(c in "0123456789abcdef" for c in entry[3]))


def source_key(context: Path, dockerfile: Path, build_args: Mapping[str, str], platform: str,
               base_key: str | None, cache: FileHashCache) -> str:
    """The full hex key of one image; the tag is `key_tag(key)`."""
    h = hashlib.sha256()
    h.update(f"{KEY_VERSION}\0platform={platform}\0base={base_key or ''}\0".encode())
    for name in sorted(build_args):
        h.update(f"arg {name}={build_args[name]}\0".encode())
    h.update(f"dockerfile {cache.digest(dockerfile)}\0".encode())
    h.update(f"context {context_digest(context, cache, dockerfile)}\0".encode())
    return h.hexdigest()


def context_digest(context: Path, cache: FileHashCache, dockerfile: Path | None = None) -> str:
    """One hash over every admitted entry (path, kind, mode, content); computed once per context and
    ignore file per run.

    The Dockerfile enters the key on its own; it matters here only through a Dockerfile-specific
    ignore file (`Dockerfile.groot.dockerignore`), which BuildKit prefers to the context's.
    """
    ignore = ignore_file(context, dockerfile)
    memo_key = (str(context), str(ignore))
    memo = cache.contexts.get(memo_key)
    if memo is not None:
        return memo
    h = hashlib.sha256()
    h.update(f"ignore {ignore.name}\0".encode())
    for e in context_entries(context, dockerfile if ignore.name != ".dockerignore" else None):
        if e.kind == "file":
            content = cache.digest(e.path, e.size, e.mtime_ns, e.ino)
        elif e.kind == "link":
            content = os.readlink(e.path)
        else:
            content = ""
        h.update(f"{e.kind} {e.rel} {e.mode:o} {content}\0".encode())
    cache.contexts[memo_key] = h.hexdigest()
    return cache.contexts[memo_key]


def key_tag(key: str) -> str:
    return KEY_TAG_PREFIX + key[:KEY_TAG_HEX]
