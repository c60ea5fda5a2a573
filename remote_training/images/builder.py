"""Carrying out a plan with the local engine (docker SDK, classic builder).

Independent chains run at the same time (bounded by `parallel`); an image
starts only once its base has been built and, when pushing, pushed. A failure
blocks its dependents and lets the other chains finish; the caller gets one
Outcome per image and decides the exit code.
"""
from __future__ import annotations

import re
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ImageError
from .planner import BUILD, PUSH, SKIP, TAG, Plan, Step
from .registry import copy_tag
from .source_key import context_entries

Event = Callable[[str, str, str], None]  # (image, status, detail)
OUTSIDE_DOCKERFILE = ".rt-dockerfile"  # name inside the tar for a Dockerfile kept outside its context
ENGINE_TIMEOUT_S = 1800  # a quiet RUN step may hold the stream this long
STEP_RE = re.compile(r"^Step (\d+/\d+)")


@dataclass
class Outcome:
    name: str
    status: str  # built, pushed, built+pushed, up to date, failed, blocked
    detail: str = ""
    seconds: float = 0.0
    ref: str = ""

    @property
    def ok(self) -> bool:
        return self.status not in ("failed", "blocked")


def execute(plan: Plan, *, parallel: int = 3, on_event: Event | None = None, live: bool | None = None,
            client_factory: Callable[[], Any] | None = None) -> list[Outcome]:
    """Run every non-skipped step; returns outcomes in plan order."""
    board = _Board(plan, on_event, live)
    by_name = plan.by_name()
    outcomes: dict[str, Outcome] = {}
    for step in plan.steps:
        if step.action == SKIP:
            outcomes[step.name] = Outcome(step.name, "up to date", step.reason, ref=step.key_ref)
    pending = [s for s in plan.steps if s.action != SKIP]
    factory = client_factory or _client
    with board, ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="image") as pool:
        running: dict[Future, str] = {}
        while pending or running:
            for step in list(pending):
                base = step.spec.base
                if base in by_name and base not in outcomes:
                    continue  # its base is still on its way
                pending.remove(step)
                if base in outcomes and not outcomes[base].ok:
                    outcomes[step.name] = Outcome(step.name, "blocked", f"base {base} {outcomes[base].status}",
                                                  ref=step.key_ref)
                    board.event(step.name, "blocked", outcomes[step.name].detail)
                    continue
                running[pool.submit(_run_step, step, plan.push, factory, board.event)] = step.name
            if not running:
                continue
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for fut in done:
                name = running.pop(fut)
                outcomes[name] = fut.result()
    return [outcomes[s.name] for s in plan.steps]


def _client() -> Any:
    import docker

    try:
        return docker.from_env(timeout=ENGINE_TIMEOUT_S)
    except docker.errors.DockerException as exc:
        raise ImageError(f"docker engine unreachable: {exc}", fix="start dockerd or set DOCKER_HOST") from None


def _run_step(step: Step, push: bool, factory: Callable[[], Any], event: Event) -> Outcome:
    started = time.monotonic()
    try:
        client = factory()
        if step.action == BUILD:
            event(step.name, "building", "")
            build_image(client, step, lambda line: event(step.name, "building", line))
        if push and step.action in (BUILD, PUSH):
            for tag in step.tags:
                event(step.name, "pushing", f"{step.repo_ref}:{tag}")
                push_tag(client, step.repo_ref, tag)
        if push and step.action == TAG:
            for tag in step.stale_tags:
                event(step.name, "tagging", f"{step.repo_ref}:{tag}")
                copy_tag(step.key_ref, tag)
        status = {BUILD: "built+pushed" if push else "built", PUSH: "pushed", TAG: "retagged"}[step.action]
        outcome = Outcome(step.name, status, step.reason, time.monotonic() - started, step.key_ref)
    except Exception as exc:  # one image's failure must not stop the other chains
        outcome = Outcome(step.name, "failed", _one_line(exc), time.monotonic() - started, step.key_ref)
    event(step.name, outcome.status, outcome.detail)
    return outcome


