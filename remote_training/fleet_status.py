"""Fleet status: every host checked at once, none able to hold up the others.

Per host: the provider's state (one API call), then, if it may be up, its
snapshot (snapshot.py: one SSH command; GPUs, containers, listening ports); a
HostStatus is a view of it (the jobs are the `rt.job` containers holding the host).
Hosts run in a bounded thread pool; each has its own deadline (connect
timeout + a command budget), and a host that misses it is reported as
unreachable while the others are already done. A stopped VM costs no SSH
attempt at all.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, fields
from typing import Any, Sequence

from . import snapshot
from .inventory import Host
from .providers import State, provider_for
from .remote import RemoteRunner, describe
from .snapshot import HostSnapshot, Job


@dataclass
class HostStatus:
    name: str
    provider: str
    state: str = State.UNKNOWN.value
    address: str | None = None
    reachable: bool | None = None  # None: not tried (the VM is stopped)
    gpu: str | None = None
    gpu_mem_used_mb: int | None = None
    gpu_mem_total_mb: int | None = None
    gpu_util_pct: int | None = None
    jobs: list[Job] = field(default_factory=list)  # the jobs that hold the host now
    error: str | None = None
    seconds: float = 0.0
    snapshot: HostSnapshot | None = field(default=None, repr=False)  # what the SSH columns were read from

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("jobs", "snapshot")}
        data["jobs"] = [j.to_dict() for j in self.jobs]
        data["busy"] = self.busy
        return data


def probe_host(runner: RemoteRunner, host: Host, *, command_timeout: float = 20.0) -> HostStatus:
    """Provider state, then (unless it is plainly off) the host's snapshot over SSH."""
    started = time.monotonic()
    out = HostStatus(host.name, host.provider.type)
    try:
        status = provider_for(host, runner.inventory).state(timeout=runner.connect_timeout)
        out.state, out.address = status.state.value, status.address
        if status.state is State.RUNNING and status.address:
            from .addresses import follow_address

            host = follow_address(runner, host, status)  # a VM may come back on a new address
    except Exception as exc:  # report, and still try SSH: the machine may well be up
        out.error = f"provider: {describe(exc)}"
    if out.state in (State.STOPPED.value, State.STOPPING.value, State.DELETING.value):
        out.reachable = None
        out.seconds = time.monotonic() - started
        return out
    try:
        snap = snapshot.take(runner, host, timeout=command_timeout)
    except Exception as exc:
        out.reachable = False
        out.error = describe(exc)
    else:
        out.reachable = True
        out.snapshot = snap
        out.gpu, out.gpu_mem_total_mb, out.gpu_mem_used_mb = snap.gpu, snap.gpu_total_mb, snap.gpu_used_mb
        out.gpu_util_pct = snap.gpu_util_pct
        out.jobs = list(snap.active_jobs)
        said = [f"docker: {snap.docker_error}" if snap.docker_error else "",
                f"nvidia-smi: {snap.smi_error}" if snap.smi_error else "",
                *[f"GPU {i} {g.problem}" for i, g in enumerate(snap.gpus) if g.problem]]
        out.error = "; ".join(s for s in said if s) or None  # a part the snapshot could not read is said
    out.seconds = time.monotonic() - started
    return out


def fleet_status(runner: RemoteRunner, hosts: Sequence[Host], *, max_workers: int = 16,
                 command_timeout: float = 20.0) -> list[HostStatus]:
    """Status of `hosts`, in inventory order, all probed at once."""
    deadline = 2 * runner.connect_timeout + command_timeout + 5.0  # API call + SSH connect + the probe
    outcome = runner.fan_out(hosts, lambda h: probe_host(runner, h, command_timeout=command_timeout),
                             max_workers=max_workers, deadline=deadline)
    rows = []
    for host in hosts:
        if host.name in outcome.succeeded:
            rows.append(outcome.succeeded[host.name])
        else:
            rows.append(HostStatus(host.name, host.provider.type, reachable=False,
                                   error=describe(outcome.failed[host.name]), seconds=deadline))
    return rows

