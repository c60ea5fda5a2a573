"""Docker contexts named after the hosts, so `docker --context vm-train ps` keeps working.

Each host gets a context whose endpoint is ssh://<its ssh target> (an alias from
~/.ssh/config works, as the docker CLI runs the system ssh). An existing context
that points somewhere else is left alone unless force is given.
"""
from __future__ import annotations

import json
import shlex
import subprocess
from typing import Callable, Sequence

from ..errors import InputError, RTError
from .inventory import Host


def endpoint_for(host: Host) -> str:
    target = host.ssh_host if not host.ssh_user else f"{host.ssh_user}@{host.ssh_host}"
    return f"ssh://{target}" + (f":{host.ssh_port}" if host.ssh_port else "")


def _docker(argv: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=30)
    except FileNotFoundError as exc:
        raise RTError("the docker CLI is not installed here", "install docker.io (scripts/install.sh)") from exc


def current_endpoint(name: str) -> str | None:
    done = _docker(["context", "inspect", name])
    if done.returncode != 0:
        return None
    data = json.loads(done.stdout or "[]")
    return data[0].get("Endpoints", {}).get("docker", {}).get("Host") if data else None


def sync_contexts(hosts: Sequence[Host], *, force: bool = False, dry_run: bool = False,
                  echo: Callable[[str], None] = print) -> list[tuple[str, str, str]]:
    """Create missing contexts, update ones that moved (with force); returns (name, endpoint, action) rows."""
    rows = []
    refused = []
    for host in hosts:
        want = endpoint_for(host)
        have = current_endpoint(host.name)
        if have == want:
            rows.append((host.name, want, "up to date"))
            continue
        if have is not None and not force:
            refused.append(f"{host.name} (points at {have})")
            rows.append((host.name, want, f"kept {have}: use --force"))
            continue
        verb = "create" if have is None else "update"
        argv = ["context", verb, host.name, "--docker", f"host={want}",
                "--description", f"remote-training host {host.name}"]
        if dry_run:
            echo(shlex.join(["docker", *argv]))
            rows.append((host.name, want, f"would {verb}"))
            continue
        done = _docker(argv)
        if done.returncode != 0:
            raise RTError(f"docker context {verb} {host.name} failed: {done.stderr.strip()}",
                          "run the command by hand to see why")
        rows.append((host.name, want, f"{verb}d"))
    if refused and not dry_run and len(refused) == len(hosts):
        raise InputError("existing docker contexts point elsewhere: " + ", ".join(refused),
                         "inv vm.contexts --force updates them")
    return rows
