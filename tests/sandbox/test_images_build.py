"""Images against the real engine and registries: order, no-op reruns, staleness, failures.

Each test builds a private copy of the sandbox catalog into its own registry
prefix (localhost:5000/t-<random>/...), so tests never fight the demo or each other.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from remote_training.errors import ExitCode, ImageError
from remote_training.images import image_present, read_image_env
from remote_training.images.catalog import load_catalog
from remote_training.images.registry import manifest_digest
from remote_training.images.service import plan_images, raise_for, run_images
from tests.support import ROOT, run_cli

SANDBOX_CATALOG = ROOT / "docker" / "sandbox" / "images.yaml"
FIVE = ["gr00t-base", "openpi-base", "positronic", "gr00t", "openpi"]
BRANCH = "team/buildkit"  # the work copy's git branch; its tag is BRANCH with `/` -> `-`
BRANCH_TAG = "team-buildkit"


class Recorder:
    """Collects builder events: (image, status) in the order they happened."""

    def __init__(self, on_status: Any = None) -> None:
        self.events: list[tuple[str, str]] = []
        self.on_status = on_status

    def __call__(self, name: str, status: str, detail: str) -> None:
        if not self.events or self.events[-1] != (name, status):
            self.events.append((name, status))
        if self.on_status:
            self.on_status(name, status)

    def index(self, name: str, status: str) -> int:
        return self.events.index((name, status))

    def built(self) -> set[str]:
        return {n for n, s in self.events if s == "building"}


@pytest.fixture
def work(tmp_path: Path, sandbox: dict) -> dict:
    """A private catalog copy (a git checkout on BRANCH), registry prefix, hash cache and env file;
    local images removed after."""
    shutil.copytree(SANDBOX_CATALOG.parent / "repos", tmp_path / "repos", symlinks=True)
    shutil.copy(SANDBOX_CATALOG, tmp_path / "images.yaml")
    sha = _git_checkout(tmp_path / "repos", BRANCH)
    prefix = f"t-{uuid.uuid4().hex[:10]}"
    state = {"dir": tmp_path, "catalog": tmp_path / "images.yaml", "registry": f"{sandbox['registry']}/{prefix}",
             "cache": tmp_path / "hashes.json", "env": tmp_path / "docker.env", "prefix": prefix, "sha": sha}
    yield state
    _remove_local_images(prefix)


def _git_checkout(folder: Path, branch: str) -> str:
    """Make `folder` a git checkout on `branch` with one commit; returns the short SHA."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.com",
                               *args], check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q", "-b", branch)
    git("add", "-A")
    git("commit", "-q", "-m", "sources")
    return git("rev-parse", "--short", "HEAD")


def _remove_local_images(prefix: str) -> None:
    import docker

    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if f"/{prefix}/" in tag:
                client.images.remove(tag, force=True)


def _run(work: dict, names=None, *, push: bool = True, registry: str | None = None, latest: bool = False, **kw):
    catalog = load_catalog(work["catalog"], registry=registry or work["registry"])
    return run_images(catalog, names, push=push, cache_path=work["cache"], env_file=work["env"], live=False,
                      latest=latest, **kw)


def _plan(work: dict, names=None, push: bool = True, latest: bool = False):
    catalog = load_catalog(work["catalog"], registry=work["registry"])
    return plan_images(catalog, names, push=push, cache_path=work["cache"], latest=latest)


def _container_output(ref: str, command: str) -> str:
    import docker

    return docker.from_env().containers.run(ref, ["sh", "-c", command], remove=True).decode()


