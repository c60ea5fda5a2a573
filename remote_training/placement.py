"""Where a job may run and, for `--host auto`, where it should.

The seed's rules as data: which services need an H100, how much GPU memory
each holds, which take a whole host. `choose()` is pure (host states in, a
decision and its reason out), so every rule is unit-tested; `probe()` reads
one host's state from its snapshot (remote_training/fleet/snapshot.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

from .errors import InputError
from .fleet import fleet_status
from .fleet.inventory import Host, Inventory
from .fleet.snapshot import HostSnapshot, Job

# A job never gets the last GiB: the CUDA context and (on a desktop) the display hold some.
HEADROOM_MB = 1024


@dataclass(frozen=True)
class Rule:
    needs_h100: bool  # seed: GR00T/OpenPI training and openpi-server need an H100
    gpu_mem_mb: int  # what the job holds on the GPU while it runs
    default_host: str  # "auto" or an inventory name; used when the user names none
    why: str  # shown when a host is refused


def _rules() -> dict[str, Rule]:
    """One rule per program, from the service catalog (jobs/catalog.py), the one place they are set."""
    from .jobs.catalog import PROGRAMS

    return {name: Rule(p.needs_h100, p.gpu_mem_mb, p.default_host, p.why) for name, p in PROGRAMS.items()}


RULES: dict[str, Rule] = _rules()


def rule(program: str) -> Rule:
    """The placement rule of a program (the module or console script a compose service starts)."""
    if program not in RULES:
        from .validate import did_you_mean

        raise InputError(f"unknown program {program!r}", f"{did_you_mean(program, RULES)}known: {', '.join(RULES)}")
    return RULES[program]


def is_h100(host: Host) -> bool:
    return "h100" in host.gpu.lower()


@dataclass(frozen=True)
class HostState:
    """What placement needs to know about one host right now: a view of its snapshot (snapshot.py)
    and its power state. The numbers are copied out of the snapshot so that `choose` stays pure."""

    host: Host
    power: str  # running | stopped | unreachable | unknown
    gpu_total_mb: int | None = None
    gpu_used_mb: int | None = None
    jobs: tuple[Job, ...] = ()  # the jobs that hold the host now
    startable: bool = False  # a provider can power it on (stopped VMs)
    detail: str = ""  # e.g. the SSH error of an unreachable host
    snapshot: HostSnapshot | None = None  # what it was read from (None when the host gave none)

    @classmethod
    def of(cls, host: Host, snap: HostSnapshot) -> "HostState":
        return cls(host, "running", snap.gpu_total_mb, snap.gpu_used_mb, snap.active_jobs,
                   host.provider.type != "static", snap.smi_error, snap)

    @property
    def free_mb(self) -> int | None:
        if self.gpu_total_mb is None or self.gpu_used_mb is None:
            return None
        return self.gpu_total_mb - self.gpu_used_mb


@dataclass(frozen=True)
class Placement:
    host: Host
    start_first: bool  # the host is a stopped VM that must be started
    reason: str
    skipped: tuple[str, ...] = field(default_factory=tuple)  # "<host>: why not" for the others


def eligibility(service: str, host: Host, need_mb: int | None = None) -> str | None:
    """Why `host` can never run `service` (None when it can): GPU kind and size."""
    r = rule(service)
    need = r.gpu_mem_mb if need_mb is None else need_mb
    if r.needs_h100 and not is_h100(host):
        return f"{r.why}; {host.name} has {host.gpu}"
    if need and host.gpu_memory_gb * 1024 < need + HEADROOM_MB:
        return f"{service} needs {need} MiB of GPU memory; {host.name} has {host.gpu_memory_gb:g} GB in all"
    return None


def memory_problem(state: HostState, need_mb: int) -> str | None:
    """Why the job does not fit in the host's free GPU memory now (None when it does)."""
    if not need_mb:
        return None
    free = state.free_mb
    if free is None:
        return f"{state.host.name}: GPU memory unknown (nvidia-smi gave no answer)"
    if free < need_mb + HEADROOM_MB:
        holders = ", ".join(f"{j.job_id} ({j.gpu_mem_mb} MiB)" for j in state.jobs if j.gpu_mem_mb) or "other processes"
        return (f"{state.host.name} has {free} MiB of GPU memory free, the job needs {need_mb} MiB "
                f"+ {HEADROOM_MB} MiB headroom; held by {holders}")
    return None


