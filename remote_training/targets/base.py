"""The Target interface: what every place a job can run offers, as dstack's `Compute` and SkyPilot's
provisioner do. Tasks call these and never ask which kind of target they hold.

    target.launch(placed, guard, ...)    # start a placed job (checks, start, record: launch/pipeline.py)
    target.list() / target.find(ref)     # its jobs as `Found` rows
    target.logs(found, ...)              # the job's log, secrets masked
    target.wait(found)                   # block until it ends: (exit code, when it ended if before the wait)
    target.stop(found, pause=..., dry_run=...)   # what was done, as the line to print
    target.server(found, policy)         # a running server's address, for the inference client
"""
from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..fleet.snapshot import Job
from ..jobs.spec import Guard, LaunchResult
from ..progress import Phase, silent


@dataclass(frozen=True)
class Found:
    """A job as a target sees it: the row every listing prints, the target holding it, and the target's
    own handle on it (a Nebius resource; None on a fixed host, where the row is all it needs)."""
    job: Job
    target: "Target"
    handle: Any = None
    port: Any = ""  # what jobs.list's port column shows: a fixed host's port, an endpoint's URL


@dataclass(frozen=True)
class Server:
    """Where the inference client reaches a running server, with what it needs there."""
    host: str
    address: str
    port: int
    policy: str
    env: Mapping[str, str]  # for the client's environment only (an endpoint's token); never printed


class Target(ABC):
    """One kind of place jobs run, over the hosts or serverless targets of that kind a command names."""

    names: Sequence[str]  # the inventory names it covers
    pauses = False  # whether stop(pause=True) means something here (an endpoint kept with its URL)

    @abstractmethod
    def launch(self, placed: Any, guard: Guard, *, dry_run: bool, job_env: Mapping[str, str], wait: bool,
               ready_timeout: float, create_timeout: float, progress: Phase = silent) -> LaunchResult:
        """Check, start and record a placed job (launch/pipeline.Placed); then a server's readiness, and with
        `wait` its log to the end (JobFailed on a non-zero exit)."""

    def prewarm(self, name: str) -> None:  # noqa: B027 - optional: a target with nothing to warm keeps this
        """Start connecting to `name` in the background while the launch gets ready (nothing to do by default)."""

    @abstractmethod
    def list(self) -> tuple[builtins.list[Found], Mapping[str, BaseException]]:
        """Every job here; the parts that did not answer, by name, in the second item (any error a host's
        call raised, as `remote.FanOut.failed` holds it: `remote.describe` says it)."""

    @abstractmethod
    def find(self, ref: str) -> Found | None:
        """A job by exact id or unique prefix; None when it is not here. Raises when a part that did not
        answer may hold it (never a prefix's one match elsewhere then)."""

    @abstractmethod
    def logs(self, found: Found, *, tail: int | None = None, follow: bool = False, stream: Any = None,
             secrets: builtins.list[str] | None = None) -> str:
        """The job's log, secrets masked; written to `stream` as it comes when given; `follow`: until it ends."""

    @abstractmethod
    def wait(self, found: Found, timeout: float | None = None) -> tuple[int, str | None]:
        """Block until the job ends: its exit code, and when it ended if that was before this wait (else None)."""

    @abstractmethod
    def stop(self, found: Found, *, pause: bool = False, dry_run: bool = False) -> str | None:
        """Stop the job (a server kept with `pause` where `pauses`); the line saying what was done, if any."""

    @abstractmethod
    def servers_up(self, name: str) -> builtins.list[Found]:
        """The servers running on the host or target `name` (serve.stop NAME)."""

    @abstractmethod
    def require_server(self, found: Found) -> None:
        """InputError unless the job is a server (serve.stop JOB)."""

    @abstractmethod
    def server(self, found: Found, policy: str | None) -> Server:
        """Where the inference client reaches this running server (InputError when it is none)."""
