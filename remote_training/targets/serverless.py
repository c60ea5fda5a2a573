"""Nebius Serverless as a Target: jobs are AI Jobs and Endpoints named by the job id, reached through the
SDK (serverless/client.py), their logs through Observability's Loki API (serverless/logs.py)."""
from __future__ import annotations

import builtins
from typing import Any, Mapping, Sequence

from ..errors import InputError
from ..fleet.serverless_target import ServerlessTarget
from ..jobs.spec import Guard, LaunchResult
from ..progress import Phase, silent
from ..serverless import jobs as serverless
from .base import Found, Server, Target

ENDED_STATES = ("stopped", "exited", "dead")  # a server in none of these is up, and costs


class NebiusServerless(Target):
    """The serverless targets a command names (every one of the inventory without --host)."""

    pauses = True

    def __init__(self, inventory: Any, targets: Sequence[ServerlessTarget]) -> None:
        self.inventory = inventory
        self.targets = list(targets)
        self.names = [t.name for t in self.targets]

    def _found(self, item: serverless.Found) -> Found:
        return Found(item.job, self, handle=item, port=item.job.ports)

    def launch(self, placed: Any, guard: Guard, *, dry_run: bool, job_env: Mapping[str, str], wait: bool,
               ready_timeout: float, create_timeout: float, progress: Phase = silent) -> LaunchResult:
        from ..serverless.launch import run

        [target] = [t for t in self.targets if t.name == placed.spec.host]
        return run(placed, target, self.inventory, guard, dry_run=dry_run, wait=wait,
                   ready_timeout=ready_timeout, create_timeout=create_timeout, progress=progress)

    def list(self) -> tuple[builtins.list[Found], Mapping[str, BaseException]]:
        items, failed = serverless.list_all(self.inventory, self.targets)
        return [self._found(f) for f in items], failed

    def find(self, ref: str) -> Found | None:
        if not self.targets:
            return None
        item = serverless.find(self.inventory, ref, self.targets)
        return self._found(item) if item else None

    def logs(self, found: Found, *, tail: int | None = None, follow: bool = False, stream: Any = None,
             secrets: builtins.list[str] | None = None) -> str:
        if follow:
            serverless.show_logs(found.handle, follow_=True, tail=tail, stream=stream, secrets=secrets)
            return ""
        text = serverless.log_text(found.handle, tail, secrets)
        if stream is not None:
            stream.write(text)
        return text

    def wait(self, found: Found, timeout: float | None = None) -> tuple[int, str | None]:
        res = found.handle.resource
        ended = (res.finished or None) if res.final else None  # ended before this wait: its own end time
        return serverless.wait(found.handle, timeout=timeout), ended

    def stop(self, found: Found, *, pause: bool = False, dry_run: bool = False) -> str | None:
        res = found.handle.resource
        if dry_run:
            verb = "cancel" if res.kind == "job" else "stop" if pause else "delete"
            return f"# would {verb} {res.kind} {res.id} ({found.job.job_id}) on {found.job.host}"
        return f"{found.job.job_id} on {found.job.host}: {serverless.stop(found.handle, pause=pause)}"

    def servers_up(self, name: str) -> builtins.list[Found]:
        """Every endpoint of the target that is up (provisioning, starting or running: what costs); paused
        or failed endpoints stay for serve.stop JOB."""
        target = self.inventory.serverless_target(name)
        items, failed = serverless.list_all(self.inventory, [target])
        if target.name in failed:
            raise failed[target.name]
        return [self._found(f) for f in items
                if f.resource.kind == "endpoint" and f.job.state not in ENDED_STATES]

    def require_server(self, found: Found) -> None:
        if found.handle.resource.kind != "endpoint":
            raise InputError(f"{found.job.job_id} is a serverless {found.job.kind or 'batch'} job, not a server",
                             "use inv jobs.stop")

    def server(self, found: Found, policy: str | None) -> Server:
        """Upstream's authenticated remote policy at the endpoint's https URL; the token from MysteryBox for
        the client's environment only."""
        from ..serverless.launch import token

        res, api = found.handle.resource, found.handle.api
        if res.kind != "endpoint" or res.state != "RUNNING" or not res.https_url:
            raise InputError(f"{found.job.job_id} is not a running serverless endpoint with an https URL "
                             f"({res.kind}, {res.state})", "start one with inv serve.* --host cloud")
        if policy and policy.lstrip(".") != "authed_remote":
            raise InputError(f"a serverless endpoint needs the token: --policy {policy} sends none",
                             "drop --policy (authed_remote is used)")
        env = {"AUTH_TOKEN": token(api)}
        if api.target.ca_file:
            env["SSL_CERT_FILE"] = api.target.ca_file  # the sandbox's own CA; real endpoints need none
        return Server(found.job.host, res.https_url, 443, "authed_remote", env)
