"""Fleet status: every host checked at once, none able to hold up the others.

Per host: the provider's state (one API call), then, if it may be up, one SSH
command that reads nvidia-smi and lists the job containers (label `rt.job`).
Hosts run in a bounded thread pool; each has its own deadline (connect
timeout + a command budget), and a host that misses it is reported as
unreachable while the others are already done. A stopped VM costs no SSH
attempt at all.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from .inventory import Host
from .providers import State, provider_for
from .remote import RemoteRunner, describe

SMI_QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,memory.used,utilization.gpu",
             "--format=csv,noheader,nounits"]
JOB_LABEL = "rt.job"
GPU_LABEL = "rt.gpu_mem_mb"
SEPARATOR = "--rt-jobs--"
# docker ps columns: id, job id, service, kind, GPU MiB, name, status
PS_FORMAT = ('{{.ID}}\t{{.Label "rt.job"}}\t{{.Label "rt.service"}}\t{{.Label "rt.kind"}}\t'
             '{{.Label "rt.gpu_mem_mb"}}\t{{.Names}}\t{{.Status}}')
# One round trip per host: nvidia-smi, a separator, then the job containers. Fixed text, no user input.
PROBE = (f"{' '.join(SMI_QUERY)} 2>&1 || echo nvidia-smi-failed; echo {SEPARATOR}; "
         f"docker ps --filter label={JOB_LABEL} --format '{PS_FORMAT}' 2>&1 || echo docker-failed")


@dataclass
class Job:
    container: str
    job: str
    service: str = ""
    kind: str = ""
    gpu_mem_mb: int | None = None
    name: str = ""
    status: str = ""


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
    jobs: list[Job] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def busy(self) -> bool:
        return bool(self.jobs)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["busy"] = self.busy
        return data


def parse_smi(text: str) -> tuple[str | None, int | None, int | None, int | None]:
    """name, total MiB, used MiB, utilization % summed over the GPUs of one host (first GPU's name)."""
    names, total, used, util = [], 0, 0, 0
    rows = [r for r in text.strip().splitlines() if r.count(",") >= 3]
    for row in rows:
        name, mem_total, mem_used, gpu_util = [p.strip() for p in row.rsplit(",", 3)]
        try:
            total, used, util = total + int(float(mem_total)), used + int(float(mem_used)), max(util, int(float(gpu_util)))
        except ValueError:
            continue  # "[N/A]" on some boards
        names.append(name)
    if not names:
        return None, None, None, None
    label = names[0] if len(names) == 1 else f"{len(names)}x {names[0]}"
    return label, total, used, util


def parse_jobs(text: str) -> list[Job]:
    jobs = []
    for line in text.strip().splitlines():
        parts = line.split("\t")
        if len(parts) < 7:
            continue
        mem = parts[4].strip()
        jobs.append(Job(container=parts[0], job=parts[1], service=parts[2], kind=parts[3],
                        gpu_mem_mb=int(mem) if mem.isdigit() else None, name=parts[5], status=parts[6]))
    return jobs


def probe_host(runner: RemoteRunner, host: Host, *, command_timeout: float = 20.0) -> HostStatus:
    """Provider state, then (unless it is plainly off) nvidia-smi and job containers over SSH."""
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
        result = runner.run(host, ["sh", "-c", PROBE], check=False, mutating=False, timeout=command_timeout)
        out.reachable = True
        smi_text, _, ps_text = result.stdout.partition(SEPARATOR)
        out.gpu, out.gpu_mem_total_mb, out.gpu_mem_used_mb, out.gpu_util_pct = parse_smi(smi_text)
        out.jobs = parse_jobs(ps_text)
        if "docker-failed" in ps_text:
            out.error = "docker: " + ps_text.replace("docker-failed", "").strip()[:200]
    except Exception as exc:
        out.reachable = False
        out.error = describe(exc)
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

