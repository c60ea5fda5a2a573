"""JobSpec: everything about one job, decided before anything starts.

This is the seam for placement, the checks and the ledger (launch/pipeline.py's stages): the plan
builds a JobSpec, the check stage runs preflight with what `guard.checks(spec)` gives (which may raise,
e.g. a PreflightError, and then nothing has started; it claims the output when all is well), the record
stage calls `guard.intent(spec)`, starts it, then `guard.record(spec, result)`, or
`guard.abandon(spec)` when the start failed (the claim goes back). The guard only reads the spec.
"""
from __future__ import annotations

import getpass
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Protocol

from ..records import timestamps

KINDS = ("train", "serve", "convert", "stats", "infer")


@dataclass(frozen=True)
class JobSpec:
    job_id: str  # also the container name on the host
    service: str  # compose service name, e.g. groot-train
    kind: str  # one of KINDS
    host: str  # inventory host name (never an alias)
    args: tuple[str, ...]  # program arguments after the service name
    image: str | None = None  # full image ref the job will run (from the images env file)
    port: int | None = None  # published port for servers
    gpu_mem_mb: int = 0  # GPU memory the job is expected to hold
    inputs: tuple[str, ...] = ()  # s3:// URLs the job reads
    output: str | None = None  # s3:// URL the job writes under
    exp_name: str | None = None
    resume: bool = False
    force: bool = False  # overwrite an existing output
    replace: bool = False  # stop a running job of the same service on the host first
    user: str = field(default_factory=lambda: os.environ.get("USER") or getpass.getuser())
    created: str = field(default_factory=timestamps.utc)
    env: Mapping[str, str] = field(default_factory=dict)  # non-secret container env (e.g. MUJOCO_GL)
    # Typed facts of the job, set once from its typed arguments (jobs/services.py), never parsed from args:
    program: str = ""  # the module or console script the service starts (catalog key)
    era: str = ""  # the upstream commit whose compose file runs it
    run_folder: str | None = None  # the prefix the job writes and syncs (output + exp, per layout)
    checkpoints: str | None = None  # servers: the run folder they serve from
    checkpoint: str | None = None  # servers: the checkpoint asked for (None: the latest)
    layout: str | None = None  # checkpoint layout of the program: groot / openpi / lerobot
    client: str | None = None  # servers: the inference client's policy config
    container_port: int | None = None  # servers: the port inside the container
    options: Mapping[str, Any] = field(default_factory=dict)  # the typed values, for the validators

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["args"], data["inputs"], data["env"] = list(self.args), list(self.inputs), dict(self.env)
        data["options"] = dict(self.options)
        return data


@dataclass(frozen=True)
class LaunchResult:
    job_id: str
    host: str
    container_id: str = ""
    project_dir: str = ""  # where the compose project lives on the host
    shipped: bool = False  # the project was sent this time (it had changed)
    commands: tuple[str, ...] = ()  # the exact remote commands (what --dry-run prints)
    seconds: float = 0.0
    dry_run: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)  # what else the ledger keeps (serverless: preset, id)


class Guard(Protocol):
    """What a launch asks of its checks and its ledger, on every target (remote_training.guard.LaunchGuard;
    NoHooks when jobs.preflight is off). The one hook protocol: every method is always there."""

    def place(self, spec: JobSpec) -> JobSpec: ...

    def checks(self, spec: JobSpec) -> dict[str, Any] | None: ...

    def keep(self, spec: JobSpec, report: Any) -> None: ...

    def image_digest(self, job_id: str) -> str | None: ...

    def intent(self, spec: JobSpec) -> None: ...

    def record(self, spec: JobSpec, result: LaunchResult) -> None: ...

    def abandon(self, spec: JobSpec) -> None: ...

    def finish(self, job_id: str, exit_code: int, ended: str | None = None) -> None: ...

    def close(self) -> None: ...


class NoHooks:
    """The Guard with checks and ledger off (jobs.preflight=0): checks nothing, records nothing."""

    def checks(self, spec: JobSpec) -> dict[str, Any] | None:
        return None

    def keep(self, spec: JobSpec, report: Any) -> None:
        return None

    def image_digest(self, job_id: str) -> str | None:
        return None

    def intent(self, spec: JobSpec) -> None:
        return None

    def record(self, spec: JobSpec, result: LaunchResult) -> None:
        return None

    def abandon(self, spec: JobSpec) -> None:
        return None

    def place(self, spec: JobSpec) -> JobSpec:
        from ..errors import InputError

        raise InputError("--host auto needs placement, which is off (jobs.preflight=0)", "name a host")

    def finish(self, job_id: str, exit_code: int, ended: str | None = None) -> None:
        return None

    def close(self) -> None:
        return None


def new_job_id(service: str, now: float | None = None) -> str:
    """`<service>-<YYMMDD-HHMMSS>-<4 hex>`: sortable, unique, a valid container name."""
    stamp = time.strftime("%y%m%d-%H%M%S", time.gmtime(now if now is not None else time.time()))
    return f"{service}-{stamp}-{secrets.token_hex(2)}"
