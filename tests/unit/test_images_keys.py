"""Images, pure parts: .dockerignore semantics, source keys and their cache, catalog checks, env file."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from remote_training.errors import ExitCode, ImageError, InputError
from remote_training.images import read_image_env, update_env_file
from remote_training.images import source_key as sk
from remote_training.images.catalog import load_catalog
from remote_training.images.planner import ci_latest, make_plan
from remote_training.images.registry import parse_ref
from remote_training.images.source_key import (
    CACHE_VERSION,
    FileHashCache,
    IgnoreMatcher,
    context_entries,
    default_cache_path,
    source_key,
)
from tests.support import ROOT

SANDBOX_CATALOG = ROOT / "docker" / "sandbox" / "images.yaml"


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


# --- tags: upstream's Makefile habit --------------------------------------------------------------

def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def _commit(folder: Path, branch: str) -> str:
    _git(folder, "init", "-q", "-b", branch)
    _git(folder, "add", "-A")
    _git(folder, "commit", "-q", "-m", "sources")
    return _git(folder, "rev-parse", "--short", "HEAD")


def _tags(repos: Path, latest: bool = False) -> tuple[dict[str, list[str]], list[str]]:
    """Tags per image and the plan's notes (nothing in any registry, nothing built)."""
    plan = make_plan(load_catalog(repos / "images.yaml"), None, push=True, cache=FileHashCache(None), latest=latest,
                     registry_digest=lambda ref: None, local_has=lambda ref: False)
    return {s.name: s.tags for s in plan.steps}, plan.notes


def test_tags_outside_git_are_only_the_key_tag_with_a_note(repos: Path) -> None:
    tags, notes = _tags(repos)
    assert all(len(t) == 1 and t[0].startswith("src-") for t in tags.values())
    assert len(notes) == 3 and all("not a git checkout; no branch/SHA tags" in n for n in notes)


def test_tags_of_a_checkout_per_repo_branch_slash_becomes_dash(repos: Path) -> None:
    shas = {repo: _commit(repos / "repos" / repo, f"feature/{repo}") for repo in ("gr00t", "openpi", "positronic")}
    tags, notes = _tags(repos)
    assert tags["gr00t-base"][:2] == ["feature-gr00t", shas["gr00t"]]
    assert tags["openpi"][:2] == ["feature-positronic", shas["positronic"]]
    assert all(len(t) == 3 and t[2].startswith("src-") for t in tags.values())
    assert notes == []
    with_latest, _ = _tags(repos, latest=True)
    assert all(t[2] == "latest" and t[3].startswith("src-") for t in with_latest.values())


def test_tags_inside_an_enclosing_checkout_name_its_commit(repos: Path) -> None:
    """The sandbox repos sit inside this project's own checkout: they get its branch and SHA, with a note."""
    sha = _commit(repos, "main")
    tags, notes = _tags(repos)
    assert {tuple(t[:2]) for t in tags.values()} == {("main", sha)}
    assert len(notes) == 3 and all(f"inside the git checkout {repos}" in n for n in notes)


def test_detached_head_gets_the_sha_only(repos: Path) -> None:
    sha = _commit(repos, "main")
    _git(repos, "checkout", "-q", "--detach")
    tags, notes = _tags(repos)
    assert all(t[0] == sha and len(t) == 2 for t in tags.values())
    assert any("detached HEAD, no branch tag" in n for n in notes)


def test_latest_follows_ci_like_the_makefile() -> None:
    assert ci_latest({"CI": "1"}) and ci_latest({"CI": "true"})
    assert not ci_latest({}) and not ci_latest({"CI": ""}) and not ci_latest({"CI": "0"})


# --- the file digest cache --------------------------------------------------------------------------

