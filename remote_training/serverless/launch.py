"""A typed plan launched on a serverless target: the same stages as the fixed fleet's launch path.

1. plan: `spec.build` turns the JobSpec and its compose service into a ServerlessSpec (bad input
   fails here, before any check or API call);
2. check: the guard's preflight (inputs, output claim in run.json, image) — no host to probe;
3. launch: the image pinned by the digest the registry reported, secrets as MysteryBox
   references, one create call and its operation; the ledger line (`guard.record`);
4. follow: a server returns once its HTTPS URL answers `GET /api/v1/models` with the token; `wait`
   streams the logs until a final state and records the exit code.
"""
from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError, JobFailed, ProviderError, raise_if_failed
from ..fleet.providers.base import ProviderUnavailable
from ..fleet.serverless_target import ServerlessTarget
from ..jobs.record import start_recorded
from ..jobs.services import RUNBOOK
from ..jobs.spec import Guard, JobSpec, LaunchResult
from ..progress import Phase, silent
from ..records.ledger import MaskedStream, secret_values
from . import logs
from .client import OPERATION_S, OperationOutlived, Resource, Serverless
from .spec import ServerlessSpec, build

READY_POLL_S = 2.0
AUTH_KEY = "AUTH_TOKEN"  # the payload key in the token's secret = the variable the server reads


def pinned(ref: str, digest: str | None) -> str:
    """`repo:tag` as `repo@sha256:...`: the serverless job runs exactly what images.push sent."""
    from ..images.registry import split_ref

    return f"{split_ref(ref)[0]}@{digest}" if digest else ref


def client_for(target: ServerlessTarget, inventory: Any) -> Serverless:
    return Serverless(target, dict(inventory.extra.get("nebius") or {}))


def plan(job_spec: JobSpec, service: Any, target: ServerlessTarget, inventory: Any,
         source_root: Path | None = None) -> ServerlessSpec:
    if job_spec.era == RUNBOOK:
        # upstream ran no serverless then: its GR00T server speaks ZeroMQ (no HTTP readiness answer) and
        # its OpenPI server ignores AUTH_TOKEN (the endpoint would be open)
        raise InputError(f"{service.name}: the runbook-era checkout (positronic {RUNBOOK}) has no serverless "
                         f"workflow; its servers cannot answer or guard a Nebius endpoint",
                         "run it on a fixed host (--host NAME), or use a current checkout (jobs.compose_project)")
    if not job_spec.image:
        raise InputError(f"no pushed image for {service.repository}: nothing to run {service.name} with",
                         "build and push it first: inv images.push")
    return build(job_spec, service, target, job_spec.image, s3_endpoint=inventory.s3_endpoint,
                 source_root=source_root)