def choose(service: str, states: Sequence[HostState], need_mb: int | None = None) -> Placement:
    """`--host auto`: an eligible host with no running job and enough free GPU memory.

    Running hosts first, the smallest GPU that fits (an H100 stays free for work
    that needs one), then inventory order; a stopped VM only when no running
    host is free. Raises InputError listing every host and why it was skipped.
    """
    r = rule(service)
    need = r.gpu_mem_mb if need_mb is None else need_mb
    skipped: list[str] = []
    free_running: list[HostState] = []
    stopped: list[HostState] = []
    for state in states:
        name = state.host.name
        why = eligibility(service, state.host, need)
        if why:
            skipped.append(f"{name}: {why}")
        elif state.power == "running":
            if state.jobs:
                skipped.append(f"{name}: busy with {', '.join(j.job_id for j in state.jobs)}")
            elif (problem := memory_problem(state, need)):
                skipped.append(problem)
            else:
                free_running.append(state)
        elif state.startable:
            stopped.append(state)
        else:
            skipped.append(f"{name}: {state.power}{': ' + state.detail if state.detail else ''}")
    order = {s.host.name: i for i, s in enumerate(states)}
    if free_running:
        best = min(free_running, key=lambda s: (s.host.gpu_memory_gb, order[s.host.name]))
        free = f"{best.free_mb} MiB free" if best.free_mb is not None else "no GPU use"
        why = f"{best.host.name} is running with no job and {free}"
        if r.needs_h100:
            why += " (needs an H100)"
        return Placement(best.host, False, why, tuple(skipped + [f"{s.host.name}: also free" for s in free_running
                                                                 if s is not best]))
    if stopped:
        pick = stopped[0]
        busy = "; ".join(skipped) or "no eligible host is running"
        return Placement(pick.host, True, f"{pick.host.name} is stopped and will be started: every running "
                         f"eligible host is taken ({busy})", tuple(skipped))
    raise InputError(f"no host can take {service} now: " + "; ".join(skipped or ["the inventory has no hosts"]),
                     "wait for a job to finish (inv jobs.list), stop one, or name a host with --host")


# -- reading a host's state ---------------------------------------------------------
def probe(runner, host: Host, power: Callable[[Host], str] | None = None, *,
          probed: Callable[[], tuple[str, int] | None] | None = None) -> HostState:
    """One host's state, from the one host probe (fleet_status.probe: SSH first, the provider only when
    SSH gives no answer). A host whose docker gives no container list counts as unreachable (its jobs
    are unknown); one whose nvidia-smi fails is running with its GPU memory unknown."""
    from .fleet.providers import State, Status

    startable = host.provider.type != "static"
    status = None if power is None else (lambda h: Status(State.parse(power(h))))
    found = fleet_status.probe(runner, host, status, need_docker=True, probed=probed)
    if found.snapshot is not None:
        return HostState.of(host, found.snapshot)
    if power is None:
        # No SSH answer and no provider to ask: a VM that answers nothing is most likely off.
        return HostState(host, "stopped" if startable else "unreachable", startable=startable,
                         detail=str(found.ssh_error))
    if found.status is None:
        return HostState(host, "unknown", detail=str(found.status_error))
    state = found.status.state.value.lower()
    if state != "running":
        return HostState(host, state, startable=startable and state == "stopped")
    return HostState(host, "unreachable", detail=str(found.ssh_error))  # the provider says it runs: not answering


def probe_all(runner, hosts: Sequence[Host], power: Callable[[Host], str] | None = None,
              deadline: float = 30.0) -> list[HostState]:
    """Every host at once, in inventory order; a host that does not answer in time is unreachable."""
    outcome = runner.fan_out(list(hosts), lambda h: probe(runner, h, power), deadline=deadline)
    states = []
    for host in hosts:
        if host.name in outcome.succeeded:
            states.append(outcome.succeeded[host.name])
        else:
            states.append(HostState(host, "unreachable", detail=str(outcome.failed.get(host.name, ""))))
    return states


def provider_power(inventory: Inventory) -> Callable[[Host], str]:
    """Power state from each host's provider (static: always running; nebius/command: ask it)."""

    def power(host: Host) -> str:
        if host.provider.type == "static":
            return "running"
        from .fleet.providers import provider_for

        return provider_for(host, inventory).state().state.value.lower()

    return power


def place(service: str, inventory: Inventory, runner, *, need_mb: int | None = None,
          power: Callable[[Host], str] | None = None) -> Placement:
    """`--host auto` over the whole inventory (power states from the providers unless given)."""
    power = power or provider_power(inventory)
    candidates = [h for h in inventory.hosts if eligibility(service, h, need_mb) is None]
    states = probe_all(runner, candidates, power)
    ineligible = [HostState(h, "unknown") for h in inventory.hosts if h not in candidates]
    return choose(service, states + ineligible, need_mb)
