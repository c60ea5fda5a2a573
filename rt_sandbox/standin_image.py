"""A throwaway sandbox image holding the stand-in programs, for tests and the bench.

The images engineer's Dockerfiles build the real sandbox images; this one only
needs the sandbox base and docker/sandbox/repos/positronic/bin/, so jobs can be
tested on their own. Tagged by the content of bin/, built and pushed only when missing.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = "localhost:5000/rt-jobs-test/standin"
BASE = "rt-sandbox/base:latest"


def bin_dir(root: Path) -> Path:
    return root / "docker" / "sandbox" / "repos" / "positronic" / "bin"


def tag_for(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(bin_dir(root).iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{REPO}:bin-{digest.hexdigest()[:12]}"


def ensure(root: Path) -> str:
    """The image ref, built from the sandbox base and pushed to the sandbox registry if needed."""
    ref = tag_for(root)
    if subprocess.run(["docker", "image", "inspect", ref], capture_output=True).returncode != 0:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(bin_dir(root), Path(tmp) / "bin")
            (Path(tmp) / "Dockerfile").write_text(f"FROM {BASE}\nCOPY bin/ /usr/local/bin/\nWORKDIR /positronic\n")
            subprocess.run(["docker", "build", "-q", "-t", ref, tmp], check=True, capture_output=True,
                           env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})
    subprocess.run(["docker", "push", "-q", ref], check=True, capture_output=True)
    return ref


def write_env_file(path: Path, ref: str) -> Path:
    """An images env file naming the stand-in for every service image."""
    path.write_text("".join(f"{var}={ref}\n" for var in ("RT_IMAGE_GR00T", "RT_IMAGE_OPENPI", "RT_IMAGE_POSITRONIC")))
    return path
