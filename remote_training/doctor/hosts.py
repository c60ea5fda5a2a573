"""Checks of each host over SSH: reachable, free GPU memory, the servers' ports; all read one snapshot per host."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import RTError
from ..fleet.fleet_status import probe
from ..fleet.inventory import Host
from ..fleet.provider_kinds import STATIC
from ..fleet.snapshot import HostSnapshot, Job
from .base import FAIL, OK, WARN, Verdict, short


@dataclass
class HostView:
    """What the host checks share: one connect attempt and one snapshot (snapshot.py) per host."""

    runner: Any
    host: Host
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connected: BaseException | bool | None = None
    _snapshot: HostSnapshot | BaseException | None = None

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

    def snapshot(self) -> HostSnapshot:
        self.connect()
        with self._lock:
            if self._snapshot is None:
                found = probe(self.runner, self.host, timeout=30)  # the one host probe; no provider asked
                self._snapshot = found.snapshot if found.snapshot is not None else found.ssh_error
        if isinstance(self._snapshot, BaseException):
            raise self._snapshot
        assert self._snapshot is not None  # with no provider asked, the probe gives a snapshot or an SSH error
        return self._snapshot

    def containers(self) -> tuple[Job, ...]:
        """Every container on the host (RemoteCommandError when docker gave no list)."""
        return self.snapshot().require_docker().containers


def check_ssh(probe: HostView) -> Verdict:
    host = probe.host
    try:
        probe.connect()
    except Exception as exc:
        message = exc.message if isinstance(exc, RTError) else f"{host.name}: SSH failed: {short(exc)}"
        if isinstance(exc, RTError) and exc.fix:
            return FAIL, message, exc.fix  # the runner's own fix names vm.start where a stopped VM may be why
        fix = f"ssh -o ConnectTimeout=5 {host.ssh} true  # to see why"
        if host.provider.type != STATIC:
            fix += f" (if the VM is stopped: inv vm.start {host.name})"
        return FAIL, message, fix
    return OK, f"SSH answers ({probe.host.ssh})", ""


def _unreachable(probe: HostView) -> Verdict | None:
    """A host that does not answer is reported once, by the ssh check; the others only point there."""
    status, _, fix = check_ssh(probe)
    if status == FAIL:
        return WARN, "not checked: the host does not answer SSH (see the ssh check)", fix
    return None


def check_gpu_memory(probe: HostView, need_mb: int, needs_h100: bool = False) -> Verdict:
    host = probe.host
    if needs_h100 and "h100" not in host.gpu.lower():
        return OK, f"not checked: the job needs an H100 and this is a {host.gpu}, so it never goes here", ""
    skipped = _unreachable(probe)
    if skipped:
        return skipped
    snap = probe.snapshot()
    gpus = [g for g in snap.gpus if g.free_mb is not None]
    if snap.smi_error or not gpus:
        return (FAIL, f"nvidia-smi failed on {host.name}: {(snap.smi_error or 'no GPU memory readings')[:120]}",
                f"ssh {host.ssh} nvidia-smi  # check the driver")
    best = max(gpus, key=lambda g: g.free_mb or 0)
    util = "unknown" if best.util_pct is None else f"{best.util_pct}%"
    seen = f"{best.name}: {best.free_mb} of {best.total_mb} MiB free, {util} busy"
    if (best.free_mb or 0) >= need_mb:
        return OK, f"{seen}; {need_mb} MiB needed", ""
    holders = [c for c in probe.containers() if c.gpu_mem_mb and c.active]
    named = ", ".join(f"{c.name} ({c.gpu_mem_mb} MiB)" for c in holders) or "processes outside our jobs"
    fix = (" && ".join(_stop_command(host, c) for c in holders) if holders
           else f"ssh {host.ssh} nvidia-smi  # find the process") + " (or run on another host: --host auto)"
    return FAIL, f"{seen}; {need_mb} MiB needed; held by {named}", fix


def _stop_command(host: Host, container: Job) -> str:
    if container.job_id:
        serving = container.kind == "serve" or container.service.endswith("-server")
        verb = "serve.stop" if serving else "jobs.stop"
        return f"inv {verb} {container.job_id}"
    return f"docker --context {host.name} stop {container.name}"


def check_ports(probe: HostView, ports: Sequence[int]) -> Verdict:
    skipped = _unreachable(probe)
    if skipped:
        return skipped
    held = [(p, c) for p in ports for c in probe.containers() if p in c.published]
    if not held:
        return OK, f"ports {', '.join(map(str, ports))} free", ""
    what = "; ".join(f"{p} held by {c.name}" + (f" (job {c.job_id})" if c.job_id else "") for p, c in held)
    fix = " && ".join(dict.fromkeys(_stop_command(probe.host, c) for _, c in held))
    # Our own server on its port is normal; a foreign container there is the runbook's "port already allocated".
    status = WARN if all(c.job_id for _, c in held) else FAIL
    return status, what, fix
