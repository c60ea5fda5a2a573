"""Fixed hosts as a Target: jobs are compose containers, found by their labels over SSH (jobs/monitor.py),
started by one held compose run (jobs/launch.py); `run_plan` is the fixed host's launch: the held start,
then a server's port, or with --wait the log to the end."""
from __future__ import annotations

import builtins
import os
import socket
import sys
import time
from typing import Any, Callable, Mapping, Sequence

from ..errors import InputError, JobFailed, raise_if_failed
from ..fleet.inventory import Host
from ..fleet.remote import RemoteRunner
from ..jobs import monitor
from ..jobs.record import record_end
from ..jobs.spec import Guard, LaunchResult
from ..progress import Phase, silent
from ..records.ledger import secret_values
from .base import Found, Server, Target


class FixedHosts(Target):
    """The fixed hosts a command names (every one of the inventory without --host), over one SSH runner."""

    def __init__(self, runner: RemoteRunner, hosts: Sequence[Host]) -> None:
        self.runner = runner
        self.hosts = list(hosts)
        self.names = [h.name for h in self.hosts]

    def _found(self, job: Any) -> Found:
        return Found(job, self, port=job.port or "")

    def launch(self, placed: Any, guard: Guard, *, dry_run: bool, job_env: Mapping[str, str], wait: bool,
               ready_timeout: float, create_timeout: float, progress: Phase = silent) -> LaunchResult:
        return run_plan(placed, self.runner, guard, job_env=job_env, wait=wait, ready_timeout=ready_timeout,
                        progress=progress)

    def prewarm(self, name: str) -> None:
        if not self.runner.dry_run:
            self.runner.prewarm(self.runner.inventory.get(name))

    def list(self) -> tuple[builtins.list[Found], Mapping[str, BaseException]]:
        jobs, group = monitor.list_jobs(self.runner, self.hosts)
        return [self._found(j) for j in jobs], group.failed

    def find(self, ref: str) -> Found | None:
        job = monitor.match_job(self.runner, self.hosts, ref)
        return self._found(job) if job else None

    def logs(self, found: Found, *, tail: int | None = None, follow: bool = False, stream: Any = None,
             secrets: builtins.list[str] | None = None) -> str:
        return monitor.logs(self.runner, found.job, tail=tail, follow=follow, stream=stream, secrets=secrets)

    def wait(self, found: Found, timeout: float | None = None) -> tuple[int, str | None]:
        ended = monitor.finished_at(self.runner, found.job)  # None while it runs: its end is when the wait sees it
        return monitor.wait(self.runner, found.job, timeout=timeout), ended

    def stop(self, found: Found, *, pause: bool = False, dry_run: bool = False) -> str | None:
        monitor.stop(self.runner, found.job)  # in dry-run the runner prints the command instead
        return None if dry_run else f"stopped {found.job.job_id} on {found.job.host}"

    def servers_up(self, name: str) -> builtins.list[Found]:
        host = self.runner.inventory.get(name)
        return [self._found(j) for j in monitor.host_jobs(self.runner, host) if j.kind == "serve" and j.running]

    def require_server(self, found: Found) -> None:
        if found.job.kind != "serve":
            raise InputError(f"{found.job.job_id} is a {found.job.kind} job, not a server", "use inv jobs.stop")

    def server(self, found: Found, policy: str | None) -> Server:
        job = found.job
        if job.kind != "serve" or not job.port:
            raise InputError(f"{job.job_id} is not a server job", "point --server at a serve.* job or host:port")
        if not job.running:
            raise InputError(f"server {job.job_id} is not running ({job.state})", "start it again with inv serve.*")
        address = self.runner.connection(self.runner.inventory.get(job.host)).host
        if not (policy or job.client):
            raise InputError(f"server {job.job_id} carries no client policy (started by an older version)",
                             "pass --policy")
        return Server(job.host, address, job.port, policy or job.client, {})