def run(placed: Any, target: ServerlessTarget, inventory: Any, guard: Guard, *, dry_run: bool, wait: bool,
        ready_timeout: float, create_timeout: float = OPERATION_S, echo: Callable[[str], None] = print,
        progress: Phase = silent) -> LaunchResult:
    """Check, create, record; then follow as asked. `placed`: launch/pipeline.Placed whose host is `target`."""
    plan_, spec = placed.plan, placed.spec
    serverless = plan(spec, plan_.service, target, inventory, plan_.source_root)
    if dry_run:
        guard.before_launch(spec)  # the checks only read: a dry run shows the refusals too
        echo(f"# {spec.job_id}: {plan_.service.name} ({plan_.era_label}) on {target.name} "
             f"(Nebius Serverless {serverless.compute.label}), image {spec.image}")
        service = "JobService" if serverless.kind == "job" else "EndpointService"
        echo(f"# {service}.Create, then wait for its operation:")
        echo(json.dumps(serverless.to_dict(), indent=2))
        return LaunchResult(spec.job_id, target.name, dry_run=True,
                            commands=(json.dumps(serverless.to_dict(), sort_keys=True),))
    began = time.monotonic()
    api = client_for(target, inventory)
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="serverless-prepare")
    prepared = pool.submit(api.prepare, serverless)  # the SDK and secret ids while the checks run
    pool.shutdown(wait=False)
    guard.before_launch(spec)
    digest = guard.image_digest(spec.job_id)
    if digest is None:
        from ..preflight import image_digest

        digest = image_digest(spec.image)
    serverless = replace(serverless, image=pinned(spec.image, digest))
    try:
        prepared.result()
    except BaseException:
        guard.abandon(spec)  # nothing was sent
        raise
    outlived: list[tuple[OperationOutlived, BaseException]] = []  # the error, and what cut the wait short

    def go() -> LaunchResult:
        try:
            progress(f"creating the {serverless.kind} {serverless.name} (Nebius operation)")
            resource_id = api.create(serverless, create_timeout)
        except BaseException as exc:
            # The request may have been taken though its answer or operation never came back: the job
            # may run and write to the output. Give nothing back before the API says it cannot.
            found = created_anyway(api, serverless) if outcome_unknown(exc) else None
            if found is None:
                if isinstance(exc, KeyboardInterrupt):
                    guard.abandon(spec)  # asked twice to leave, and the API says nothing was made
                raise
            where = (f"the {serverless.kind} exists ({found.state.lower()})" if found.id else
                     f"the API could not say whether the {serverless.kind} exists")
            error = OperationOutlived(f"{serverless.name} on {target.name}: the create did not finish within the "
                                      f"wait ({type(exc).__name__}), but {where}; it keeps its claim on the output",
                                      f"follow it: inv jobs.wait {serverless.name}")
            outlived.append((error, exc))
            return launch_result(spec, target, serverless, found.id, began)  # recorded: it may run
        finally:
            progress("")
        return launch_result(spec, target, serverless, resource_id, began)

    result = start_recorded(guard, spec, go, where=target.name)
    if outlived:
        error, cause = outlived[0]
        raise error from cause
    resource_id = result.container_id
    echo(f"started {serverless.name} on {target.name} ({serverless.kind} {resource_id}, "
         f"{serverless.compute.label}, {result.seconds:.1f}s)")
    if serverless.kind == "endpoint":
        url = wait_ready(api, resource_id, ready_timeout, progress)
        echo(f"{plan_.service.name} answers on {url} (token: MysteryBox secret {target.auth_token_secret}; "
             f"client: inv infer.sim --server {serverless.name}; stop: inv serve.stop {serverless.name}, "
             f"pause: inv serve.stop {serverless.name} --pause)")
        if not wait:
            return result
    elif not wait:
        echo(f"watch: inv jobs.logs {serverless.name} -f | inv jobs.progress {serverless.name} | "
             f"inv jobs.wait {serverless.name}")
        return result
    # MysteryBox hands the job its secrets: this machine masks the values it knows, and any secret-named variable
    masked = MaskedStream(sys.stdout, secret_values(os.environ))
    try:
        code = follow(api, serverless.kind, resource_id, masked.write)
    finally:
        masked.close()
    guard.finish(spec.job_id, code)
    raise_if_failed(spec.job_id, target.name, code)
    echo(f"{serverless.name} finished (exit 0)")
    return result


def launch_result(spec: JobSpec, target: ServerlessTarget, serverless: ServerlessSpec, resource_id: str,
                  began: float) -> LaunchResult:
    return LaunchResult(spec.job_id, target.name, container_id=resource_id, seconds=time.monotonic() - began,
                        details={"target": "serverless", "resource": serverless.kind, "resource_id": resource_id,
                                 "name": serverless.name, "platform": serverless.compute.platform,
                                 "preset": serverless.compute.preset, "image": serverless.image})


def outcome_unknown(error: BaseException) -> bool:
    """Whether a failed create may still have made the resource: no answer, a slow operation, an
    interrupt. A refusal the API gave (quota, rate limiting, a name taken, a bad request) made nothing;
    an operation that failed left the resource in ERROR, which the lookup would find ended anyway."""
    from ..errors import RTError
    from ..fleet.providers.nebius_errors import RateLimited

    if isinstance(error, RateLimited):
        return False
    return isinstance(error, (OperationOutlived, ProviderUnavailable)) or not isinstance(error, RTError)


