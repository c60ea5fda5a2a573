"""Carrying out a plan: BuildKit builds (`docker buildx build`) and `docker push`, as subprocesses.

BuildKit, because the team's Dockerfiles use `RUN --mount=type=cache` and heredocs,
which the classic builder (docker-py's `api.build`, `DOCKER_BUILDKIT=0`) refuses.
buildx must use a builder with the `docker` driver (the engine's own BuildKit): then
FROM sees the engine's images, so a derived image builds FROM the base just built
here (by its exact key ref, never pulled from the Hub) and the result lands in the
engine's store, from which `docker push` sends it.

Independent chains run at the same time (bounded by `parallel`). An image
starts building once its base is built here, while the base is pushed, and is
pushed only once its base is in the registry. A failure blocks its dependents
and lets the other chains finish; the caller gets one Outcome per image and
decides the exit code.
"""
from __future__ import annotations

import collections
import queue
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from ..errors import ImageError
from .planner import BUILD, PUSH, SKIP, TAG, BuildPlan, Step
from .registry import copy_tag

Event = Callable[[str, str, str], None]  # (image, status, detail)
LOG_TAIL = 25  # lines of a failed build's output kept for the report
# buildx --progress=plain: "#7 [stage-0 2/4] RUN ..." starts a step; "#9 exporting to image" the export.
STEP_RE = re.compile(r"^#\d+ \[(?:[^\]]*? )?(\d+/\d+)\] (.*)$")
EXPORT_RE = re.compile(r"^#\d+ (exporting to image|naming to .*)$")
BUILDX_FIX = ("install the buildx plugin (Debian: apt-get install docker-buildx; Docker's repo: docker-buildx-plugin) "
              "and use a builder with the docker driver: docker buildx use default")


@dataclass
class Outcome:
    name: str
    status: str  # built, pushed, built+pushed, up to date, failed, blocked
    detail: str = ""
    seconds: float = 0.0
    ref: str = ""
    log: list[str] = field(default_factory=list)  # the last lines of a failed build

    @property
    def ok(self) -> bool:
        return self.status not in ("failed", "blocked")


def execute(plan: BuildPlan, *, parallel: int = 3, on_event: Event | None = None,
            live: bool | None = None) -> list[Outcome]:
    """Run every non-skipped step; returns outcomes in plan order.

    A derived image starts building as soon as its base is built here (FROM reads the engine's
    store), while the base is still being pushed; it is pushed only once its base is in the registry,
    and is `blocked` (built here, not pushed) when its base fails. ImageError before anything starts
    when a build is due and buildx cannot build into the engine."""
    if any(s.action == BUILD for s in plan.steps):
        check_buildx()
    board = _Board(plan, on_event, live)
    by_name = plan.by_name()
    outcomes: dict[str, Outcome] = {}
    finished = {s.name: threading.Event() for s in plan.steps}  # set once outcomes[name] is final
    ready: set[str] = set()  # images whose local build is done (or not needed): dependents may build
    for step in plan.steps:
        if step.action == SKIP:
            outcomes[step.name] = Outcome(step.name, "up to date", step.reason, ref=step.key_ref)
            finished[step.name].set()
            ready.add(step.name)
    notes: queue.Queue = queue.Queue()  # ("built", name) and ("done", name, outcome) from the workers

    def base_outcome(step: Step) -> Outcome | None:
        base = step.spec.base
        if base not in by_name:
            return None
        finished[base].wait()
        return outcomes[base]

    pending = [s for s in plan.steps if s.action != SKIP]
    running = 0
    with board, ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="image") as pool:
        while pending or running:
            for step in list(pending):
                base = step.spec.base
                if base in by_name and base not in ready and not finished[base].is_set():
                    continue  # its base is still being built
                pending.remove(step)
                if base in by_name and finished[base].is_set() and not outcomes[base].ok:
                    outcomes[step.name] = Outcome(step.name, "blocked", f"base {base} {outcomes[base].status}",
                                                  ref=step.key_ref)
                    finished[step.name].set()
                    board.event(step.name, "blocked", outcomes[step.name].detail)
                    continue
                pool.submit(_run_step, step, plan.push, board.event, partial(base_outcome, step), notes.put)
                running += 1
            if not running:
                continue
            note = notes.get()
            if note[0] == "built":
                ready.add(note[1])
            else:
                outcomes[note[1]] = note[2]
                finished[note[1]].set()
                running -= 1
    return [outcomes[s.name] for s in plan.steps]


