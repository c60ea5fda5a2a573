"""The sandbox's Nebius API stand-in as a process: started by fleet.ensure_up (`python -m
rt_sandbox.nebius_standin`, rt_sandbox/nebius_standin.py), stopped by fleet.down. The fleet's side only: it
imports nothing of the server, so the server may import the fleet (its power hooks start and stop hosts)."""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .nebius_records import InstanceRecord

SANDBOX_PORT = 9556
SANDBOX_LOGS_PORT = 9557  # the serverless stand-in's Loki API


def sandbox_instance_id(name: str) -> str:
    return f"computeinstance-sandbox-{name}"


def _sandbox_paths(root: Path) -> tuple[Path, Path, Path]:
    sandbox = Path(root).resolve() / ".sandbox"
    return sandbox / "nebius", sandbox / "pids" / "nebius.pid", sandbox / "logs" / "nebius.log"


def ensure_sandbox_standin(root: Path, vms: dict[str, str], *, port: int = SANDBOX_PORT,
                           delay: float = 1.0, serverless: bool = False) -> dict[str, Any]:
    """Run the stand-in for the sandbox's VMs ({name: address}, all just brought up: RUNNING).

    A running stand-in is restarted only when the set of VMs changed (`--hosts N`),
    so it keeps its operations. Returns the `nebius:` section for .sandbox/hosts.yaml.
    """
    import socket
    import sys

    from rt_sandbox import procs

    state_dir, pid_file, log = _sandbox_paths(root)
    token = f"--state-dir {state_dir}"
    settings = {"endpoint": f"127.0.0.1:{port}", "insecure": True, "auth": "none"}
    wanted = {sandbox_instance_id(n): (n, a, "RUNNING") for n, a in vms.items()}
    try:
        saved = json.loads((state_dir / "state.json").read_text()).get("instances", [])
        have = {i["id"]: (i["name"], i["address"], i["state"]) for i in saved}
    except (FileNotFoundError, ValueError, KeyError):
        have = {}
    same_mode = not serverless or procs.alive(pid_file, "--serverless")
    if procs.alive(pid_file, token) and set(have) == set(wanted) and same_mode:
        return settings  # it follows power changes itself (probe); a restart would lose its operations
    procs.stop(pid_file, token)
    # Its port is fixed: a stand-in that another checkout left on it (a worktree or clone since deleted, its pid
    # file gone with it) would hold the port for good.
    ours = f" --sandbox-root {Path(root).resolve()} "
    procs.kill_all(procs.matching(lambda command, _cgroup: "rt_sandbox.nebius_standin" in command
                                  and f" --port {port} " in f"{command} " and ours not in f"{command} "))
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "port").unlink(missing_ok=True)
    records = [asdict(InstanceRecord(k, n, a, s, base_address=a)) for k, (n, a, s) in wanted.items()]
    (state_dir / "state.json").write_text(json.dumps({"instances": records}, indent=2))
    procs.start([sys.executable, "-m", "rt_sandbox.nebius_standin", "--state-dir", str(state_dir),
                 "--port", str(port), "--delay", str(delay), "--sandbox-root", str(Path(root).resolve()),
                 *(["--serverless", "--logs-port", str(SANDBOX_LOGS_PORT)] if serverless else [])],
                pid_file, log, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    began = time.monotonic()
    while time.monotonic() < began + 30:
        if (state_dir / "port").exists():
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    return settings
        if time.monotonic() > began + 5 and not procs.alive(pid_file, token):
            break  # (before exec the child still shows our own command line: give it a moment)
        time.sleep(0.1)
    from remote_training.errors import SandboxError

    procs.stop(pid_file, token)  # leave nothing half-started behind
    raise SandboxError(f"sandbox: the Nebius API stand-in did not start on 127.0.0.1:{port}",
                       f"see {log}, then inv sandbox.up again")


def powered_off_recently(root: Path, within: float = 600.0) -> set[str]:
    """VMs powered off through the API less than `within` seconds ago (or being powered off).

    sandbox.up leaves them off: someone (a test, a user) is using that state right now; an older
    stop is a leftover, and sandbox.up brings the VM back like any missing part.
    """
    state_dir, _, _ = _sandbox_paths(root)
    try:
        saved = json.loads((state_dir / "state.json").read_text()).get("instances", [])
    except (FileNotFoundError, ValueError):
        return set()
    now = time.time()
    return {i["name"] for i in saved if i.get("state") == "STOPPING"
            or (i.get("state") == "STOPPED" and now - float(i.get("stopped_at") or 0) < within)}


def stop_sandbox_standin(root: Path) -> bool:
    from rt_sandbox import procs

    state_dir, pid_file, _ = _sandbox_paths(root)
    return procs.stop(pid_file, f"--state-dir {state_dir}")