def created_anyway(api: Serverless, serverless: ServerlessSpec) -> Resource | None:
    """After a failed create: the resource by its name when it exists and can still run (None when the
    API says there is none, or it already ended); when the API cannot be asked, a stand-in record
    that keeps the claim (what is not known to be gone may still write)."""
    from ..fleet.providers.nebius_errors import NotFound

    try:
        found = api.get_by_name(serverless.kind, serverless.name)
    except NotFound:
        return None
    except ProviderError:
        return Resource(serverless.kind, "", serverless.name, "UNKNOWN")
    return None if found.final else found


def follow(api: Serverless, kind: str, resource_id: str, write: Callable[[str], Any],
           since_ns: int | None = None) -> int:
    """Stream the resource's log until it reaches a final state; its exit code."""
    state: dict[str, Resource] = {}

    def ended() -> bool:
        state["now"] = api.get(kind, resource_id)
        return state["now"].final

    first = api.get(kind, resource_id)
    start = since_ns if since_ns is not None else created_ns(first.created) - 60 * 10**9
    logs.follow(api.target, kind, resource_id, start, ended, write)
    return state["now"].end_code


def created_ns(iso: str) -> int:
    """An API timestamp (ISO, UTC) in nanoseconds, as Loki counts; an hour ago when the API gave none."""
    from ..records.timestamps import seconds

    moment = seconds(iso)
    if moment is None:
        return time.time_ns() - 3600 * 10**9
    return int(moment) * 10**9


def token(api: Serverless) -> str:
    """The endpoints' bearer token, from MysteryBox; kept in memory, never printed or logged."""
    value = api.secret_value(api.target.auth_token_secret, AUTH_KEY)
    if not value:
        raise ProviderError(f"{api.target.name}: the secret {api.target.auth_token_secret} has no {AUTH_KEY} entry",
                            f"nebius mysterybox secret create --name {api.target.auth_token_secret} "
                            "--secret-version-payload "
                            f"'[{{\"key\":\"{AUTH_KEY}\",\"string_value\":\"<random hex>\"}}]'")
    return value


def models_status(url: str, bearer: str | None, target: ServerlessTarget, timeout: float = 10.0) -> int:
    """HTTP status of `GET <url>/api/v1/models` (0 when nothing answered). Only an https URL gets the token."""
    if bearer and not url.startswith("https://"):
        raise ProviderError(f"refusing to send the endpoint token to {url}: not TLS", "use the endpoint's https URL")
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    request = urllib.request.Request(f"{url.rstrip('/')}/api/v1/models", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=logs.tls_context(target)) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return 0


def wait_ready(api: Serverless, resource_id: str, timeout: float, progress: Phase = silent) -> str:
    """The endpoint's https URL once `GET /api/v1/models` answers 200 with the token; fail fast on ERROR."""
    bearer = token(api)
    end = time.monotonic() + timeout
    try:
        while True:
            now = api.get("endpoint", resource_id)
            progress(f"endpoint {now.name} is {now.state.lower()}"
                     + (", waiting for GET /api/v1/models" if now.state == "RUNNING" else ""))
            if now.state in ("ERROR", "STOPPED"):
                raise JobFailed(f"endpoint {now.name} is {now.state}: {now.detail or 'no detail from the API'}",
                                f"inv jobs.logs {now.name}; delete it: inv serve.stop {now.name}")
            url = now.https_url
            if now.state == "RUNNING" and url and models_status(url, bearer, api.target) == 200:
                return url
            if time.monotonic() >= end:
                raise JobFailed(f"endpoint {now.name} did not answer on {url or '(no https URL yet)'} within "
                                f"{timeout:g}s", f"inv jobs.logs {now.name}; delete it: inv serve.stop {now.name}")
            time.sleep(READY_POLL_S)
    finally:
        progress("")
