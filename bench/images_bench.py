"""Benchmark of `images.push` on the five-image catalog with realistic contexts, built by BuildKit.

The sandbox repositories are copied to a temporary folder, each made a git checkout of
its own, and given a realistic weight: a 150 MiB model-weights file in gr00t (random
bytes, baked into gr00t-base as a base bakes its weights), an 8 MiB asset in openpi
and 3000 small source files in positronic: over 160 MB across the contexts, mostly
that one file. Nothing big is ever written inside this repository. Each Dockerfile
uses BuildKit-only syntax (a cache mount, a heredoc) and a `RUN sleep 2`.

Prints (a) no-op push / full push (target <= 0.05, and the no-op at most 1 s as
`inv images.push` runs it) and (b) full push of the whole DAG / the five images built
and pushed one by one (target <= 0.75). Each phase gets its own nonce (a build arg and
the weights file's first bytes), so Docker's layer cache never turns a later phase into
a no-op and every phase uploads fresh weights; each pushes to its own registry prefix.
Needs the root engine, buildx, the registry at localhost:5000 and rt-sandbox/base:latest
(`inv sandbox.up`).
Usage: python3 bench/images_bench.py [--weights-mb N] [--files N] [--parallel N]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

from remote_training.images.catalog import load_catalog  # noqa: E402
from remote_training.images.service import raise_for, run_images  # noqa: E402
from remote_training.images.source_key import context_entries  # noqa: E402

SANDBOX = PROJECT / "docker" / "sandbox"
ROOT_DOCKERFILE = """ARG SANDBOX_BASE=rt-sandbox/base:latest
FROM ${SANDBOX_BASE}
ARG BENCH_NONCE=
COPY . /opt/app/
RUN --mount=type=cache,target=/root/.cache/uv <<EOF
set -e
sleep 2
echo "$BENCH_NONCE" >> /root/.cache/uv/builds.log
echo "$BENCH_NONCE" > /opt/nonce
EOF
"""
DERIVED_DOCKERFILE = """ARG BASE_IMAGE=unset
FROM ${BASE_IMAGE}
ARG BENCH_NONCE=
COPY src/ /positronic/
RUN --mount=type=cache,target=/root/.cache/uv <<EOF
set -e
sleep 2
echo "$BENCH_NONCE" > /positronic/nonce
EOF
"""
DOCKERFILES = {"gr00t/docker/Dockerfile": ROOT_DOCKERFILE, "openpi/docker/Dockerfile.training.cloud": ROOT_DOCKERFILE,
               "positronic/docker/Dockerfile.training.cloud": ROOT_DOCKERFILE,
               "positronic/docker/Dockerfile.groot": DERIVED_DOCKERFILE,
               "positronic/docker/Dockerfile.openpi": DERIVED_DOCKERFILE}
ORDER = ["gr00t-base", "openpi-base", "positronic", "gr00t", "openpi"]
WEIGHTS = "gr00t/weights/model.safetensors"


def make_workspace(tmp: Path, weights_mb: int, files: int) -> Path:
    shutil.copytree(SANDBOX / "repos", tmp / "repos", symlinks=True)
    for rel, text in DOCKERFILES.items():
        (tmp / "repos" / rel).write_text(text)
    _random_file(tmp / "repos" / WEIGHTS, weights_mb << 20)
    _random_file(tmp / "repos" / "openpi" / "assets" / "norm_stats.bin", 8 << 20)
    data = tmp / "repos" / "positronic" / "src" / "data"  # copied into three images
    for i in range(files):
        sub = data / f"d{i // 200:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:05d}.py").write_text(f"SAMPLE = {i}\n")
    for repo in ("gr00t", "openpi", "positronic"):  # each its own checkout; weights are not committed
        folder = tmp / "repos" / repo
        (folder / ".gitignore").write_text("weights/\nassets/\n")
        for args in (["init", "-q", "-b", "bench/images"], ["add", "-A"], ["commit", "-q", "-m", "bench"]):
            subprocess.run(["git", "-C", str(folder), "-c", "user.name=bench", "-c", "user.email=b@example.com",
                            *args], check=True, capture_output=True)
    return tmp / "images.yaml"


def _random_file(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for _ in range(size >> 20):
            fh.write(os.urandom(1 << 20))


def _age(folder: Path) -> None:
    """Mtimes a minute old, as a checkout's are (the cache never trusts a file changed in the last 2 s)."""
    old = time.time() - 60
    for p in [folder, *folder.rglob("*")]:
        os.utime(p, (old, old), follow_symlinks=False)


def set_phase(tmp: Path, nonce: str) -> None:
    """New weights for a phase (its nonce in the file's first bytes: a fresh layer to build and upload)
    and a new build arg (fresh RUN layers everywhere)."""
    with open(tmp / "repos" / WEIGHTS, "r+b") as fh:
        fh.write(nonce.encode().ljust(64, b"\0"))
    write_catalog(tmp / "images.yaml", nonce)
    _age(tmp / "repos")