def test_first_run_builds_in_order_second_run_does_nothing(work: dict) -> None:
    rec = Recorder()
    first = _run(work, on_event=rec, parallel=3)
    raise_for(first)
    assert {o.name: o.status for o in first.outcomes} == {n: "built+pushed" for n in FIVE}
    for derived, base in (("gr00t", "gr00t-base"), ("openpi", "openpi-base")):
        # a base is built before its dependents start building (they may overlap its push),
        # and it is in the registry before any of them is pushed
        assert rec.index(base, "pushing") < rec.index(derived, "building")
        assert rec.index(base, "built+pushed") < rec.index(derived, "pushing")
    steps = first.plan.by_name()
    assert steps["gr00t"].build_args["BASE_IMAGE"] == steps["gr00t-base"].key_ref
    for step in first.plan.steps:
        # upstream's habit: branch (`/` -> `-`) and short SHA; `latest` only under CI or --latest
        assert step.tags == [BRANCH_TAG, work["sha"], step.key_tag]
        for tag in step.tags:
            assert image_present(f"{step.repo_ref}:{tag}")
        assert not image_present(f"{step.repo_ref}:latest")
    env = read_image_env(work["env"])
    assert env["RT_IMAGE_GR00T"] == steps["gr00t"].key_ref and env["RT_IMAGE_OPENPI_BASE"].endswith(
        steps["openpi-base"].key_tag)
    assert env["IMAGE_TAG"] == BRANCH_TAG  # what upstream's `make push` writes to docker/.env
    assert "OPENPI_HOME=/opt/openpi" in _container_output(env["RT_IMAGE_OPENPI"], "env")
    # BuildKit ran the heredocs and the cache mounts; gr00t sits on the gr00t-base just built
    out = _container_output(env["RT_IMAGE_GR00T"], "cat /etc/profile.d/gr00t.sh /opt/gr00t/.uv-cache-builds "
                                                   "/opt/rt-build/positronic")
    assert "export GR00T_HOME=/opt/gr00t" in out and "positronic sandbox source" in out

    # Second run, through the CLI as a user types it: nothing built, nothing pushed, quick.
    started = time.monotonic()
    done = run_cli("images.push", "--json", timeout=60, env=_cli_env(work))
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert [r["status"] for r in json.loads(done.stdout)] == ["up to date"] * 5
    assert "building" not in done.stderr and "pushing" not in done.stderr
    assert elapsed < 5, f"no-op push took {elapsed:.1f}s"
    cache = json.loads((work["dir"] / "state" / "images" / "file-digests.json").read_text())  # in INVOKE_VM_STATE_DIR
    assert cache["version"] == "rt-file-digests-v2" and cache["entries"]


def _cli_env(work: dict, **extra: str) -> dict:
    env = {**os.environ, "INVOKE_IMAGES_CATALOG": str(work["catalog"]), "INVOKE_IMAGES_REGISTRY": work["registry"],
           "INVOKE_IMAGES_ENV_FILE": str(work["env"]), "INVOKE_VM_STATE_DIR": str(work["dir"] / "state"), "CI": ""}
    return {**env, **extra}


def test_changed_base_source_rebuilds_exactly_its_chain(work: dict) -> None:
    raise_for(_run(work, latest=True))
    (work["dir"] / "repos" / "openpi" / "README.md").write_text("docs only, ignored by .dockerignore\n")
    (work["dir"] / "repos" / "openpi" / "scratch").mkdir()
    (work["dir"] / "repos" / "openpi" / "scratch" / "wip.txt").write_text("ignored too\n")
    assert _plan(work).work == []  # files .dockerignore excludes change nothing

    (work["dir"] / "repos" / "openpi" / "src" / "VERSION").write_text("openpi changed\n")
    plan = _plan(work)
    assert sorted(s.name for s in plan.work) == ["openpi", "openpi-base"]
    rec = Recorder()
    result = _run(work, on_event=rec, latest=True)  # as `--latest` (or CI=1) does
    raise_for(result)
    assert rec.built() == {"openpi", "openpi-base"}
    assert {o.name for o in result.outcomes if o.status == "built+pushed"} == {"openpi", "openpi-base"}
    new_openpi = result.plan.by_name()["openpi"].key_ref
    assert read_image_env(work["env"])["RT_IMAGE_OPENPI"] == new_openpi
    assert _container_output(new_openpi, "cat /opt/openpi/VERSION").strip() == "openpi changed"

    # Back to the old sources: their keys are in the registry, so nothing builds; `latest`, the
    # branch and the SHA tag are re-pointed inside the registry at the old keys.
    (work["dir"] / "repos" / "openpi" / "src" / "VERSION").write_text("openpi sandbox source 1\n")
    rec = Recorder()
    back = _run(work, on_event=rec, latest=True)
    raise_for(back)
    assert rec.built() == set()
    assert {o.name: o.status for o in back.outcomes if o.status != "up to date"} == {
        "openpi-base": "retagged", "openpi": "retagged"}
    openpi = back.plan.by_name()["openpi"]
    for tag in ("latest", BRANCH_TAG, work["sha"]):
        assert manifest_digest(f"{openpi.repo_ref}:{tag}") == manifest_digest(openpi.key_ref)
    import docker

    docker.from_env().images.pull(openpi.repo_ref, tag="latest")  # the local `latest` still names the newer one
    latest = _container_output(f"{openpi.repo_ref}:latest", "cat /opt/openpi/VERSION")
    assert latest.strip() == "openpi sandbox source 1"
    assert _plan(work, latest=True).work == []


