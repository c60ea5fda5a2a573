"""Idle reaping: stop VMs that did nothing for a whole window, judged from a history of samples.

One `vm.reap` run (meant for cron, e.g. every 5 minutes) samples every
stoppable host once and appends the sample to
<state dir>/idle/<host>.jsonl (state dir: see state.py; ~/.local/state/remote-training
by default), and to idle/history/<host>.jsonl, kept for the cost report. A host is
stopped only when the samples prove it idle for the whole window: the history reaches back to the window's start,
every sample from there on says idle (see why_busy: reachable and fully probed, no job container in
any state but ended (ours, or any compose project's), no launch lease, GPU memory
under a small floor, utilization known and under the threshold), and no two
samples are further apart than `max_gap` (a gap is time we know nothing about). A stalled training loop keeps its
container, so it is never "idle". Stopping goes through the provider API, never from inside the VM.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from ..state import state_dir
from .fleet_status import HostStatus, fleet_status
from .inventory import Host
from .providers import State
from .remote import RemoteRunner, describe
from .snapshot import ENDED, Job

KEEP_SECONDS = 7 * 24 * 3600  # samples older than this are dropped


@dataclass(frozen=True)
class Sample:
    t: float
    state: str
    reachable: bool | None
    jobs: int
    util: int | None
    idle: bool
    why: str = ""  # why_busy's answer (empty when idle; absent from samples written before it)

    @classmethod
    def of(cls, status: HostStatus, threshold: float, t: float | None = None) -> "Sample":
        why = why_busy(status, threshold) or ""
        return cls(t if t is not None else time.time(), status.state, status.reachable, len(status.jobs),
                   status.gpu_util_pct, not why, why)


GPU_MEMORY_FLOOR_MB = 1024  # what a driver and a display hold with no work on the GPU


def why_busy(status: HostStatus, threshold: float) -> str | None:
    """Why the host is not idle now (None when it is). Only a host known to do nothing is idle: a
    probe that failed or left anything unknown counts as work, never as idle: a container row that
    did not parse, a container in any state but ended (an unreadable state too), whoever started it,
    and a GPU reading that is missing or out of its range."""
    snap = status.snapshot
    if status.state != State.RUNNING.value or status.reachable is not True or snap is None:
        return f"not known idle ({status.state}, {'reachable' if status.reachable else 'no answer'})"
    if snap.docker_error or snap.smi_error:
        return f"probe incomplete: {snap.docker_error or snap.smi_error}"
    if snap.bad_rows:
        return f"{snap.bad_rows} container row(s) unreadable: unknown counts as work"
    work = [c for c in snap.containers if c.state not in ENDED]
    if work:  # our jobs, compose containers started by hand, and containers of unknown origin alike
        return f"{len(work)} container(s) at work: {', '.join(_origin(c) for c in work[:3])}"
    if snap.leases:
        return f"{snap.leases} launch(es) under way (pulling)"
    odd = [f"GPU {i} {g.problem}" for i, g in enumerate(snap.gpus) if g.problem]
    if odd:
        return "; ".join(odd) + ": unknown counts as work"
    if any(g.used_mb is None for g in snap.gpus) or snap.gpu_used_mb is None:
        return "GPU memory in use: unknown"
    if snap.gpu_used_mb > GPU_MEMORY_FLOOR_MB:
        return f"GPU memory in use: {snap.gpu_used_mb} MiB"
    if snap.gpu_util_pct is None or snap.gpu_util_pct >= threshold:
        return f"GPU utilization {snap.gpu_util_pct if snap.gpu_util_pct is not None else 'unknown'} %"
    return None


def _origin(container: Job) -> str:
    """A working container as the reap table names it: our job, a compose project's, or of unknown origin."""
    if container.job_id:
        return container.job_id
    state = "" if container.state in ("running", "created", "paused", "restarting") else f", state {container.state}"
    where = (f"compose project {container.project}" if container.project
             else "unknown origin: no rt.job label, not compose")
    return f"{container.name} ({where}{state})"