def run_plan(placed: Any, runner: RemoteRunner, guard: Guard, *, job_env: Mapping[str, str], wait: bool,
             ready_timeout: float, echo: Callable[[str], None] = print, progress: Phase = silent) -> LaunchResult:
    """On a fixed host: check and launch, report; then wait for a server's port or the job's end.
    `placed`: launch/pipeline.Placed (its spec's host is a real host)."""
    from ..jobs.launch import launch

    plan, spec = placed.plan, placed.spec
    secrets = secret_values({**os.environ, **job_env})  # what the job is handed: masked in what it prints
    target = runner.inventory.get(spec.host)
    if runner.dry_run:
        echo(f"# {spec.job_id}: {plan.service.name} ({plan.era_label}) on {target.name} ({target.ssh}), "
             f"image {spec.image or '(none pushed yet)'}")
    result = launch(runner, spec, plan.project, job_env=job_env, hooks=guard)
    if runner.dry_run:
        return result
    shipped = "project sent" if result.shipped else "project unchanged"
    echo(f"started {spec.job_id} on {target.name} ({shipped}, {result.seconds:.1f}s)")
    if plan.program.kind != "serve" and not wait:
        echo(f"watch: inv jobs.logs {spec.job_id} -f | inv jobs.progress {spec.job_id} | inv jobs.wait {spec.job_id}")
        return result
    found = monitor.find_job(runner, [runner.inventory.get(spec.host)], spec.job_id)
    if plan.program.kind == "serve":
        address = runner.connection(runner.inventory.get(spec.host)).host
        try:
            wait_port(runner, found, address, spec.port, ready_timeout, secrets, progress)
        finally:
            progress("")
        echo(f"{plan.service.name} answers on {address}:{spec.port} (job {spec.job_id}; "
             f"stop: inv serve.stop {spec.job_id})")
        if not wait:
            return result
    follow(runner, found, guard, echo=echo, secrets=secrets)
    return result


def follow(runner: RemoteRunner, job: Any, guard: Guard | None = None, echo: Callable[[str], None] = print,
           secrets: builtins.list[str] | None = None) -> int:
    """Stream the log (secrets masked) until the job ends, record the end, then raise JobFailed on a non-zero exit."""
    monitor.logs(runner, job, follow=True, stream=sys.stdout, secrets=secrets)
    code = monitor.wait(runner, job)
    record_end(guard, job.job_id, code)
    raise_if_failed(job.job_id, job.host, code)
    echo(f"{job.job_id} finished (exit 0)")
    return code


def answers(address: str, port: int) -> bool:
    """The server itself answers: an HTTP reply, or an open, silent socket (a ZeroMQ server).

    A bare TCP connect is not enough: a userland port proxy accepts before the server listens,
    then closes without a byte.
    """
    try:
        with socket.create_connection((address, port), timeout=2) as conn:
            conn.sendall(b"GET /api/v1/models HTTP/1.0\r\nHost: rt\r\n\r\n")
            conn.settimeout(2)
            try:
                return bool(conn.recv(1))
            except socket.timeout:
                return True
    except OSError:
        return False


def wait_port(runner: RemoteRunner, job: Any, address: str, port: int, timeout: float,
              secrets: builtins.list[str] | None = None, progress: Phase = silent) -> None:
    """Return once the server's port answers; fail fast if the job died."""
    deadline = time.monotonic() + timeout
    checks = 0
    progress(f"waiting for {job.service} to answer on {address}:{port}")
    while time.monotonic() < deadline:
        if answers(address, port):
            return
        checks += 1
        if checks % 4 == 0:  # every ~2 s: did the server exit?
            current = monitor.host_jobs(runner, runner.inventory.get(job.host))
            mine = next((j for j in current if j.job_id == job.job_id), None)
            if mine is None or not mine.running:
                code = mine.exit_code if mine else -1
                tail = monitor.logs(runner, job, tail=5, secrets=secrets) if mine else ""
                raise JobFailed(f"{job.service} {job.job_id} on {job.host} exited {code} before its port "
                                f"{port} answered: {tail.strip().splitlines()[-1:] or ''}",
                                f"inv jobs.logs {job.job_id}", exit_code=code or 1)
        time.sleep(0.5)
    raise JobFailed(f"{job.service} {job.job_id} did not answer on {address}:{port} within {timeout:g}s",
                    f"inv jobs.logs {job.job_id}; stop it with inv serve.stop {job.job_id}")