def check_buildx() -> str:
    """The current buildx builder's name; ImageError unless buildx is there and uses the docker driver."""
    try:
        done = subprocess.run(["docker", "buildx", "inspect"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageError(f"docker buildx cannot run ({exc})", fix=BUILDX_FIX) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ImageError(f"docker buildx cannot build: {last}", fix=BUILDX_FIX)
    fields = dict(line.split(":", 1) for line in done.stdout.splitlines() if ":" in line and not line.startswith(" "))
    name, driver = fields.get("Name", "").strip(), fields.get("Driver", "").strip()
    if driver != "docker":
        raise ImageError(f"buildx builder {name or '?'} uses the {driver or 'unknown'} driver: its builds cannot "
                         "start FROM images that exist only in the local engine",
                         fix="docker buildx use default (the engine's own BuildKit)")
    return name


def _run_step(step: Step, push: bool, event: Event, base_outcome: Callable[[], Outcome | None],
              notify: Callable[[tuple], None]) -> None:
    started = time.monotonic()
    log: list[str] = []
    try:
        if step.action == BUILD:
            event(step.name, "building", "")
            build_image(step, lambda line: event(step.name, "building", line), log)
        notify(("built", step.name))  # dependents may build FROM it now
        base = base_outcome() if push else None  # never push before the base is in the registry
        if base is not None and not base.ok:
            outcome = Outcome(step.name, "blocked", f"base {base.name} {base.status}"
                              + ("; built here, not pushed" if step.action == BUILD else ""),
                              time.monotonic() - started, step.key_ref)
        else:
            if push and step.action in (BUILD, PUSH):
                for argv in step.tag_argvs():
                    run_docker(argv, f"tag of {argv[-1]}", "check that the docker engine is up, then rerun",
                               timeout=120)
                for argv in step.push_argvs():
                    event(step.name, "pushing", argv[-1])
                    push_tag(argv)
            if push and step.action == TAG:
                for tag in step.stale_tags:
                    event(step.name, "tagging", f"{step.repo_ref}:{tag}")
                    copy_tag(step.key_ref, tag)
            status = {BUILD: "built+pushed" if push else "built", PUSH: "pushed", TAG: "retagged"}[step.action]
            outcome = Outcome(step.name, status, step.reason, time.monotonic() - started, step.key_ref)
    except Exception as exc:  # one image's failure must not stop the other chains
        outcome = Outcome(step.name, "failed", _one_line(exc), time.monotonic() - started, step.key_ref, log)
    except BaseException as exc:  # never leave the scheduler waiting for this image
        notify(("done", step.name, Outcome(step.name, "failed", _one_line(exc), ref=step.key_ref)))
        raise
    event(step.name, outcome.status, outcome.detail)
    notify(("done", step.name, outcome))


def build_image(step: Step, progress: Callable[[str], None], log: list[str] | None = None) -> None:
    """`docker buildx build` of `step` (see Step.build_argv), its output streamed to `progress`."""
    tail: collections.deque[str] = collections.deque(maxlen=LOG_TAIL)
    try:
        proc = subprocess.Popen(step.build_argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors="replace", bufsize=1)
    except OSError as exc:
        raise ImageError(f"build of {step.name} failed: cannot run docker ({exc})", fix=BUILDX_FIX) from None
    assert proc.stdout is not None
    with proc:
        for raw in proc.stdout:
            line = raw.rstrip()
            if not line:
                continue
            tail.append(line)
            match = STEP_RE.match(line)
            if match:
                progress(f"[{match.group(1)}] {match.group(2)}")
            elif EXPORT_RE.match(line):
                progress(line.split(" ", 1)[1])
    if log is not None:
        log[:] = list(tail)
    if proc.returncode != 0:
        errors = [line for line in tail if line.startswith("ERROR:")] or [line for line in tail if "ERROR" in line]
        message = (errors[-1] if errors else (tail[-1] if tail else f"exit {proc.returncode}"))
        raise ImageError(f"build of {step.name} failed: {message.removeprefix('ERROR: ').strip()}",
                         fix=f"fix {step.spec.dockerfile} and rerun")


def push_tag(argv: list[str]) -> None:
    """`docker push --quiet REF` (see Step.push_argvs)."""
    run_docker(argv, f"push of {argv[-1]}", "check that the registry is up and `docker login` is done, then rerun")


def run_docker(argv: list[str], what: str, fix: str, timeout: float | None = None) -> None:
    """One docker CLI command; ImageError naming `what` and its last line of output when it fails.
    `timeout`: for commands of the engine alone (a push takes as long as its layers do)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ImageError(f"{what} failed: docker did not answer in {timeout:g}s", fix=fix) from None
    except OSError as exc:
        raise ImageError(f"{what} failed: cannot run docker ({exc})", fix="install the docker CLI") from None
    if done.returncode != 0:
        lines = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}").splitlines()
        raise ImageError(f"{what} failed: {lines[-1].strip()}", fix=fix)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass
class _Row:
    """One image's line of the board."""
    action: str
    status: str
    detail: str = ""
    started: float | None = None  # time.monotonic() when it began building, pushing or tagging


class _Board:
    """Live per-image progress: a rich table on a terminal, one line per change otherwise."""

    def __init__(self, plan: BuildPlan, on_event: Event | None, live: bool | None) -> None:
        from rich.console import Console

        self.plan = plan
        self.on_event = on_event
        self.console = Console(file=sys.stderr)
        self.live_enabled = self.console.is_terminal if live is None else live
        self.rows = {s.name: _Row(s.action, "waiting" if s.action != SKIP else "up to date") for s in plan.steps}
        self.lock = threading.Lock()
        self.live: Any = None

    def event(self, name: str, status: str, detail: str) -> None:
        with self.lock:
            row = self.rows[name]
            changed = row.status != status
            if status in ("building", "pushing", "tagging") and row.started is None:
                row.started = time.monotonic()
            row.status, row.detail = status, detail[:70] or row.detail
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
            for name, row in self.rows.items():
                secs = f"{time.monotonic() - row.started:.0f}s" if row.started else ""
                table.add_row(name, row.action, row.status, row.detail, secs)
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
