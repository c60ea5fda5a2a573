"""Checks of each host over SSH: reachable, free GPU memory, the servers' ports."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..errors import RTError
from ..inventory import Host
from .base import FAIL, OK, WARN, Verdict, short

SMI_QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,memory.used,utilization.gpu",
             "--format=csv,noheader,nounits"]
# One `docker ps` per host feeds both the GPU and the port check.
PS_FORMAT = ('{{.Names}}\t{{.Ports}}\t{{.Label "rt.job"}}\t{{.Label "rt.gpu_mem_mb"}}\t{{.Label "rt.service"}}'
             '\t{{.Label "rt.kind"}}')
PORT_RE = re.compile(r"(?:^|[\s,])\[?[0-9a-fA-F:.]*\]?:(\d+)(?:-(\d+))?->[\d-]+/(?:tcp|udp)")


@dataclass
class HostProbe:
    """What the host checks share: one connect attempt and one `docker ps` per host."""

    runner: Any
    host: Host
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connected: BaseException | bool | None = None
    _containers: list[dict[str, Any]] | BaseException | None = None

    def connect(self) -> None:
        with self._lock:
            if self._connected is None:
                try:
                    self.runner.connection(self.host)
                    self._connected = True
                except BaseException as exc:
                    self._connected = exc
        if isinstance(self._connected, BaseException):
            raise self._connected

    def containers(self) -> list[dict[str, Any]]:
        self.connect()
        with self._lock:
            if self._containers is None:
                try:
                    out = self.runner.run(self.host, ["docker", "ps", "--format", PS_FORMAT], mutating=False,
                                          timeout=30).stdout
                    self._containers = [parse_ps_line(line) for line in out.splitlines() if line.strip()]
                except BaseException as exc:
                    self._containers = exc
        if isinstance(self._containers, BaseException):
            raise self._containers
        return self._containers


def parse_ps_line(line: str) -> dict[str, Any]:
    name, ports, job, mem, service, kind = (line.split("\t") + [""] * 6)[:6]
    published = {p for first, last in PORT_RE.findall(ports) for p in range(int(first), int(last or first) + 1)}
    return {"name": name, "ports": sorted(published), "job": job,
            "gpu_mem_mb": int(mem) if mem.isdigit() else 0, "service": service, "kind": kind}


def parse_smi(text: str) -> list[dict[str, Any]]:
    """nvidia-smi CSV (name, total MiB, used MiB, util %) -> one dict per GPU; bad lines are skipped."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            continue
        try:
            total, used, util = float(parts[1]), float(parts[2]), float(parts[3])
        except ValueError:
            continue
        gpus.append({"name": parts[0], "total_mb": int(total), "used_mb": int(used), "util": int(util),
                     "free_mb": int(total - used)})
    return gpus


def check_ssh(probe: HostProbe) -> Verdict:
    host = probe.host
    try:
        probe.connect()
    except Exception as exc:
        message = exc.message if isinstance(exc, RTError) else f"{host.name}: SSH failed: {short(exc)}"
        fix = (exc.fix if isinstance(exc, RTError) else "") or f"ssh -o ConnectTimeout=5 {host.ssh} true  # to see why"
        if host.provider.type != "static" and "vm.start" not in fix:
            fix += f" (if the VM is stopped: inv vm.start {host.name})"
        return FAIL, message, fix
    return OK, f"SSH answers ({probe.host.ssh})", ""


def _unreachable(probe: HostProbe) -> Verdict | None:
    """A host that does not answer is reported once, by the ssh check; the others only point there."""
    status, _, fix = check_ssh(probe)
    if status == FAIL:
        return WARN, "not checked: the host does not answer SSH (see the ssh check)", fix
    return None


def check_gpu_memory(probe: HostProbe, need_mb: int, needs_h100: bool = False) -> Verdict:
    host = probe.host
    if needs_h100 and "h100" not in host.gpu.lower():
        return OK, f"not checked: the job needs an H100 and this is a {host.gpu}, so it never goes here", ""
    skipped = _unreachable(probe)
    if skipped:
        return skipped
    result = probe.runner.run(host, SMI_QUERY, mutating=False, check=False, timeout=30)
    gpus = parse_smi(result.stdout)
    if not result.ok or not gpus:
        return (FAIL, f"nvidia-smi failed on {host.name}: {(result.stderr or result.stdout).strip()[:120] or 'no GPU rows'}",
                f"ssh {host.ssh} nvidia-smi  # check the driver")
    best = max(gpus, key=lambda g: g["free_mb"])
    seen = f"{best['name']}: {best['free_mb']} of {best['total_mb']} MiB free, {best['util']}% busy"
    if best["free_mb"] >= need_mb:
        return OK, f"{seen}; {need_mb} MiB needed", ""
    holders = [c for c in probe.containers() if c["gpu_mem_mb"]]
    named = ", ".join(f"{c['name']} ({c['gpu_mem_mb']} MiB)" for c in holders) or "processes outside our jobs"
    fix = (" && ".join(_stop_command(host, c) for c in holders) if holders
           else f"ssh {host.ssh} nvidia-smi  # find the process") + " (or run on another host: --host auto)"
    return FAIL, f"{seen}; {need_mb} MiB needed; held by {named}", fix


def _stop_command(host: Host, container: Mapping[str, Any]) -> str:
    if container.get("job"):
        serving = container.get("kind") == "serve" or container.get("service", "").endswith("-server")
        verb = "serve.stop" if serving else "jobs.stop"
        return f"inv {verb} {container['job']}"
    return f"docker --context {host.name} stop {container['name']}"


def check_ports(probe: HostProbe, ports: Sequence[int]) -> Verdict:
    skipped = _unreachable(probe)
    if skipped:
        return skipped
    held = [(p, c) for p in ports for c in probe.containers() if p in c["ports"]]
    if not held:
        return OK, f"ports {', '.join(map(str, ports))} free", ""
    what = "; ".join(f"{p} held by {c['name']}" + (f" (job {c['job']})" if c["job"] else "") for p, c in held)
    fix = " && ".join(dict.fromkeys(_stop_command(probe.host, c) for _, c in held))
    # Our own server on its port is normal; a foreign container there is the runbook's "port already allocated".
    status = WARN if all(c["job"] for _, c in held) else FAIL
    return status, what, fix
