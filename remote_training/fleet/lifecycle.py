"""VM lifecycle on top of the providers: start and wait for SSH, stop unless busy, ensure running.

`ensure_running(runner, host)` is what other tasks call before they run
anything on a host: it starts a stopped VM (unless auto-start is off), follows
it to a new address, waits until SSH answers, and returns the Host to use.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import InputError, ProviderError, RemoteCommandError, UnreachableError
from ..progress import Phase, silent
from .addresses import follow_address
from .inventory import Host
from .provider_kinds import STATIC
from .providers import Provider, State, Status, provider_for
from .remote import RemoteRunner
from .snapshot import Job, take


@dataclass(frozen=True)
class Started:
    host: Host
    status: Status
    was_running: bool
    seconds: float


def provider(runner: RemoteRunner, host: Host) -> Provider:
    return provider_for(host, runner.inventory)


def busy_jobs(runner: RemoteRunner, host: Host) -> list[Job]:
    """The jobs holding the host now, from its snapshot (read-only, also in dry-run); RemoteCommandError
    when docker gave no container list."""
    return list(take(runner, host, timeout=30).require_docker().active_jobs)


def ssh_answers(runner: RemoteRunner, host: Host) -> bool:
    try:
        runner.run(host, ["true"], mutating=False, timeout=runner.connect_timeout + 5)
        return True
    except (UnreachableError, ProviderError, OSError):
        runner.forget(host)
        return False


def wait_for_ssh(runner: RemoteRunner, host: Host, timeout: float, progress: Phase = silent) -> None:
    end = time.monotonic() + timeout
    progress(f"waiting for SSH at {host.ssh}")
    while not ssh_answers(runner, host):
        if time.monotonic() >= end:
            raise UnreachableError(f"{host.name}: running, but SSH did not answer within {timeout:g}s",
                                   f"check its sshd and firewall; inv vm.status {host.name}")
        time.sleep(1.0)


def wait_for_docker(runner: RemoteRunner, host: Host, timeout: float = 60.0, progress: Phase = silent) -> bool:
    """After a boot sshd may answer before the Docker engine does; jobs need the engine."""
    end = time.monotonic() + timeout
    progress("waiting for the Docker engine")
    while True:
        try:
            done = runner.run(host, ["sh", "-c", "command -v docker >/dev/null || exit 0; docker info >/dev/null 2>&1"],
                              check=False, mutating=False, timeout=30)
            if done.ok:
                return True
        except (UnreachableError, RemoteCommandError):
            runner.forget(host)
        if time.monotonic() >= end:
            return False
        time.sleep(0.5)


def start(runner: RemoteRunner, host: Host, *, timeout: float = 900.0, progress: Phase = silent) -> Started:
    """Start (no-op if running), follow a new address, wait until SSH answers."""
    t0 = time.monotonic()
    prov = provider(runner, host)
    progress(f"asking the {host.provider.type} provider for its state")
    before = prov.state()
    if before.state is not State.RUNNING:
        progress(f"{before.state.value}: starting it through the {host.provider.type} provider")
    status = before if before.state is State.RUNNING else prov.start(timeout=timeout)
    host = follow_address(runner, host, status)
    wait_for_ssh(runner, host, max(5.0, timeout - (time.monotonic() - t0)), progress)
    if before.state is not State.RUNNING:
        wait_for_docker(runner, host, min(120.0, max(5.0, timeout - (time.monotonic() - t0))), progress)
    progress("")
    return Started(host, status, before.state is State.RUNNING, time.monotonic() - t0)


def wait(runner: RemoteRunner, host: Host, *, timeout: float = 900.0, progress: Phase = silent) -> Host:
    """Wait (without starting anything) until the provider says RUNNING and SSH answers."""
    end = time.monotonic() + timeout
    prov = provider(runner, host)
    while True:
        status = prov.state()
        if status.state is State.RUNNING:
            break
        progress(f"the {host.provider.type} provider says {status.state.value}")
        if time.monotonic() >= end:
            raise UnreachableError(f"{host.name}: still {status.state.value} after {timeout:g}s",
                                   f"start it: inv vm.start {host.name}")
        time.sleep(1.0)
    host = follow_address(runner, host, status)
    wait_for_ssh(runner, host, max(5.0, end - time.monotonic()), progress)
    progress("")
    return host


def stop(runner: RemoteRunner, host: Host, *, force: bool = False, timeout: float = 600.0) -> Status:
    """Stop through the provider; refuse while job containers run, unless force."""
    prov = provider(runner, host)
    if not prov.can_stop:
        prov.stop()  # raises the provider's own clear refusal
    now = prov.state()
    if now.state is State.STOPPED:
        return now
    if not force:
        host = follow_address(runner, host, now)
        try:
            jobs = busy_jobs(runner, host)
        except (UnreachableError, RemoteCommandError) as exc:
            raise InputError(f"{host.name}: cannot check for running jobs ({exc.message})",
                             f"inv vm.stop {host.name} --force stops it anyway") from exc
        if jobs:
            listed = ", ".join(f"{j.job_id} ({j.name})" for j in jobs)
            raise InputError(f"{host.name} is busy: {len(jobs)} job container(s) running: {listed}",
                             f"wait for them (inv vm.status), stop them, or inv vm.stop {host.name} --force")
    runner.forget(host)
    return prov.stop(timeout=timeout)


def ensure_running(runner: RemoteRunner, host: Host | str, *, auto_start: bool = True,
                   timeout: float = 900.0, progress: Phase = silent) -> Host:
    """The host ready for commands: started if needed (and allowed), at its current address."""
    host = runner.inventory.get(host) if isinstance(host, str) else host
    if host.provider.type == STATIC or runner.dry_run:
        return host
    prov = provider(runner, host)
    status = prov.state()
    if status.state is State.RUNNING:
        return follow_address(runner, host, status)
    if not auto_start:
        raise UnreachableError(f"{host.name} is {status.state.value} and auto-start is off",
                               f"inv vm.start {host.name}, or set vm.auto_start true")
    return start(runner, host, timeout=timeout, progress=progress).host
