"""Nebius Serverless as a Target: jobs are AI Jobs and Endpoints named by the job id, reached through the
SDK (serverless/client.py), their logs through Observability's Loki API (serverless/logs.py).
`ServerlessStart` is one launch's start: the spec built, the SDK made while the checks run, one create."""
from __future__ import annotations

import builtins
import json
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

from ..errors import InputError, JobFailed
from ..fleet.serverless_target import ServerlessTarget
from ..jobs.spec import Guard, LaunchResult
from ..progress import Phase, silent
from ..records.ledger import MaskedStream
from ..serverless import jobs as serverless
from .base import Found, Server, Start, Target

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

    def open(self, placed: Any, *, dry_run: bool, job_env: Mapping[str, str], checks: bool,
             create_timeout: float, progress: Phase = silent) -> Start:
        [target] = [t for t in self.targets if t.name == placed.spec.host]
        return ServerlessStart(placed, target, self.inventory, dry_run=dry_run, create_timeout=create_timeout,
                               progress=progress)

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


class ServerlessStart(Start):
    """One create on a serverless target: the spec built at once (bad input fails before any check), the SDK
    and the secret ids made while the checks run (no host to probe), the image pinned by its digest, then one
    create and its operation. A create whose outcome is unknown is recorded (it may run) and then said."""

    def __init__(self, placed: Any, target: ServerlessTarget, inventory: Any, *, dry_run: bool,
                 create_timeout: float, progress: Phase = silent, echo: Callable[[str], None] = print) -> None:
        from ..serverless.launch import client_for, plan

        self.placed, self.spec, self.target, self.progress, self.echo = placed, placed.spec, target, progress, echo
        self.create_timeout = create_timeout
        self.job_id, self.where = self.spec.job_id, target.name
        self.serverless = plan(self.spec, placed.plan.service, target, inventory, placed.plan.source_root)
        self.serves = self.serverless.kind == "endpoint"
        from ..serverless.launch import READY_POLL_S

        self.ready_poll_s = READY_POLL_S
        self.began = time.monotonic()
        self.outlived: list[tuple[Exception, BaseException]] = []  # the error, and what cut the create short
        self.bearer: str | None = None
        self.resource_id = ""  # the created resource's id, once confirmed
        self.prepared: Future[Any] | None = None
        if not dry_run:
            self.api = client_for(target, inventory)
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serverless-prepare")
            self.prepared = pool.submit(self.api.prepare, self.serverless)  # the SDK and secret ids, meanwhile
            pool.shutdown(wait=False)

    def checked(self, digest: str | None) -> None:
        from ..preflight import image_digest
        from ..serverless.launch import pinned

        image = self.spec.image or ""
        self.serverless = replace(self.serverless, image=pinned(image, digest or image_digest(image)))
        if self.prepared is not None:
            self.prepared.result()

    def show(self) -> LaunchResult:
        spec, serverless = self.spec, self.serverless
        self.echo(f"# {spec.job_id}: {self.placed.plan.service.name} ({self.placed.plan.era_label}) on "
                  f"{self.where} (Nebius Serverless {serverless.compute.label}), image {spec.image}")
        self.echo(f"# {'JobService' if serverless.kind == 'job' else 'EndpointService'}.Create, then wait for its "
                  "operation:")
        self.echo(json.dumps(serverless.to_dict(), indent=2))
        return LaunchResult(spec.job_id, self.where, dry_run=True,
                            commands=(json.dumps(serverless.to_dict(), sort_keys=True),))

    def go(self, guard: Guard) -> LaunchResult:
        from ..serverless.client import OperationOutlived
        from ..serverless.launch import created_anyway, launch_result, outcome_unknown

        serverless, api = self.serverless, self.api
        try:
            self.progress(f"creating the {serverless.kind} {serverless.name} (Nebius operation)")
            resource_id = api.create(serverless, self.create_timeout)
        except BaseException as exc:
            # The request may have been taken though its answer or operation never came back: the job
            # may run and write to the output. Give nothing back before the API says it cannot.
            found = created_anyway(api, serverless) if outcome_unknown(exc) else None
            if found is None:
                if isinstance(exc, KeyboardInterrupt):
                    guard.abandon(self.spec)  # asked twice to leave, and the API says nothing was made
                raise
            where = (f"the {serverless.kind} exists ({found.state.lower()})" if found.id else
                     f"the API could not say whether the {serverless.kind} exists")
            error = OperationOutlived(f"{serverless.name} on {self.where}: the create did not finish within the "
                                      f"wait ({type(exc).__name__}), but {where}; it keeps its claim on the output",
                                      f"follow it: inv jobs.wait {serverless.name}")
            self.outlived.append((error, exc))
            return launch_result(self.spec, self.target, serverless, found.id, self.began)  # recorded: it may run
        finally:
            self.progress("")
        return launch_result(self.spec, self.target, serverless, resource_id, self.began)

    def confirm(self, result: LaunchResult) -> str:
        if self.outlived:
            error, cause = self.outlived[0]
            raise error from cause
        self.resource_id = result.container_id
        return (f"started {self.serverless.name} on {self.where} ({self.serverless.kind} {result.container_id}, "
                f"{self.serverless.compute.label}, {result.seconds:.1f}s)")

    def ask_ready(self, progress: Phase, secrets: builtins.list[str]) -> str | None:
        from ..serverless.launch import endpoint_answer, page_url, token

        if self.bearer is None:
            self.bearer = token(self.api)
        url = endpoint_answer(self.api, self.resource_id, self.bearer, self.serverless.ready_path, progress)
        name, secret = self.serverless.name, self.target.auth_token_secret
        if url is None:
            return None
        stop = f"stop: inv serve.stop {name}, pause: inv serve.stop {name} --pause"
        if self.serverless.proxy_token_secret:  # a page behind Nebius's token proxy, not an inference server
            return (f"{self.placed.plan.service.name} answers on {page_url(url, self.serverless.ready_path)} "
                    f"(Nebius's token proxy: send Authorization: Bearer <AUTH_TOKEN of MysteryBox secret "
                    f"{secret}>; {stop})")
        return (f"{self.placed.plan.service.name} answers on {url} (token: MysteryBox secret {secret}; "
                f"client: inv infer.sim --server {name}; {stop})")

    def not_ready(self, timeout: float) -> JobFailed:
        now = self.api.get("endpoint", self.resource_id)
        return JobFailed(f"endpoint {now.name} did not answer on {now.https_url or '(no https URL yet)'} within "
                         f"{timeout:g}s", f"inv jobs.logs {now.name}; delete it: inv serve.stop {now.name}")

    def log_to_end(self, result: LaunchResult, secrets: builtins.list[str]) -> int:
        from ..serverless.launch import follow

        # MysteryBox hands the job its secrets: this machine masks the values it knows, and any secret-named variable
        masked = MaskedStream(sys.stdout, secrets)
        try:
            return follow(self.api, self.serverless.kind, result.container_id, masked.write)
        finally:
            masked.close()
