"""What a launch on Nebius Serverless needs of the API (targets/serverless.ServerlessStart walks it):

- `plan`: the JobSpec and its compose service as a ServerlessSpec (bad input fails here, before any
  check or API call); `pinned`: the image by the digest the registry reported;
- `created_anyway`: after a create whose outcome is unknown, the resource if it exists;
- `endpoint_answer`: one ask of a server's readiness (its HTTPS URL answers 200 to a GET of the catalog's
  path with the token: `/api/v1/models` for the model servers, `/` for the dataset viewer);
- `follow`: the log until a final state, and the exit code.
"""
from __future__ import annotations

import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError, JobFailed, ProviderError
from ..fleet.providers.base import ProviderUnavailable
from ..fleet.serverless_target import ServerlessTarget
from ..jobs.catalog import MODEL_SERVER
from ..jobs.services import RUNBOOK
from ..jobs.spec import JobSpec, LaunchResult
from ..progress import Phase, silent
from . import logs
from .client import OperationOutlived, Resource, Serverless
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


def page_url(url: str, path: str) -> str:
    """An endpoint URL (as Nebius gives it, with or without its slash) joined with a path."""
    return f"{url.rstrip('/')}{path}"


def answer_status(url: str, path: str, bearer: str | None, target: ServerlessTarget, timeout: float = 10.0) -> int:
    """HTTP status of `GET <url><path>` (0 when nothing answered). Only an https URL gets the token."""
    if bearer and not url.startswith("https://"):
        raise ProviderError(f"refusing to send the endpoint token to {url}: not TLS", "use the endpoint's https URL")
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    request = urllib.request.Request(page_url(url, path), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=logs.tls_context(target)) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return 0


def endpoint_answer(api: Serverless, resource_id: str, bearer: str, path: str = MODEL_SERVER.path,
                    progress: Phase = silent) -> str | None:
    """The endpoint's https URL once `GET <path>` (the catalog's, for its program) answers 200 with the token
    (None until then; 502/503 while it warms, 401 from a server or Nebius's token proxy on a bad token);
    JobFailed when it ended in ERROR or STOPPED. One ask of the follow's ready-wait (launch/pipeline.py)."""
    now = api.get("endpoint", resource_id)
    progress(f"endpoint {now.name} is {now.state.lower()}"
             + (f", waiting for GET {path}" if now.state == "RUNNING" else ""))
    if now.state in ("ERROR", "STOPPED"):
        raise JobFailed(f"endpoint {now.name} is {now.state}: {now.detail or 'no detail from the API'}",
                        f"inv jobs.logs {now.name}; delete it: inv serve.stop {now.name}")
    url = now.https_url
    return url if now.state == "RUNNING" and url and answer_status(url, path, bearer, api.target) == 200 else None
