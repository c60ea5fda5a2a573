"""Serverless jobs and endpoints beside container jobs: the same `Job` rows for jobs.list, and
logs, progress, wait and stop by the same job id (the Nebius resource's name)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ..errors import InputError, RTError
from ..fleet.snapshot import Job
from ..records.ledger import MaskedStream, scrub_log, secret_values
from . import logs
from .client import Resource, Serverless
from .launch import client_for, created_ns, follow


@dataclass(frozen=True)
class Found:
    """A serverless job as jobs.* see it: the row, and where it lives."""
    job: Job
    resource: Resource
    api: Serverless


def as_job(target: Any, res: Resource) -> Job:
    labels = res.labels
    return Job(job_id=res.name, host=target.name, service=labels.get("rt-service", ""),
               kind=labels.get("rt-kind", "serve" if res.kind == "endpoint" else ""),
               state=res.column_state, exit_code=res.exit_code if res.final else None,
               started=res.started or res.created, finished=res.finished, user=labels.get("rt-user", ""),
               image=res.image, container=res.id, name=res.name, status=f"{res.state} {res.detail}".strip(),
               era=labels.get("rt-era", ""), ports=res.https_url)


def list_all(inventory: Any, targets: Sequence[Any] | None = None) -> tuple[list[Found], dict[str, RTError]]:
    """Every job and endpoint of every serverless target; targets whose API failed in the second item."""
    found: list[Found] = []
    failed: dict[str, RTError] = {}
    for target in inventory.serverless if targets is None else targets:
        api = client_for(target, inventory)
        try:
            for kind in ("job", "endpoint"):
                found += [Found(as_job(target, r), r, api) for r in api.list(kind) if r.state != "DELETING"]
        except RTError as exc:
            failed[target.name] = exc
    return found, failed


def find(inventory: Any, ref: str, targets: Sequence[Any] | None = None) -> Found | None:
    """A serverless job by exact name or unique prefix; None when no target has it. A target whose API
    failed may hold it: then its error is raised instead of None (or of a prefix's one match elsewhere)."""
    if not inventory.serverless:
        return None
    items, failed = list_all(inventory, targets)
    exact = [f for f in items if f.job.job_id == ref]
    matches = exact or [f for f in items if f.job.job_id.startswith(ref)]
    if len(matches) > 1:
        raise InputError(f"{ref!r} matches {len(matches)} serverless jobs: "
                         f"{', '.join(f.job.job_id for f in matches[:5])}", "give more of the job id")
    if failed and not exact:
        raise next(iter(failed.values()))
    return matches[0] if matches else None


def log_text(found: Found, tail: int | None = None, secrets: list[str] | None = None) -> str:
    """The log's last lines, secrets masked (`secrets` None: this environment's, ledger.secret_values)."""
    since = created_ns(found.resource.created) - 60 * 10**9  # a minute of clock skew
    lines = logs.read(found.api.target, found.resource.kind, found.resource.id, since, tail)
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return scrub_log(text, secret_values(os.environ) if secrets is None else secrets)


def show_logs(found: Found, *, follow_: bool, tail: int | None, stream: Any = None,
              secrets: list[str] | None = None) -> None:
    secrets = secret_values(os.environ) if secrets is None else secrets
    stream = stream or sys.stdout
    if not follow_:
        stream.write(log_text(found, tail, secrets))
        return
    masked = MaskedStream(stream, secrets)
    try:
        follow(found.api, found.resource.kind, found.resource.id, masked.write)
    finally:
        masked.close()


def wait(found: Found, timeout: float | None = None, on_change: Callable[[Resource], None] | None = None) -> int:
    """Block until the job reaches a final state (ERROR included); its exit code."""
    done = found.api.wait_state(found.resource.kind, found.resource.id, lambda r: r.final, timeout, interval=2.0,
                                on_change=on_change)
    return done.end_code


def stop(found: Found, *, pause: bool = False) -> str:
    """A job is cancelled; an endpoint deleted (URL retired), or with `pause` stopped (URL kept)."""
    res = found.resource
    if res.kind == "job":
        if not res.final:
            found.api.cancel_job(res.id)
        return "cancelled" if not res.final else f"already {res.state.lower()}"
    if pause:
        found.api.endpoint_action("stop", res.id)
        return "paused (URL kept: inv serve.stop ... to delete it)"
    found.api.endpoint_action("delete", res.id)
    return "deleted"
