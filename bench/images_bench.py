"""Benchmark of `images.push` on the five-image catalog, each Dockerfile holding `RUN sleep 2`.

Prints (a) no-op run time / full run time (target <= 0.05) and (b) full run
time / sum of the five images built and pushed one by one (target <= 0.75).
Needs the root engine, the registry at localhost:5000 and rt-sandbox/base:latest
(`inv sandbox.up`). A per-phase nonce build arg keeps Docker's layer cache from
turning a later phase into a no-op; each phase pushes to its own registry prefix.
Usage: python3 bench/images_bench.py [--files N] [--parallel N]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))

from remote_training.images.catalog import load_catalog  # noqa: E402
from remote_training.images.service import raise_for, run_images  # noqa: E402
from remote_training.images.source_key import context_entries  # noqa: E402

SANDBOX = PROJECT / "docker" / "sandbox"
ROOT_DOCKERFILE = """ARG SANDBOX_BASE=rt-sandbox/base:latest
FROM ${SANDBOX_BASE}
ARG BENCH_NONCE=
COPY src/ /opt/app/
RUN sleep 2 && echo "$BENCH_NONCE" > /opt/nonce
"""
DERIVED_DOCKERFILE = """ARG BASE_IMAGE=unset
FROM ${BASE_IMAGE}
ARG BENCH_NONCE=
COPY bin/ /usr/local/bin/
COPY src/ /positronic/
RUN sleep 2 && echo "$BENCH_NONCE" > /positronic/nonce
"""
DOCKERFILES = {"gr00t/docker/Dockerfile": ROOT_DOCKERFILE, "openpi/docker/Dockerfile.training.cloud": ROOT_DOCKERFILE,
               "positronic/docker/Dockerfile.training.cloud": ROOT_DOCKERFILE,
               "positronic/docker/Dockerfile.groot": DERIVED_DOCKERFILE,
               "positronic/docker/Dockerfile.openpi": DERIVED_DOCKERFILE}
ORDER = ["gr00t-base", "openpi-base", "positronic", "gr00t", "openpi"]


def make_workspace(tmp: Path, files: int) -> Path:
    shutil.copytree(SANDBOX / "repos", tmp / "repos", symlinks=True)
    for rel, text in DOCKERFILES.items():
        (tmp / "repos" / rel).write_text(text)
    data = tmp / "repos" / "positronic" / "data"  # in the context (hashed, sent), copied by no Dockerfile
    for i in range(files):
        sub = data / f"d{i // 200:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:05d}.txt").write_text(f"sample {i}\n")
    old = time.time() - 60  # older than the cache's racy window, as a checkout would be
    for p in tmp.rglob("*"):
        os.utime(p, (old, old), follow_symlinks=False)
    return tmp / "images.yaml"


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
                        on_event=lambda *a: None)
    elapsed = time.perf_counter() - started
    raise_for(result)
    return elapsed, result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=3000, help="extra files in the positronic context")
    ap.add_argument("--parallel", type=int, default=3, help="chains built at once in the full run")
    opts = ap.parse_args()
    import contextlib
    import io

    with tempfile.TemporaryDirectory(prefix="rt-images-bench-") as tmp_name:
        tmp = Path(tmp_name)
        catalog = make_workspace(tmp, opts.files)
        cache, env = tmp / "hashes.json", tmp / "bench.env"
        run_id = uuid.uuid4().hex[:8]
        quiet = contextlib.redirect_stderr(io.StringIO())  # per-image progress lines are noise here

        # (b) denominator: the five images one by one, each a run of its own, bases first.
        write_catalog(catalog, f"solo-{run_id}")
        solo: dict[str, float] = {}
        with quiet:
            for name in ORDER:
                solo[name], _ = timed_run(catalog, f"localhost:5000/bench-{run_id}-solo", cache, env, [name], 1)
        # full run: everything that changed, chains in parallel
        write_catalog(catalog, f"full-{run_id}")
        with contextlib.redirect_stderr(io.StringIO()):
            full, _ = timed_run(catalog, f"localhost:5000/bench-{run_id}-full", cache, env,
                                parallel=opts.parallel)
            noop, result = timed_run(catalog, f"localhost:5000/bench-{run_id}-full", cache, env)
        assert not result.plan.work, "the no-op run found work"
        cli_env = {**os.environ, "INVOKE_IMAGES_CATALOG": str(catalog),
                   "INVOKE_IMAGES_REGISTRY": f"localhost:5000/bench-{run_id}-full",
                   "INVOKE_IMAGES_ENV_FILE": str(env), "XDG_CACHE_HOME": str(tmp / "xdg")}
        cli_times = []
        for _ in range(2):  # the first fills the CLI's own hash cache
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "invoke", "images.push"], cwd=PROJECT, env=cli_env, check=True,
                           capture_output=True)
            cli_times.append(time.perf_counter() - started)
        contexts = {s.spec.context for s in result.plan.steps}  # three positronic images share one context
        files_hashed = sum(len(context_entries(c)) for c in contexts)
        _cleanup(run_id)

    total_solo = sum(solo.values())
    print(f"context entries walked per run: {files_hashed} in {len(contexts)} contexts, parallel: {opts.parallel}")
    print("one by one: " + ", ".join(f"{n} {t:.2f}s" for n, t in solo.items()) + f"; sum {total_solo:.2f}s")
    print(f"full run: {full:.2f}s   no-op run: {noop:.3f}s (in-process)   "
          f"`inv images.push` no-op: {cli_times[1]:.2f}s warm cache, {cli_times[0]:.2f}s cold")
    a, b = noop / full, full / total_solo
    print(f"(a) no-op / full        = {a:.3f}  (target <= 0.05) {'OK' if a <= 0.05 else 'MISSED'}")
    print(f"(b) full / sum one-by-one = {b:.3f}  (target <= 0.75) {'OK' if b <= 0.75 else 'MISSED'}")
    return 0 if a <= 0.05 and b <= 0.75 else 1


def _cleanup(run_id: str) -> None:
    import docker

    client = docker.from_env()
    for image in client.images.list():
        for tag in image.tags:
            if f"/bench-{run_id}-" in tag:
                client.images.remove(tag, force=True)


if __name__ == "__main__":
    sys.exit(main())
