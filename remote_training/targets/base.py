"""The Target interface: what every place a job can run offers, as dstack's `Compute` and SkyPilot's
provisioner do. Tasks call these and never ask which kind of target they hold.

    target.provision(name, ...)          # a stopped VM started before the checks (launch/pipeline.py's stage)
    start = target.open(placed, ...)     # a placed job's start, opened while the checks run: a `Start`
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
from typing import Any, Callable, Mapping, Sequence

from ..errors import JobFailed
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


class Start(ABC):
    """One placed job's start, opened by `Target.open`: what the pipeline's stages ask of the target
    (launch/pipeline.py): the host probe for the checks, the start itself for the record stage, and for
    the follow how it says it started, how to ask whether it answers, and how to read its log to the end."""

    job_id: str
    where: str  # the host or serverless target it starts on
    serves: bool  # a server: the follow waits until it answers
    ready_poll_s: float = 1.0
    probed: Callable[[], tuple[str, int] | None] | None = None  # the host probe, for the checks (a fixed host's)

    def abort(self) -> None:  # noqa: B027 - optional: a start that holds nothing keeps this
        """Start nothing, and let go of what `open` holds (a held launch command)."""

    def checked(self, digest: str | None) -> None:  # noqa: B027 - optional
        """The checks passed (`digest`: the image's, as the registry said): get ready to go."""

    @abstractmethod
    def show(self) -> LaunchResult:
        """--dry-run: print what would run, and start nothing."""

    @abstractmethod
    def go(self, guard: Guard) -> LaunchResult:
        """The start itself (called by the record stage, jobs/record.start_recorded); `guard` for a start that
        knows nothing started where the record stage cannot tell (an interrupt asked twice)."""

    @abstractmethod
    def confirm(self, result: LaunchResult) -> str:
        """The line that says the job started (raises when whether it did is not known)."""

    @abstractmethod
    def ask_ready(self, progress: Phase, secrets: builtins.list[str]) -> str | None:
        """A server's answer: the line saying where it answers, None while it does not yet; JobFailed when it
        ended instead (`secrets`: masked in the log lines that say why)."""

    @abstractmethod
    def not_ready(self, timeout: float) -> JobFailed:
        """The error when the server did not answer within `timeout`."""

    @abstractmethod
    def log_to_end(self, result: LaunchResult, secrets: builtins.list[str]) -> int:
        """Stream the job's log (secrets masked) until it ends; its exit code."""


class Target(ABC):
    """One kind of place jobs run, over the hosts or serverless targets of that kind a command names."""

    names: Sequence[str]  # the inventory names it covers
    pauses = False  # whether stop(pause=True) means something here (an endpoint kept with its URL)

    def provision(self, name: str, *, auto_start: bool, dry_run: bool,  # noqa: B027 - nothing to start by default
                  echo: Callable[[str], None]) -> None:
        """Make `name` ready to take a job before the checks: a stopped VM started (when `auto_start`;
        `dry_run` says it would be). A target whose compute is made per run has nothing to do."""

    @abstractmethod
    def open(self, placed: Any, *, dry_run: bool, job_env: Mapping[str, str], checks: bool,
             create_timeout: float, progress: Phase = silent) -> Start:
        """Begin a placed job's start (launch/pipeline.Placed): what can be got ready while the checks run
        (`checks`: whether they run) is, and nothing starts. Bad input for this target fails here."""

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