class SampleStore:
    """JSON lines per host; appends are one write each, so concurrent runs do not corrupt it."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or state_dir() / "idle"
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, host: str) -> Path:
        return self.folder / f"{host}.jsonl"

    def history_path(self, host: str) -> Path:
        return self.folder / "history" / f"{host}.jsonl"

    def add(self, host: str, sample: Sample) -> None:
        line = json.dumps(asdict(sample)) + "\n"
        with open(self.path(host), "a") as fh:
            fh.write(line)
        # The window's file is cleared at every stop and trimmed to a week; the cost report
        # (cost.py: a VM's idle hours) needs them all, so each sample is also kept here, never rewritten.
        self.history_path(host).parent.mkdir(exist_ok=True)
        with open(self.history_path(host), "a") as fh:
            fh.write(line)

    def history(self, host: str) -> list[Sample]:
        """Every sample ever taken of `host`, oldest first (the window's file too: it predates the history)."""
        found = {s.t: s for path in (self.path(host), self.history_path(host)) for s in _read(path)[0]}
        return [found[t] for t in sorted(found)]

    def load(self, host: str, now: float | None = None) -> list[Sample]:
        now = now or time.time()
        read, lines = _read(self.path(host))
        samples = sorted((s for s in read if s.t >= now - KEEP_SECONDS), key=lambda s: s.t)
        if len(samples) < lines:
            self._rewrite(host, samples)
        return samples

    def _rewrite(self, host: str, samples: list[Sample]) -> None:
        tmp = self.path(host).with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(asdict(s)) + "\n" for s in samples))
        tmp.replace(self.path(host))

    def clear(self, host: str) -> None:
        self.path(host).unlink(missing_ok=True)


def _read(path: Path) -> tuple[list[Sample], int]:
    """The samples of one file, and how many lines it has."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return [], 0
    samples = []
    for line in lines:
        try:
            samples.append(Sample(**json.loads(line)))
        except (ValueError, TypeError):
            continue  # a line cut short by a killed run
    return samples, len(lines)


def idle_for_window(samples: Sequence[Sample], now: float, window: float, max_gap: float) -> tuple[bool, str]:
    """Whether the history proves idleness for [now - window, now], and why (not)."""
    start = now - window
    anchor = [s for s in samples if s.t <= start]
    if not anchor:
        first = samples[0].t if samples else now
        return False, f"history covers {now - first:.0f}s of the {window:.0f}s window"
    relevant = [anchor[-1], *[s for s in samples if s.t > start]]
    busy = [s for s in relevant if not s.idle]
    if busy:
        last = busy[-1]
        why = last.why or ("jobs running" if last.jobs
                           else ("unreachable" if not last.reachable else f"GPU {last.util}%"))
        return False, f"not idle {now - last.t:.0f}s ago ({why})"
    gaps = [b.t - a.t for a, b in zip(relevant, relevant[1:])]
    if gaps and max(gaps) > max_gap:
        return False, f"a {max(gaps):.0f}s gap between samples (max {max_gap:.0f}s): idleness unknown"
    return True, f"idle for {now - anchor[-1].t:.0f}s ({len(relevant)} samples)"


@dataclass
class Decision:
    host: str
    action: str  # stopped, would stop, kept, skipped, failed
    reason: str


def reap(runner: RemoteRunner, hosts: Sequence[Host], *, window: float, threshold: float = 10.0,
         max_gap: float = 900.0, dry_run: bool = False, store: SampleStore | None = None,
         stop_timeout: float = 600.0) -> list[Decision]:
    """Sample every stoppable host, then stop those idle for the whole window (in parallel)."""
    from .lifecycle import provider, stop

    store = store or SampleStore()
    stoppable = [h for h in hosts if provider(runner, h).can_stop]
    decisions = [Decision(h.name, "skipped", "static: no power switch") for h in hosts if h not in stoppable]
    now = time.time()
    to_stop: list[tuple[Host, str]] = []
    for status in fleet_status(runner, stoppable):
        host = runner.inventory.get(status.name)
        if status.state == State.STOPPED.value:
            store.clear(host.name)  # a new run of idleness starts at the next boot
            decisions.append(Decision(host.name, "kept", "already stopped"))
            continue
        sample = Sample.of(status, threshold, now)
        store.add(host.name, sample)
        if not sample.idle:
            decisions.append(Decision(host.name, "kept", "busy now: " + (why_busy(status, threshold) or "")))
            continue
        idle, why = idle_for_window(store.load(host.name, now), now, window, max_gap)
        if not idle:
            decisions.append(Decision(host.name, "kept", why))
        elif dry_run:
            decisions.append(Decision(host.name, "would stop", why))
        else:
            to_stop.append((host, why))

    def do_stop(item: tuple[Host, str]) -> Decision:
        host, why = item
        try:
            stop(runner, host, force=False, timeout=stop_timeout)  # re-checks jobs right before stopping
        except Exception as exc:
            return Decision(host.name, "failed", describe(exc))
        store.clear(host.name)
        return Decision(host.name, "stopped", why)

    if to_stop:
        with ThreadPoolExecutor(max_workers=min(8, len(to_stop))) as pool:
            decisions += list(pool.map(do_stop, to_stop))
    order = {h.name: i for i, h in enumerate(hosts)}
    return sorted(decisions, key=lambda d: order.get(d.host, 0))