def write_catalog(path: Path, nonce: str) -> None:
    text = (SANDBOX / "images.yaml").read_text()
    text = text.replace('{SANDBOX_BASE: "rt-sandbox/base:latest"}',
                        f'{{SANDBOX_BASE: "rt-sandbox/base:latest", BENCH_NONCE: "{nonce}"}}')
    for derived in ("docker/Dockerfile.groot", "docker/Dockerfile.openpi"):
        text = text.replace(f"dockerfile: {derived}\n",
                            f"dockerfile: {derived}\n    build_args: {{BENCH_NONCE: \"{nonce}\"}}\n")
    path.write_text(text)


def timed_run(catalog_path: Path, registry: str, cache: Path, env: Path, names=None, parallel: int = 3) -> tuple:
    catalog = load_catalog(catalog_path, registry=registry)
    started = time.perf_counter()
    result = run_images(catalog, names, push=True, parallel=parallel, cache_path=cache, env_file=env, live=False,
                        latest=False, on_event=lambda *a: None)
    elapsed = time.perf_counter() - started
    raise_for(result)
    return elapsed, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights-mb", type=int, default=150, help="size of the model-weights file in gr00t (MiB)")
    ap.add_argument("--files", type=int, default=3000, help="small source files in the positronic context")
    ap.add_argument("--parallel", type=int, default=3, help="chains built at once in the full run")
    opts = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="rt-images-bench-") as tmp_name:
        tmp = Path(tmp_name)
        catalog = make_workspace(tmp, opts.weights_mb, opts.files)
        cache, env = tmp / "hashes.json", tmp / "bench.env"
        run_id = uuid.uuid4().hex[:8]
        quiet = contextlib.redirect_stderr(io.StringIO())  # per-image progress lines are noise here
        try:
            # (b) denominator: the five images one by one, each a run of its own, bases first.
            set_phase(tmp, f"solo-{run_id}")
            solo: dict[str, float] = {}
            with quiet:
                for name in ORDER:
                    solo[name], _ = timed_run(catalog, f"localhost:5000/bench-{run_id}-solo", cache, env, [name], 1)
            # the full push: everything changed (new weights, new nonce), independent chains in parallel
            set_phase(tmp, f"full-{run_id}")
            with contextlib.redirect_stderr(io.StringIO()):
                full, _ = timed_run(catalog, f"localhost:5000/bench-{run_id}-full", cache, env,
                                    parallel=opts.parallel)
                noop, result = timed_run(catalog, f"localhost:5000/bench-{run_id}-full", cache, env)
            assert not result.plan.work, "the no-op run found work"
            cli_env = {**os.environ, "INVOKE_IMAGES_CATALOG": str(catalog),
                       "INVOKE_IMAGES_REGISTRY": f"localhost:5000/bench-{run_id}-full",
                       "INVOKE_IMAGES_ENV_FILE": str(env), "INVOKE_VM_STATE_DIR": str(tmp / "state"), "CI": ""}
            cli_times = []
            for _ in range(4):  # the first fills the CLI's own digest cache (reads every file once)
                started = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "invoke", "images.push", "--json"], cwd=PROJECT,
                                      env=cli_env, check=True, capture_output=True, text=True)
                cli_times.append(time.perf_counter() - started)
                assert '"building"' not in done.stdout and "built" not in done.stdout, done.stdout
            contexts = {s.spec.context for s in result.plan.steps}  # three positronic images share one context
            entries = sum(len(context_entries(c)) for c in contexts)
            context_bytes = sum(os.path.getsize(e.path) for c in contexts for e in context_entries(c)
                                if e.kind == "file")
        finally:
            _cleanup(run_id)

    total_solo = sum(solo.values())
    warm = sorted(cli_times[1:])[len(cli_times[1:]) // 2]  # median of the warm runs
    print(f"contexts: {context_bytes / 1e6:.0f} MB in {entries} entries over {len(contexts)} contexts "
          f"(weights file {opts.weights_mb} MiB); parallel: {opts.parallel}")
    print("one by one: " + ", ".join(f"{n} {t:.2f}s" for n, t in solo.items()) + f"; sum {total_solo:.2f}s")
    print(f"full push: {full:.2f}s   no-op push: `inv images.push` {warm:.2f}s (median of {len(cli_times) - 1}, "
          f"warm digest cache; {cli_times[0]:.2f}s cold), {noop:.3f}s in-process")
    a, b = warm / full, full / total_solo
    ok_a, ok_b = a <= 0.05 and warm <= 1.0, b <= 0.75
    print(f"(a) no-op / full push     = {a:.3f}  (target <= 0.05 and no-op <= 1 s) {'OK' if ok_a else 'MISSED'}")
    print(f"(b) full / sum one-by-one = {b:.3f}  (target <= 0.75) {'OK' if ok_b else 'MISSED'}")
    return 0 if ok_a and ok_b else 1


def _cleanup(run_id: str) -> None:
    import docker

    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if f"/bench-{run_id}-" in tag:
                client.images.remove(tag, force=True)


if __name__ == "__main__":
    sys.exit(main())
