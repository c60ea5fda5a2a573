"""Fixed hosts as a Target: jobs are compose containers, found by their labels over SSH (jobs/monitor.py),
started by one compose run (jobs/run.py, jobs/launch.py)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..errors import InputError, RTError
from ..inventory import Host
from ..jobs import monitor
from ..jobs.spec import Guard, LaunchResult
from ..progress import Phase, silent
from ..remote import RemoteRunner
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
        from ..jobs.run import run_plan

        return run_plan(placed, self.runner, guard, job_env=job_env, wait=wait, ready_timeout=ready_timeout,
                        progress=progress)

    def prewarm(self, name: str) -> None:
        if not self.runner.dry_run:
            self.runner.prewarm(self.runner.inventory.get(name))

    def list(self) -> tuple[list[Found], dict[str, RTError]]:
        jobs, group = monitor.list_jobs(self.runner, self.hosts)
        return [self._found(j) for j in jobs], dict(group.failed)

    def find(self, ref: str) -> Found | None:
        job = monitor.match_job(self.runner, self.hosts, ref)
        return self._found(job) if job else None

    def logs(self, found: Found, *, tail: int | None = None, follow: bool = False, stream: Any = None,
             secrets: list[str] | None = None) -> str:
        return monitor.logs(self.runner, found.job, tail=tail, follow=follow, stream=stream, secrets=secrets)

    def wait(self, found: Found, timeout: float | None = None) -> tuple[int, str | None]:
        ended = monitor.finished_at(self.runner, found.job)  # None while it runs: its end is when the wait sees it
        return monitor.wait(self.runner, found.job, timeout=timeout), ended

    def stop(self, found: Found, *, pause: bool = False, dry_run: bool = False) -> str | None:
        monitor.stop(self.runner, found.job)  # in dry-run the runner prints the command instead
        return None if dry_run else f"stopped {found.job.job_id} on {found.job.host}"

    def servers_up(self, name: str) -> list[Found]:
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
