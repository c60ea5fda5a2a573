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
from typing import Any, Callable, Sequence

from . import snapshot
from .inventory import Host
from .providers import State, Status, provider_for
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


OFF = (State.STOPPED, State.STOPPING, State.DELETING)  # a machine in these costs no SSH attempt


@dataclass
class Probe:
    """What one look at a host found: the provider's word on its power, when asked, and its snapshot
    over SSH, when it answered."""

    host: Host  # as reached: a VM that came back on a new address is followed there
    status: Status | None = None  # the provider's answer (None: not asked, or it failed: status_error)
    status_error: Exception | None = None
    snapshot: HostSnapshot | None = None  # None: SSH not tried (the VM is off), or it failed: ssh_error
    ssh_error: Exception | None = None


def probe(runner: RemoteRunner, host: Host, power: Callable[[Host], Status] | None = None, *,
          provider_first: bool = False, need_docker: bool = False, timeout: float = 20.0,
          probed: Callable[[], tuple[str, int] | None] | None = None) -> Probe:
    """The one host probe, for the fleet status, placement and the doctor: the host's snapshot over SSH
    (snapshot.take: one command) and its power state from `power` (the provider).

    `provider_first` (the fleet status): the provider is asked first, a VM that came back on a new address
    is followed, and a VM that is off gets no SSH attempt. Otherwise (placement) SSH is asked first: a host
    that answers is running, and the provider call (the cloud SDK's import and a round trip, about half a
    second) is only paid for a host that does not, to tell "stopped" from "on but unreachable".
    `need_docker`: a snapshot without a container list counts as no answer (its jobs are unknown).
    `probed`: (output, status) of snapshot.ACTIVE_BODY already run on the host by the launch command
    itself (None when that command could not start: then the snapshot is taken the usual way).
    """
    out = Probe(host)

    def ask() -> None:
        try:
            out.status = power(host) if power is not None else None
        except Exception as exc:  # reported; SSH may still answer
            out.status_error = exc

    if provider_first:
        ask()
        if out.status is not None and out.status.state in OFF:
            return out
        if out.status is not None and out.status.state is State.RUNNING and out.status.address:
            from .addresses import follow_address

            try:
                out.host = follow_address(runner, host, out.status)  # a VM may come back on a new address
            except Exception as exc:
                out.status_error = exc
    try:
        given = probed() if probed is not None else None
        snap = (snapshot.parse(host.name, given[0]) if given is not None else
                snapshot.take(runner, out.host, timeout=timeout))
        out.snapshot = snap.require_docker() if need_docker else snap
    except Exception as exc:
        out.ssh_error = exc
        if not provider_first:
            ask()
    return out


def probe_host(runner: RemoteRunner, host: Host, *, command_timeout: float = 20.0) -> HostStatus:
    """Provider state, then (unless it is plainly off) the host's snapshot over SSH."""
    started = time.monotonic()
    out = HostStatus(host.name, host.provider.type)
    found = probe(runner, host, lambda h: provider_for(h, runner.inventory).state(timeout=runner.connect_timeout),
                  provider_first=True, timeout=command_timeout)
    if found.status is not None:
        out.state, out.address = found.status.state.value, found.status.address
    if found.status_error is not None:  # reported; SSH was still tried: the machine may well be up
        out.error = f"provider: {describe(found.status_error)}"
    snap = found.snapshot
    if snap is None and found.ssh_error is None:  # off: not tried
        out.reachable = None
    elif found.ssh_error is not None:
        out.reachable = False
        out.error = describe(found.ssh_error)
    elif snap is not None:
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