def test_build_only_keeps_registry_untouched(work: dict) -> None:
    rec = Recorder()
    result = _run(work, ["gr00t"], push=False, on_event=rec)
    raise_for(result)
    assert [o.status for o in result.outcomes] == ["built", "built"]
    assert not any(s == "pushing" for _, s in rec.events)
    gr00t = result.plan.by_name()["gr00t"]
    assert not image_present(gr00t.key_ref)
    # gr00t was built FROM a base that exists only in the local engine (never pushed, never pulled)
    assert gr00t.build_args["BASE_IMAGE"] == gr00t.base_ref and not image_present(gr00t.base_ref)
    assert "GR00T_HOME=/opt/gr00t" in _container_output(gr00t.key_ref, "env")
    # A later push only pushes what was built here, and builds nothing again.
    plan = _plan(work, ["gr00t"])
    assert [s.action for s in plan.steps] == ["push", "push"]


def test_push_of_an_image_built_at_another_commit_tags_it_first(work: dict) -> None:
    """Built here at one commit, pushed at the next (same sources, so the same key): the new SHA tag
    exists nowhere yet, and images.push tags the engine's image with it before pushing."""
    raise_for(_run(work, ["gr00t-base"], push=False))
    subprocess.run(["git", "-C", str(work["dir"] / "repos"), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "commit", "-q", "--allow-empty", "-m", "docs only"], check=True, capture_output=True)
    plan = _plan(work, ["gr00t-base"])
    step = plan.by_name()["gr00t-base"]
    new_sha = step.moving_tags[-1]
    assert step.action == "push" and new_sha != work["sha"]
    assert not image_present(step.key_ref)
    result = _run(work, ["gr00t-base"])
    raise_for(result)
    assert [o.status for o in result.outcomes] == ["pushed"]
    for tag in (BRANCH_TAG, new_sha):
        assert manifest_digest(f"{step.repo_ref}:{tag}") == manifest_digest(step.key_ref)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_registry(tmp: Path, port: int, extra: str = "") -> subprocess.Popen:
    config = tmp / "registry.yml"
    config.write_text(f"version: 0.1\nlog: {{level: error}}\n"
                      f"storage:\n  filesystem: {{rootdirectory: {tmp / 'data'}}}\n"
                      f"http: {{addr: '127.0.0.1:{port}'}}\n{extra}")
    proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return proc
        except urllib.error.HTTPError:
            return proc  # it answers (401 when it wants credentials)
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("test registry did not start")