def test_cache_lives_in_the_state_dir(tmp_path: Path, monkeypatch, capsys) -> None:
    from remote_training import state

    monkeypatch.setattr(state, "_warned", set())
    monkeypatch.setenv("RT_STATE_DIR", str(tmp_path / "env-state"))  # the deprecated name: the setting wins
    assert default_cache_path(tmp_path / "config-state") == tmp_path / "config-state" / "images" / "file-digests.json"
    assert default_cache_path() == tmp_path / "env-state" / "images" / "file-digests.json"
    assert capsys.readouterr().err == ("warning: RT_STATE_DIR is deprecated and will stop being read: set "
                                       "INVOKE_VM_STATE_DIR (config vm.state_dir) instead\n")
    monkeypatch.delenv("RT_STATE_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "remote-training" / "images" / "file-digests.json"


def _key(ctx: Path, cache: FileHashCache) -> str:
    return source_key(ctx, ctx / "docker" / "Dockerfile.training.cloud", {}, "linux/amd64", None, cache)


def test_cache_file_is_versioned_and_written_atomically(repos: Path, tmp_path: Path) -> None:
    ctx = repos / "repos" / "openpi"
    path = tmp_path / "state" / "file-digests.json"
    cache = FileHashCache(path)
    _key(ctx, cache)
    cache.save()
    data = json.loads(path.read_text())
    assert data["version"] == CACHE_VERSION
    version_file = str(ctx / "src" / "VERSION")
    st = os.stat(version_file)
    size, mtime_ns, ino, digest = data["entries"][version_file]
    assert (size, mtime_ns, ino) == (st.st_size, st.st_mtime_ns, st.st_ino) and len(digest) == 64
    assert sorted(p.name for p in path.parent.iterdir()) == ["file-digests.json"]  # no temporary left behind


@pytest.mark.parametrize("poison", ["garbage", "truncated", "old-version", "no-version", "list", "bad-entries",
                                    "bad-entry"])
def test_a_corrupt_or_foreign_cache_is_never_trusted(repos: Path, tmp_path: Path, poison: str) -> None:
    ctx = repos / "repos" / "openpi"
    truth = _key(ctx, FileHashCache(None))
    path = tmp_path / "hashes.json"
    good = FileHashCache(path)
    _key(ctx, good)
    good.save()
    data = json.loads(path.read_text())
    wrong = "0" * 64  # what a poisoned cache would claim for every file, with matching metadata
    lied = {k: v[:3] + [wrong] for k, v in data["entries"].items()}
    path.write_text({
        "garbage": "\x00not json at all",
        "truncated": path.read_text()[:40],
        "old-version": json.dumps({"version": "rt-file-digests-v1", "entries": lied}),
        "no-version": json.dumps({"entries": lied}),
        "list": json.dumps([1, 2, 3]),
        "bad-entries": json.dumps({"version": CACHE_VERSION, "entries": [lied]}),
        "bad-entry": json.dumps({"version": CACHE_VERSION,
                                 "entries": {k: v[:3] + ["not-a-digest"] for k, v in data["entries"].items()}}),
    }[poison])
    cache = FileHashCache(path)
    assert _key(ctx, cache) == truth
    assert cache.hashed == len(data["entries"])  # every file read again
    assert bool(cache.ignored) == (poison != "bad-entry")  # a bad entry is a miss; the rest is ignored whole
    cache.save()
    assert json.loads(path.read_text())["entries"] == data["entries"]  # and the cache heals


def test_a_same_size_edit_within_the_timestamp_granularity_is_seen(repos: Path, tmp_path: Path) -> None:
    ctx = repos / "repos" / "openpi"
    target = ctx / "src" / "VERSION"
    target.write_text("openpi A\n")  # fresh: hashed now, but too recent to be trusted next time
    st = os.stat(target)
    path = tmp_path / "hashes.json"
    first = FileHashCache(path)
    key_a = _key(ctx, first)
    first.save()
    assert str(target) not in json.loads(path.read_text())["entries"]
    target.write_text("openpi B\n")  # same size, and the same mtime, as a coarse clock would give it
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    second = FileHashCache(path)
    key_b = _key(ctx, second)
    assert key_b != key_a and second.hashed == 1
    assert key_b == _key(ctx, FileHashCache(None))


def test_a_replaced_file_with_the_same_size_and_mtime_is_rehashed(repos: Path, tmp_path: Path) -> None:
    ctx = repos / "repos" / "openpi"
    target = ctx / "src" / "VERSION"
    path = tmp_path / "hashes.json"
    first = FileHashCache(path)
    key_a = _key(ctx, first)
    first.save()
    st = os.stat(target)
    new = target.with_name("VERSION.new")  # an editor's save: write aside, rename over
    new.write_text(target.read_text().upper()[: st.st_size].ljust(st.st_size))
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(new, target)
    assert (os.stat(target).st_size, os.stat(target).st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    second = FileHashCache(path)
    assert _key(ctx, second) != key_a and second.hashed == 1  # only the inode told them apart


def test_a_no_op_run_reads_no_file_contents(repos: Path, tmp_path: Path, monkeypatch) -> None:
    ctx = repos / "repos" / "positronic"
    path = tmp_path / "hashes.json"
    cold = FileHashCache(path)
    key = _key(ctx, cold)
    cold.save()

    def no_reading(*args, **kwargs):
        raise AssertionError(f"read {args[0]}")

    monkeypatch.setattr(sk, "open", no_reading, raising=False)  # the cache's only way to read a file
    warm = FileHashCache(path)
    assert _key(ctx, warm) == key and warm.hashed == 0


def test_a_dockerfile_specific_ignore_file_wins(repos: Path) -> None:
    """BuildKit reads `<Dockerfile>.dockerignore` instead of the context's .dockerignore when it exists."""
    ctx = repos / "repos" / "positronic"
    (ctx / "docker" / "Dockerfile.groot.dockerignore").write_text("data\n*.md\n")
    (ctx / "data").mkdir()

    def key(dockerfile: str) -> str:
        return source_key(ctx, ctx / "docker" / dockerfile, {}, "linux/amd64", None, FileHashCache(None))

    before = key("Dockerfile.groot"), key("Dockerfile.openpi")
    (ctx / "data" / "weights.bin").write_bytes(b"w" * 1000)
    assert key("Dockerfile.groot") == before[0]  # excluded by its own ignore file
    assert key("Dockerfile.openpi") != before[1]  # the context's .dockerignore admits data/