def build_image(client: Any, step: Step, progress: Callable[[str], None]) -> None:
    """Build `step` from a tar of exactly the files its key was computed from."""
    spec = step.spec
    with tempfile.SpooledTemporaryFile(max_size=64 << 20) as fh:
        dockerfile = _write_context(fh, step)
        fh.seek(0)
        stream = client.api.build(fileobj=fh, custom_context=True, dockerfile=dockerfile, tag=step.key_ref,
                                  buildargs=step.build_args, platform=spec.platform, pull=False, rm=True,
                                  forcerm=True, decode=True, labels={"rt.source_key": step.key})
        for chunk in stream:
            if "error" in chunk or "errorDetail" in chunk:
                msg = chunk.get("error") or chunk["errorDetail"].get("message", "")
                raise ImageError(f"build of {spec.name} failed: {msg.strip()}",
                                 fix=f"fix {spec.dockerfile} and rerun")
            line = str(chunk.get("stream", "")).strip()
            if line:
                progress(line)
    for tag in step.moving_tags:
        client.api.tag(step.key_ref, step.repo_ref, tag)


def _write_context(fh: Any, step: Step) -> str:
    """Tar the admitted context files into `fh`; returns the Dockerfile's name inside it."""
    spec = step.spec

    def owner_free(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(fileobj=fh, mode="w") as tar:
        for entry in context_entries(spec.context, spec.dockerfile):
            tar.add(str(entry.path), arcname=entry.rel, recursive=False, filter=owner_free)
        try:
            return spec.dockerfile.relative_to(spec.context).as_posix()
        except ValueError:
            tar.add(str(spec.dockerfile), arcname=OUTSIDE_DOCKERFILE, recursive=False, filter=owner_free)
            return OUTSIDE_DOCKERFILE


def push_tag(client: Any, repo_ref: str, tag: str) -> None:
    for chunk in client.api.push(repo_ref, tag=tag, stream=True, decode=True):
        if "error" in chunk or "errorDetail" in chunk:
            msg = chunk.get("error") or chunk["errorDetail"].get("message", "")
            raise ImageError(f"push of {repo_ref}:{tag} failed: {msg.strip()}",
                             fix="check that the registry is up and `docker login` is done, then rerun")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class _Board:
    """Live per-image progress: a rich table on a terminal, one line per change otherwise."""

    def __init__(self, plan: Plan, on_event: Event | None, live: bool | None) -> None:
        from rich.console import Console

        self.plan = plan
        self.on_event = on_event
        self.console = Console(file=sys.stderr)
        self.live_enabled = self.console.is_terminal if live is None else live
        self.rows = {s.name: [s.action, "waiting" if s.action != SKIP else "up to date", "", None] for s in plan.steps}
        self.lock = threading.Lock()
        self.live: Any = None

    def event(self, name: str, status: str, detail: str) -> None:
        with self.lock:
            row = self.rows[name]
            changed = row[1] != status
            if status in ("building", "pushing", "tagging") and row[3] is None:
                row[3] = time.monotonic()
            match = STEP_RE.match(detail)
            row[1], row[2] = status, (f"step {match.group(1)}" if match else detail)[:70] or row[2]
        if self.on_event:
            self.on_event(name, status, detail)
        if not self.live_enabled and changed:
            self.console.print(f"{name}: {status}" + (f" ({detail})" if detail and status != "building" else ""),
                               highlight=False)

    def render(self) -> Any:
        from rich.table import Table

        table = Table(title="images", header_style="bold")
        for col in ("image", "plan", "status", "detail", "time"):
            table.add_column(col)
        with self.lock:
            for name, (action, status, detail, started) in self.rows.items():
                secs = f"{time.monotonic() - started:.0f}s" if started else ""
                table.add_row(name, action, status, detail, secs)
        return table

    def __enter__(self) -> "_Board":
        if self.live_enabled and self.plan.work:
            from rich.live import Live

            self.live = Live(get_renderable=self.render, console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)