def test_registry_stopped_mid_run_then_rerun_finishes_the_rest(work: dict) -> None:
    port = _free_port()
    registry = f"127.0.0.1:{port}/{work['prefix']}"
    proc = _start_registry(work["dir"], port)
    try:
        def stop_after_first_push(name: str, status: str) -> None:
            if status == "built+pushed" and proc.poll() is None:
                proc.kill()
                proc.wait()

        first = _run(work, registry=registry, parallel=1, on_event=Recorder(stop_after_first_push))
        statuses = {o.name: o.status for o in first.outcomes}
        assert list(statuses.values()).count("built+pushed") == 1
        assert "failed" in statuses.values()
        with pytest.raises(ImageError, match="not done.*push of .* failed") as info:
            raise_for(first)
        assert info.value.exit_code == ExitCode.IMAGE
        built_before = {o.name for o in first.outcomes if o.status in ("built+pushed", "failed")}

        proc = _start_registry(work["dir"], port)  # same storage: what was pushed is still there
        rec = Recorder()
        second = _run(work, registry=registry, parallel=1, on_event=rec)
        raise_for(second)
        assert not (rec.built() & built_before), "a rerun must not rebuild what the first run built"
        done_first = [n for n, s in statuses.items() if s == "built+pushed"]
        assert {o.name: o.status for o in second.outcomes}[done_first[0]] == "up to date"
        assert _run(work, registry=registry).plan.work == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_base_whose_push_fails_blocks_its_dependent_which_waits_built(work: dict) -> None:
    """gr00t builds FROM gr00t-base while the base is pushed; it is never pushed before its base is."""
    port = _free_port()
    registry = f"127.0.0.1:{port}/{work['prefix']}"
    proc = _start_registry(work["dir"], port)
    try:
        def kill_when_base_is_built(name: str, status: str) -> None:
            if (name, status) == ("gr00t-base", "pushing") and proc.poll() is None:
                proc.kill()
                proc.wait()

        rec = Recorder(kill_when_base_is_built)
        first = _run(work, ["gr00t"], registry=registry, on_event=rec)
        statuses = {o.name: (o.status, o.detail) for o in first.outcomes}
        assert statuses["gr00t-base"][0] == "failed" and "push of" in statuses["gr00t-base"][1]
        assert statuses["gr00t"] == ("blocked", "base gr00t-base failed; built here, not pushed")
        assert ("gr00t", "pushing") not in rec.events and rec.built() == {"gr00t-base", "gr00t"}

        proc = _start_registry(work["dir"], port)
        rec = Recorder()
        second = _run(work, ["gr00t"], registry=registry, on_event=rec)
        raise_for(second)
        assert [o.status for o in second.outcomes] == ["pushed", "pushed"] and rec.built() == set()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_no_usable_buildx_builder_fails_before_building(work: dict) -> None:
    env = _cli_env(work, BUILDX_BUILDER="rt-no-such-builder")  # buildx's own variable: which builder to use
    done = run_cli("images.push", timeout=60, env=env)
    assert done.returncode == ExitCode.IMAGE
    assert 'docker buildx cannot build: ERROR: no builder "rt-no-such-builder" found' in done.stderr
    assert "fix: install the buildx plugin" in done.stderr and "docker buildx use default" in done.stderr
    assert "building" not in done.stderr and _registry_repos(work["prefix"]) == []


def test_unreachable_registry_fails_before_building(work: dict) -> None:
    env = {**_cli_env(work), "INVOKE_IMAGES_REGISTRY": f"127.0.0.1:{_free_port()}/x"}
    done = run_cli("images.push", timeout=60, env=env)
    assert done.returncode == ExitCode.IMAGE
    assert "unreachable" in done.stderr and "fix:" in done.stderr
    assert "building" not in done.stderr


def _registry_repos(prefix: str) -> list[str]:
    """Which of the five repositories exist under the prefix (tags/list answers 404 for none)."""
    found = []
    for name in ("gr00t-base", "openpi-base", "positronic", "gr00t", "openpi"):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:5000/v2/{prefix}/positro/{name}/tags/list", timeout=5)
            found.append(name)
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
    return found


@pytest.mark.parametrize("case", ["unknown-name", "cycle", "missing-dockerfile"])
def test_bad_input_is_a_clear_error_and_pushes_nothing(work: dict, case: str) -> None:
    args = ["images.push"]
    catalog = work["catalog"]
    if case == "unknown-name":
        args.append("gr00t,nope")
    elif case == "cycle":
        catalog.write_text(catalog.read_text().replace("    dockerfile: docker/Dockerfile\n",
                                                       "    dockerfile: docker/Dockerfile\n    base: gr00t\n", 1))
    else:
        (work["dir"] / "repos" / "positronic" / "docker" / "Dockerfile.openpi").unlink()
    done = run_cli(*args, timeout=60, env=_cli_env(work))
    expected = {"unknown-name": (ExitCode.BAD_INPUT, "unknown image 'nope'"),
                "cycle": (ExitCode.IMAGE, "base cycle gr00t-base -> gr00t -> gr00t-base"),
                "missing-dockerfile": (ExitCode.IMAGE, "Dockerfile.openpi does not exist")}[case]
    assert done.returncode == expected[0], done.stderr
    assert expected[1] in done.stderr and "fix:" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _registry_repos(work["prefix"]) == []


