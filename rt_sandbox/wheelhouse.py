"""The real Python packages of an era's job image, at the versions its uv.lock pins, for its Python.

Downloaded with pip on this machine (binary wheels for the image's CPython and platform; a pure-Python
sdist is built into a wheel here) into a wheelhouse that stays between runs, then installed from it
with `--no-index` into a site folder that the image build copies: no network during the build.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import tomllib
from packaging.markers import Marker

from remote_training.errors import SandboxError

# Debian's CPython on amd64 is glibc-based: manylinux wheels fit (PEP 600 tags, newest first).
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64")
PIP_TIMEOUT_S = 600


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _marker_env(python: str) -> dict[str, str]:
    return {"python_version": python, "python_full_version": f"{python}.0", "sys_platform": "linux",
            "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
            "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}


def locked_closure(lock: Path, roots: tuple[str, ...], python: str) -> list[str]:
    """`name==version` for `roots` and everything they depend on, as the uv.lock file pins them."""
    packages = {}
    for package in tomllib.loads(lock.read_text())["package"]:
        packages.setdefault(_norm(package["name"]), package)
    env = _marker_env(python)
    wanted, todo = {}, [_norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        if name not in packages:
            raise SandboxError(f"sandbox: {name} is not in {lock}", "name only packages the era's lock file pins")
        wanted[name] = packages[name]["version"]
        for dep in packages[name].get("dependencies", []):
            marker = dep.get("marker")
            if marker is None or Marker(marker).evaluate(env):
                todo.append(_norm(dep["name"]))
    return sorted(f"{name}=={version}" for name, version in wanted.items())


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, timeout=PIP_TIMEOUT_S)


def _target_flags(python: str) -> list[str]:
    abi = "cp" + python.replace(".", "")
    flags = ["--only-binary=:all:", "--python-version", python, "--implementation", "cp", "--abi", abi,
             "--abi", "abi3", "--abi", "none"]
    for platform in PLATFORMS:
        flags += ["--platform", platform]
    return flags


def download(requirements: list[str], python: str, wheelhouse: Path, deps: bool = False) -> None:
    """Every requirement (with `deps`, and what pip resolves for them) as a wheel in `wheelhouse`; a set
    fetched once is not asked for again (a stamp named by its digest)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    stamp = wheelhouse / (".done-" + hashlib.sha256(repr((sorted(requirements), deps)).encode()).hexdigest()[:16])
    if stamp.exists():
        return
    failed = []
    if deps:
        got = _pip("download", "-d", str(wheelhouse), *_target_flags(python), *requirements)
        if got.returncode != 0:
            failed.append(f"{' '.join(requirements)} ({got.stderr.strip().splitlines()[-1:]})")
    for requirement in [] if deps else requirements:
        got = _pip("download", "--no-deps", "-d", str(wheelhouse), *_target_flags(python), requirement)
        if got.returncode != 0:  # no wheel published: a pure-Python sdist, built into a wheel here
            got = _pip("wheel", "--no-deps", "-w", str(wheelhouse), requirement)
        if got.returncode != 0:
            failed.append(f"{requirement} ({got.stderr.strip().splitlines()[-1:]})")
    if failed:
        raise SandboxError(f"sandbox: pip could not fetch {', '.join(failed)} for Python {python}",
                           "check that pip reaches the package index (pip config list)")
    stamp.touch()


def install(requirements: list[str], python: str, wheelhouse: Path, target: Path, deps: bool = False) -> None:
    """The requirements (with `deps`, and theirs) installed from the wheelhouse alone into `target`."""
    got = _pip("install", "--no-index", "--find-links", str(wheelhouse), *([] if deps else ["--no-deps"]),
               "--target", str(target), *_target_flags(python), *requirements)
    if got.returncode != 0:
        raise SandboxError(f"sandbox: installing the wheelhouse for Python {python} failed: {got.stderr[-300:]}",
                           f"remove {wheelhouse} and run it again")
