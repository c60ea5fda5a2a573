"""Checks of this machine: Docker engine, docker contexts, display vs MUJOCO_GL."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

from ..fleet.inventory import Host
from .base import FAIL, OK, WARN, Verdict, short


def check_docker_engine(env: Mapping[str, str], timeout: float) -> Verdict:
    import docker

    where = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(environment=dict(env), timeout=max(1, int(timeout)))
        version = client.version().get("Version", "?")
        client.close()
    except Exception as exc:  # the SDK raises DockerException, requests errors, OSError...
        fix = "sudo systemctl start docker (or: sudo dockerd &)"
        if env.get("DOCKER_HOST"):
            fix = (f"start the engine behind DOCKER_HOST={env['DOCKER_HOST']}, "
                   "or unset DOCKER_HOST to use the default socket")
        return FAIL, f"no Docker engine answers at {where}: {short(exc)}", fix
    return OK, f"engine {version} answers at {where}", ""


def docker_contexts(env: Mapping[str, str]) -> dict[str, str]:
    """Context name -> docker endpoint, read from the CLI's own store (no docker CLI call)."""
    config_dir = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME", "~")) / ".docker").expanduser()
    found: dict[str, str] = {}
    for meta in sorted((config_dir / "contexts" / "meta").glob("*/meta.json")):
        try:
            data = json.loads(meta.read_text())
            found[data["Name"]] = data.get("Endpoints", {}).get("docker", {}).get("Host", "")
        except (OSError, ValueError, KeyError, AttributeError):
            continue  # a damaged entry is the docker CLI's business
    return found


def check_docker_context(host: Host, contexts: Mapping[str, str]) -> Verdict:
    from ..fleet.docker_contexts import endpoint_for  # the same endpoint `inv vm.contexts` writes

    want = endpoint_for(host)
    create = f"inv vm.contexts (or: docker context create {host.name} --docker host={want})"
    have = contexts.get(host.name)
    if have is None:
        return WARN, f"no docker context {host.name!r}, so `docker --context {host.name} ps` fails", create
    if have.rstrip("/") != want:
        return (FAIL, f"docker context {host.name!r} points at {have or 'nothing'}, the inventory says {want}",
                f"inv vm.contexts --force (or: docker context update {host.name} --docker host={want})")
    return OK, f"context {host.name} -> {want}", ""


def check_display(env: Mapping[str, str]) -> Verdict:
    display = env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    gl = (env.get("MUJOCO_GL") or "").lower()
    if display:
        return OK, f"display {display} (MUJOCO_GL={gl or 'unset'})", ""
    if gl in ("egl", "osmesa"):
        return OK, f"headless, MUJOCO_GL={gl}", ""
    if gl:
        return (FAIL, f"no DISPLAY but MUJOCO_GL={gl}: the inference client will fail in gladLoadGL",
                "export MUJOCO_GL=egl")
    return (WARN, "no DISPLAY and MUJOCO_GL unset: a bare inference client fails in gladLoadGL "
            "(inv infer.sim sets it itself)", "export MUJOCO_GL=egl")


def check_checkout(compose_project: str) -> Verdict:
    """The team's positronic checkout: present, and of a layout (era) this tool knows."""
    from ..errors import RTError
    from ..jobs.catalog import load_checkout

    if not compose_project:
        return (FAIL, "no positronic checkout is configured",
                "clone positronic beside this project, or set jobs.compose_project to its docker/ folder")
    try:
        checkout = load_checkout(Path(compose_project))
    except RTError as exc:
        return FAIL, exc.message, exc.fix or "point jobs.compose_project at positronic's docker/ folder"
    return OK, f"{compose_project}: {checkout.era.label}, {len(checkout.services)} services", ""