def test_private_registry_credentials_come_from_docker_config(work: dict, tmp_path: Path, monkeypatch) -> None:
    import base64

    import bcrypt

    port = _free_port()
    hashed = bcrypt.hashpw(b"s3cret-pw", bcrypt.gensalt(rounds=4)).decode()  # cheap: every request checks it
    (tmp_path / "htpasswd").write_text(f"rt:{hashed}\n")
    proc = _start_registry(tmp_path, port, f"auth:\n  htpasswd: {{realm: rt, path: {tmp_path / 'htpasswd'}}}\n")
    registry = f"127.0.0.1:{port}/{work['prefix']}"
    try:
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-login"))
        with pytest.raises(ImageError, match="needs credentials.*docker login 127.0.0.1"):
            _run(work, ["gr00t-base"], registry=registry)

        login = tmp_path / "login"  # what `docker login` leaves behind
        login.mkdir()
        token = base64.b64encode(b"rt:s3cret-pw").decode()
        (login / "config.json").write_text(json.dumps({"auths": {f"127.0.0.1:{port}": {"auth": token}}}))
        monkeypatch.setenv("DOCKER_CONFIG", str(login))
        result = _run(work, ["gr00t-base"], registry=registry)
        raise_for(result)
        assert [o.status for o in result.outcomes] == ["built+pushed"]
        assert image_present(result.outcomes[0].ref)
        assert "s3cret-pw" not in json.dumps([o.__dict__ for o in result.outcomes])
    finally:
        proc.kill()
        proc.wait()


def test_failed_base_blocks_its_chain_only_and_exits_non_zero(work: dict) -> None:
    dockerfile = work["dir"] / "repos" / "gr00t" / "docker" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN echo broken-on-purpose && false\n")
    done = run_cli("images.push", timeout=180, env=_cli_env(work))
    assert done.returncode == ExitCode.IMAGE
    rows = {line.split("│")[1].strip(): line for line in done.stdout.splitlines() if line.count("│") > 3}
    assert "failed" in rows["gr00t-base"] and "blocked" in rows["gr00t"]
    for name in ("openpi-base", "positronic", "openpi"):  # the independent chains still finished
        assert "built+pushed" in rows[name]
    assert "2 image(s) not done: gr00t-base (failed), gr00t (blocked)" in done.stderr
    assert "build of gr00t-base failed" in done.stderr
    env = read_image_env(work["env"])
    assert "RT_IMAGE_OPENPI" in env and "RT_IMAGE_GR00T" not in env and "IMAGE_TAG" not in env
    assert sorted(_registry_repos(work["prefix"])) == ["openpi", "openpi-base", "positronic"]


def test_docker_makefile_keeps_the_seed_targets(work: dict) -> None:
    dry = subprocess.run(["make", "-n", "-C", str(ROOT / "docker"), "push", "push-training", "push-groot",
                          "push-openpi"], text=True, capture_output=True, timeout=30)
    assert dry.returncode == 0, dry.stderr
    tails = [line.split("invoke ", 1)[1].split() for line in dry.stdout.splitlines() if "invoke " in line]
    assert tails == [["images.push"], ["images.push", "positronic"], ["images.push", "gr00t"],
                     ["images.push", "openpi"]]
    done = subprocess.run(["make", "-s", "-C", str(ROOT / "docker"), "push-training"], text=True,
                          capture_output=True, timeout=120, env=_cli_env(work))
    assert done.returncode == 0, done.stderr
    assert "built+pushed" in done.stdout and "positronic" in done.stdout
    assert read_image_env(work["env"])["IMAGE_TAG"] == BRANCH_TAG
    assert list(read_image_env(work["env"])) == ["RT_IMAGE_POSITRONIC", "IMAGE_TAG"]


CATALOG_DOCKERFILES = ["gr00t/docker/Dockerfile", "openpi/docker/Dockerfile.training.cloud",
                       "positronic/docker/Dockerfile.training.cloud", "positronic/docker/Dockerfile.groot",
                       "positronic/docker/Dockerfile.openpi"]


