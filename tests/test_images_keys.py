"""Images, pure parts: .dockerignore semantics, source keys and their cache, catalog checks, env file."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from remote_training.errors import ExitCode, ImageError, InputError
from remote_training.images import read_image_env, update_env_file
from remote_training.images.catalog import load_catalog
from remote_training.images.registry import parse_ref
from remote_training.images.source_key import FileHashCache, IgnoreMatcher, context_entries, source_key

PROJECT = Path(__file__).resolve().parent.parent
SANDBOX_CATALOG = PROJECT / "docker" / "sandbox" / "images.yaml"


def _age(path: Path, seconds: float = 60) -> None:
    """Push mtimes into the past so the cache trusts them (fresh ones are always rehashed)."""
    old = time.time() - seconds
    for p in [path, *path.rglob("*")]:
        os.utime(p, (old, old), follow_symlinks=False)


@pytest.fixture
def repos(tmp_path: Path) -> Path:
    """A private copy of the sandbox catalog and its tiny repositories."""
    shutil.copytree(SANDBOX_CATALOG.parent / "repos", tmp_path / "repos", symlinks=True)
    shutil.copy(SANDBOX_CATALOG, tmp_path / "images.yaml")
    _age(tmp_path / "repos")
    return tmp_path


def test_dockerignore_follows_docker_rules() -> None:
    m = IgnoreMatcher(["# comment", "*.md", "**/*.tmp", "/build", "scratch/", "!KEEP.md", "docs/*/x", "!docs/a"])
    assert m.excluded("README.md") and not m.excluded("src/README.md")  # `*` stays in one segment
    assert m.excluded("a/b/c.tmp") and m.excluded("c.tmp")  # `**/` matches zero or more folders
    assert m.excluded("build/out.bin")  # a parent folder's match excludes what is below it
    assert m.excluded("scratch") and m.excluded("scratch/deep/file")
    assert not m.excluded("KEEP.md")  # the later `!` line wins
    assert m.excluded("docs/z/x") and not m.excluded("docs/a")
    assert not m.excluded("src/main.py")


def test_context_entries_prune_and_always_send_dockerfile(tmp_path: Path) -> None:
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "Dockerfile").write_text("FROM x\n")
    (tmp_path / "big").mkdir()
    (tmp_path / "big" / "blob").write_text("x")
    (tmp_path / "app.py").write_text("print()")
    (tmp_path / ".dockerignore").write_text("big\ndocker\n")
    rels = [e.rel for e in context_entries(tmp_path, tmp_path / "docker" / "Dockerfile")]
    assert rels == [".dockerignore", "app.py", "docker/Dockerfile"]


def test_source_key_tracks_content_args_platform_and_base(repos: Path) -> None:
    ctx = repos / "repos" / "openpi"
    df = ctx / "docker" / "Dockerfile.training.cloud"
    def key(**kw) -> str:  # a fresh cache per call, as each run has: context digests are memoised per run
        args = dict(kw.get("args", {"A": "1"}))
        return source_key(ctx, df, args, kw.get("platform", "linux/amd64"), kw.get("base"), FileHashCache(None))

    first = key()
    assert key() == first
    assert key(args={"A": "2"}) != first
    assert key(platform="linux/arm64") != first
    assert key(base="abc") != first and key(base="abc") != key(base="abd")
    (ctx / "README.md").write_text("ignored by .dockerignore\n")
    (ctx / "scratch").mkdir()
    (ctx / "scratch" / "notes").write_text("also ignored\n")
    assert key() == first
    (ctx / "src" / "VERSION").write_text("openpi 2\n")
    assert key() != first
    os.chmod(ctx / "src" / "VERSION", 0o755)
    changed = key()
    os.chmod(ctx / "src" / "VERSION", 0o644)
    assert key() != changed  # the mode goes into the image too


def test_file_hash_cache_reads_each_file_once(repos: Path, tmp_path: Path) -> None:
    ctx = repos / "repos" / "positronic"
    df = ctx / "docker" / "Dockerfile.groot"
    for i in range(300):
        (ctx / "src" / f"module_{i}.py").write_text(f"x = {i}\n")
    _age(ctx)
    cache_file = tmp_path / "cache" / "hashes.json"
    cold = FileHashCache(cache_file)
    key = source_key(ctx, df, {}, "linux/amd64", None, cold)
    cold.save()
    assert cold.hashed > 300
    warm = FileHashCache(cache_file)
    assert source_key(ctx, df, {}, "linux/amd64", None, warm) == key
    assert warm.hashed == 0
    (ctx / "src" / "module_7.py").write_text("x = 'changed'\n")  # fresh mtime: rehashed, not trusted
    again = FileHashCache(cache_file)
    assert source_key(ctx, df, {}, "linux/amd64", None, again) != key
    assert again.hashed == 1


def test_catalog_order_selection_and_names(repos: Path) -> None:
    cat = load_catalog(repos / "images.yaml")
    order = list(cat.images)
    for derived, base in (("gr00t", "gr00t-base"), ("openpi", "openpi-base")):
        assert order.index(base) < order.index(derived)
    assert [s.name for s in cat.select(["gr00t"])] == ["gr00t-base", "gr00t"]
    assert cat.resolve("positro/openpi").name == "openpi"
    assert cat.images["gr00t-base"].env_name == "RT_IMAGE_GR00T_BASE"
    assert cat.registry == "localhost:5000"
    assert load_catalog(repos / "images.yaml", registry="127.0.0.1:5999/x").registry == "127.0.0.1:5999/x"
    with pytest.raises(InputError, match="unknown image 'nope'.*gr00t-base"):
        cat.select(["nope"])


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("base: gr00t-base", "base: missing-base"), "unknown base 'missing-base'"),
    (lambda t: t.replace("dockerfile: docker/Dockerfile\n", "dockerfile: docker/Dockerfile\n    base: gr00t\n", 1),
     "base cycle"),
    (lambda t: t.replace("docker/Dockerfile.openpi", "docker/Dockerfile.nope"), "Dockerfile .* does not exist"),
    (lambda t: t.replace("repo: openpi\n", "repo: openpi\n    context: gone\n", 1), "build context .* does not exist"),
])
def test_catalog_errors_are_clear(repos: Path, edit, message: str) -> None:
    path = repos / "images.yaml"
    path.write_text(edit(path.read_text()))
    with pytest.raises(ImageError, match=message) as info:
        load_catalog(path)
    assert info.value.exit_code == ExitCode.IMAGE and info.value.fix


def test_env_file_keeps_unrelated_lines(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("# compose settings\nCACHE_ROOT=/home/u\nRT_IMAGE_GR00T=old:1\nIMAGE_TAG=old\n")
    update_env_file(env, {"RT_IMAGE_GR00T": "r/positro/gr00t:src-1", "RT_IMAGE_OPENPI": "r/o:src-2",
                          "IMAGE_TAG": "main"})
    text = env.read_text()
    assert text.startswith("# compose settings\nCACHE_ROOT=/home/u\nRT_IMAGE_GR00T=r/positro/gr00t:src-1\n")
    assert read_image_env(env) == {"CACHE_ROOT": "/home/u", "RT_IMAGE_GR00T": "r/positro/gr00t:src-1",
                                   "IMAGE_TAG": "main", "RT_IMAGE_OPENPI": "r/o:src-2"}
    assert read_image_env(tmp_path / "absent") == {}


def test_parse_ref_like_docker() -> None:
    assert parse_ref("localhost:5000/a/positro/gr00t:src-1").registry == "localhost:5000"
    assert parse_ref("localhost:5000/a/positro/gr00t:src-1").repository == "a/positro/gr00t"
    hub = parse_ref("positro/gr00t")
    assert (hub.registry, hub.repository, hub.tag) == ("docker.io", "positro/gr00t", "latest")
    assert parse_ref("ubuntu:22.04").repository == "library/ubuntu"
    assert parse_ref("127.0.0.1:5000/x").api_base == "http://127.0.0.1:5000"
    assert parse_ref("ghcr.io/o/x:1").api_base == "https://ghcr.io"