@pytest.mark.parametrize("rel", CATALOG_DOCKERFILES)
def test_classic_builder_refuses_the_catalog_dockerfiles(work: dict, rel: str) -> None:
    """Like the team's real gr00t-base Dockerfile, each uses a cache mount and a heredoc, which only
    BuildKit builds; docker-py's classic api.build (what images.push used before) fails on them."""
    import docker

    text = (work["dir"] / "repos" / rel).read_text()
    assert "RUN --mount=type=cache," in text and "<<EOF" in text
    # no parser directive: the engine's built-in frontend builds these; `# syntax=` would pull from the Hub
    assert not any(line.replace(" ", "").lower().startswith("#syntax=") for line in text.splitlines())
    repo, _, dockerfile = rel.partition("/")
    client = docker.from_env()
    stream = client.api.build(path=str(work["dir"] / "repos" / repo), dockerfile=dockerfile, decode=True,
                              tag=f"rt-classic-{work['prefix']}:{repo}", pull=False, rm=True, forcerm=True,
                              buildargs={"BASE_IMAGE": "rt-sandbox/base:latest"})
    errors = [chunk.get("error", "") for chunk in stream if "error" in chunk]
    assert errors and "requires BuildKit" in errors[0], errors
    assert not client.images.list(name=f"rt-classic-{work['prefix']}")


def _tagged_refs(commands: list[str]) -> list[str]:
    """The refs a step's commands tag (-t) or push."""
    refs = []
    for command in commands:
        argv = command.split()
        refs += [argv[i + 1] for i, a in enumerate(argv) if a == "-t"]
        if argv[:2] == ["docker", "push"]:
            refs.append(argv[-1])
    return refs


def test_dry_run_prints_the_exact_buildx_commands_and_latest_follows_ci(work: dict) -> None:
    def dry(*flags: str, **env: str) -> list[dict]:
        done = run_cli("images.push", "--dry-run", "--json", *flags, timeout=60, env=_cli_env(work, **env))
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    plain = {row["image"]: row for row in dry()}
    gr00t, base = plain["gr00t"], plain["gr00t-base"]
    assert gr00t["tags"] == [BRANCH_TAG, work["sha"], gr00t["ref"].rsplit(":", 1)[1]]
    build = gr00t["commands"][0]
    assert build.startswith("docker buildx build --progress=plain --platform linux/amd64 -f ")
    assert f"--build-arg BASE_IMAGE={base['ref']}" in build and "--label rt.source_key=" in build
    assert [c.split()[:3] for c in gr00t["commands"][1:]] == [["docker", "push", "--quiet"]] * 3
    assert gr00t["commands"][-1].endswith(gr00t["ref"])  # the key tag is pushed last
    assert not any(ref.endswith(":latest") for row in plain.values() for ref in _tagged_refs(row["commands"]))
    for rows in (dry(CI="1"), dry("--latest")):
        assert all(row["tags"][2] == "latest" for row in rows)
        assert all(f"{row['ref'].rsplit(':', 1)[0]}:latest" in _tagged_refs(row["commands"]) for row in rows)

    # Exact: the printed build command, run by a shell, builds the image that images.push then only pushes.
    subprocess.run(base["commands"][0], shell=True, check=True, capture_output=True, timeout=120)
    steps = _plan(work).by_name()
    assert steps["gr00t-base"].action == "push" and steps["gr00t-base"].key_ref == base["ref"]
    result = _run(work, ["gr00t-base"])
    raise_for(result)
    assert [o.status for o in result.outcomes] == ["pushed"] and image_present(base["ref"])


def test_cli_keeps_the_digest_cache_in_vm_state_dir_else_the_deprecated_rt_state_dir(work: dict) -> None:
    config, old = str(work["dir"] / "config-state"), str(work["dir"] / "env-state")
    cases = (({"INVOKE_VM_STATE_DIR": config}, "config-state"), ({"RT_STATE_DIR": old}, "env-state"),
             ({"INVOKE_VM_STATE_DIR": config, "RT_STATE_DIR": old}, "config-state"))
    for extra, where in cases:
        env = {k: v for k, v in _cli_env(work).items() if k not in ("INVOKE_VM_STATE_DIR", "RT_STATE_DIR")}
        done = run_cli("images.plan", "--json", timeout=60, env={**env, **extra})
        assert done.returncode == 0, done.stderr
        warned = [line for line in done.stderr.splitlines() if "RT_STATE_DIR is deprecated" in line]
        assert len(warned) == (where == "env-state"), done.stderr  # one line, only when the old name is read
        cache = json.loads((work["dir"] / where / "images" / "file-digests.json").read_text())
        assert cache["version"] == "rt-file-digests-v2"
        assert str(work["dir"] / "repos" / "gr00t" / "src" / "VERSION") in cache["entries"]
