"""Find, watch, wait on and stop jobs: containers that carry the `rt.job` label.

Jobs are found by label on every host at once, so a job started from another
laptop (or by a process that has since died) is as visible as our own. They are
read from each host's snapshot (remote_training/fleet/snapshot.py: `docker ps -a` with
the labels we use, never `docker inspect`, so no container's environment leaves
its host); `Job` is the snapshot's.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Sequence

from .. import interrupts
from ..errors import InputError, JobNotFound, RemoteCommandError, RTError, UnreachableError
from ..fleet.inventory import Host
from ..fleet.remote import Exec, FanOut, RemoteRunner, describe, quote_command
from ..fleet.snapshot import ENDED, Job, take, take_all
from ..records import timestamps
from ..records.ledger import MaskedStream, scrub_log, secret_values

TQDM_RE = re.compile(r"(\d{1,3})%\|[^|\r\n]*\|\s*(\d+)/(\d+)\s*\[([0-9:]+)<([0-9:?]+)")
PERCENT_RE = re.compile(r"(\d{1,3})%")
ERROR_RE = re.compile(r"error|exception|traceback|fatal|killed|out of memory", re.IGNORECASE)


def host_jobs(runner: RemoteRunner, host: Host) -> list[Job]:
    """The jobs on one host, in every state, from its snapshot (remote_training/fleet/snapshot.py)."""
    return sorted(take(runner, host).require_docker().jobs, key=lambda j: j.started)


def list_jobs(runner: RemoteRunner, hosts: Sequence[Host], *,
              deadline: float = 20.0) -> tuple[list[Job], FanOut]:
    """Jobs on all hosts at once (their snapshots); hosts that failed, or whose docker gave no list, are
    in the group's `failed`."""
    group = take_all(runner, hosts, deadline)
    for name, snap in list(group.succeeded.items()):
        if snap.docker_error:
            group.fail(name, RemoteCommandError(f"{name}: could not list containers: {snap.docker_error}",
                                                "check docker on the host (inv doctor)"))
    jobs = [j for snap in group.succeeded.values() for j in snap.jobs]
    return sorted(jobs, key=lambda j: (j.started, j.job_id)), group


def find_job(runner: RemoteRunner, hosts: Sequence[Host], ref: str) -> Job:
    """A job by exact id or unique prefix, searched on every host."""
    job = match_job(runner, hosts, ref)
    if job is None:
        raise JobNotFound(f"no job {ref!r} on {', '.join(h.name for h in hosts)}",
                          "see inv jobs.list for the jobs that exist")
    return job


def match_job(runner: RemoteRunner, hosts: Sequence[Host], ref: str) -> Job | None:
    """A job by exact id or unique prefix on these hosts; None when none of them has it. A host that did
    not answer may hold it: then UnreachableError, never "no job", never a prefix's one match."""
    from ..validate import job_ref

    ref = job_ref(ref)  # an empty prefix would match every job
    jobs, outcome = list_jobs(runner, hosts)
    exact = [j for j in jobs if j.job_id == ref]
    matches = exact or [j for j in jobs if j.job_id.startswith(ref)]
    if len(matches) > 1:
        raise InputError(f"{ref!r} matches {len(matches)} jobs: {', '.join(j.job_id for j in matches[:5])}",
                         "give more of the job id")
    if len(matches) == 1 and (exact or not outcome.failed):
        return matches[0]
    if outcome.failed:  # what a silent host holds is unknown: never "no job", never a prefix's one match
        silent = ", ".join(sorted(outcome.failed))
        first = next(iter(outcome.failed.values()))
        found = (f"of the hosts that answered, only {matches[0].job_id} matches {ref!r}" if matches else
                 f"the hosts that answered do not have {ref!r}")
        raise UnreachableError(f"{ref!r} may be on {silent}, which did not answer ({describe(first)}); {found}",
                               f"retry once {silent} answers (inv vm.status), or give the whole job id")
    return None


# -- logs and their meaning ------------------------------------------------------
LIVENESS_S = 15  # how long a wait, or a silent log follow, goes before the host must answer again
GRACE_S = 10  # on top of that for SSH to bring the answer back
GONE = 94  # the wait script's status for a container that no longer exists
# $1 seconds, $2 the container: `docker wait` for at most $1 (124: still running); when it fails, the engine is
# asked whether the container exists (`docker ps -a` answers with nothing, exit 0), so a vanished job reads
# as a status, not as the daemon's wording; an engine that cannot say keeps the wait's own status.
WAIT_SCRIPT = ('timeout "$1" docker wait "$2"; s=$?; case $s in 0|124) exit $s;; esac; '
               f'ids=$(docker ps -aq --filter "name=^/$2\\$") || exit $s; [ -n "$ids" ] || exit {GONE}; exit $s')


def lost(job: Job, what: str, exc: BaseException) -> UnreachableError:
    """A host that stopped answering while we waited on its job: say so, leave the job as it is."""
    return UnreachableError(f"{job.host} stopped answering while {what} {job.job_id}: {exc}",
                            f"the job was left as it was; once {job.host} is back: inv jobs.list, "
                            f"inv jobs.wait {job.job_id}")


def logs(runner: RemoteRunner, job: Job, *, tail: int | None = None, follow: bool = False, stream: Any = None,
         secrets: list[str] | None = None) -> str:
    """The job's log, masked (upstream prints its whole environment): `secrets` are the values the tool hands
    jobs (None: the secret-named variables of this environment, ledger.secret_values); `follow` streams it
    until the job ends, checking the host answers every few seconds."""
    secrets = secret_values(os.environ) if secrets is None else secrets
    masked = MaskedStream(stream, secrets) if stream is not None else None
    try:
        if follow:
            return scrub_log(_follow(runner, job, tail, masked), secrets)
        argv = ["docker", "logs"]
        if tail is not None:
            argv += ["--tail", str(int(tail))]
        out = runner.run(job.host, [*argv, job.job_id], check=True, mutating=False, stream=masked, timeout=60)
        return scrub_log(out.stdout + out.stderr, secrets)
    finally:
        if masked is not None:
            masked.close()


def _follow(runner: RemoteRunner, job: Job, tail: int | None, stream: Any) -> str:
    """`docker logs --follow`, streamed as it comes, on a channel read here. When nothing has come for
    LIVENESS_S, the host must answer a bounded `true` on a channel of its own: a host that died or dropped
    off the network is noticed within about 30 s instead of never."""
    import time

    host = runner.inventory.get(job.host)
    argv = ["docker", "logs", "--follow", *(["--tail", str(int(tail))] if tail is not None else []), job.job_id]
    command = quote_command(argv)
    follow = Exec.start(runner, host, command)
    follow.channel.shutdown_write()
    heard, size = time.monotonic(), 0
    while follow.pump(1.0, stream):
        interrupts.again()  # a signal whose exception Python dropped ends the follow here
        if len(follow.out) + len(follow.err) != size:
            heard, size = time.monotonic(), len(follow.out) + len(follow.err)
        elif time.monotonic() - heard >= LIVENESS_S:
            try:
                runner.run(host, ["true"], mutating=False, timeout=GRACE_S)
            except RTError as exc:
                follow.channel.close()
                runner.forget(host)
                raise lost(job, "following the log of", exc) from None
            heard = time.monotonic()
    out = follow.result(host.name, command)
    if not out.ok:
        raise RemoteCommandError(f"{job.host}: docker logs {job.job_id} failed: {out.stderr.strip()[-200:]}",
                                 "check the job still exists: inv jobs.list", exit_status=out.exit_status)
    return out.stdout + out.stderr


@dataclass(frozen=True)
class Progress:
    percent: int | None
    step: int | None
    total: int | None
    elapsed: str
    eta: str


def parse_progress(text: str) -> Progress:
    """The last tqdm line's percent, step/total and ETA (tqdm rewrites lines with \\r)."""
    lines = [ln for ln in re.split(r"[\r\n]+", text) if ln.strip()]
    for line in reversed(lines):
        m = TQDM_RE.search(line)
        if m:
            return Progress(int(m[1]), int(m[2]), int(m[3]), m[4], m[5])
    for line in reversed(lines):  # the seed's fallback: any NN%
        found = PERCENT_RE.findall(line)
        if found:
            return Progress(int(found[-1]), None, None, "", "")
    return Progress(None, None, None, "", "")


def error_lines(text: str, limit: int = 50) -> list[str]:
    lines = [ln.strip() for ln in re.split(r"[\r\n]+", text) if ERROR_RE.search(ln)]
    return lines[-limit:]


# -- waiting and stopping -----------------------------------------------------------
def finished_at(runner: RemoteRunner, job: Job) -> str | None:
    """When a finished container ended (UTC, the ledger's form), from the engine: `docker inspect` with a
    format naming only that field, so nothing else of the container leaves the host. None if unknown."""
    import datetime

    if job.running:
        return None
    out = runner.run(job.host, ["docker", "inspect", "--format", "{{.State.FinishedAt}}", job.container or job.job_id],
                     check=False, mutating=False, timeout=30)
    text = out.stdout.strip().splitlines()[-1] if out.ok and out.stdout.strip() else ""
    try:  # 2026-11-30T05:12:33.123456789Z: whole seconds are all the ledger keeps
        when = datetime.datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return timestamps.utc(when) if when.year > 1 else None  # 0001-01-01: never ran


def wait(runner: RemoteRunner, job: Job, *, timeout: float | None = None, chunk: int = LIVENESS_S,
         reconnects: int = 1) -> int:
    """Block until the job ends; its exit code.

    Waits in chunks (`timeout N docker wait` on the host), each bounded here too, so a long training
    run never depends on one SSH channel staying up for hours, and a host that dies under the wait is
    noticed within about 30 s (one reconnect is tried), said, and the job left findable.
    """
    import time

    if not job.running and job.exit_code is not None:
        return job.exit_code
    end = None if timeout is None else time.monotonic() + timeout
    failures = 0
    while True:
        step = chunk if end is None else max(1, min(chunk, int(end - time.monotonic())))
        try:
            out = runner.run(job.host, ["sh", "-c", WAIT_SCRIPT, "sh", str(step), job.job_id], check=False,
                             mutating=False, timeout=step + GRACE_S)
        except RTError as exc:  # no answer within the bound, or the connection dropped
            runner.forget(runner.inventory.get(job.host))
            failures += 1
            if failures > reconnects:
                raise lost(job, "waiting for", exc) from None
            time.sleep(1)
            continue
        failures = 0
        if out.exit_status == 0:
            try:
                return int(out.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise RemoteCommandError(f"{job.host}: docker wait gave {out.stdout.strip()!r}",
                                         "retry jobs.wait") from None
        if out.exit_status == GONE:
            raise RemoteCommandError(f"{job.job_id} is gone from {job.host}: its container no longer exists "
                                     "(removed, or the machine went down under it)",
                                     f"see its launch: inv jobs.history --job {job.job_id}; the host: inv vm.status "
                                     f"--host {job.host}", exit_status=out.exit_status)
        if out.exit_status != 124:  # 124: this chunk ran out, the job still runs
            raise RemoteCommandError(f"{job.host}: docker wait {job.job_id} failed: {out.stderr.strip()[:200]}",
                                     "check the job still exists: inv jobs.list", exit_status=out.exit_status)
        if end is not None and time.monotonic() >= end:
            raise RemoteCommandError(f"{job.job_id} still runs after {timeout:g}s", "wait longer, or inv jobs.stop it")


def stop(runner: RemoteRunner, job: Job, *, timeout_s: int = 30) -> None:
    """Stop the container (SIGTERM, then SIGKILL after timeout_s); logs and exit code stay."""
    runner.run(job.host, ["docker", "stop", "--time", str(int(timeout_s)), job.job_id], timeout=timeout_s + 30)


FINISHED = ENDED  # what jobs.clean may remove


def remove_finished(runner: RemoteRunner, jobs: Sequence[Job]) -> tuple[list[Job], list[tuple[Job, str]]]:
    """(removed, kept with why): one `docker rm ID...` per host, by container id, without -f. A job counts
    as removed only when docker printed its id back (what `docker rm` does for each container it
    removed); one it refused (restarted since the listing, already gone, in removal) is kept, with docker's
    own line, and so is every job of a host that stopped answering."""
    by_host: dict[str, list[Job]] = {}
    for job in jobs:
        if job.state in FINISHED and job.container:
            by_host.setdefault(job.host, []).append(job)
    removed: list[Job] = []
    kept: list[tuple[Job, str]] = []
    for host, batch in by_host.items():
        try:
            out = runner.run(host, ["docker", "rm", *[j.container for j in batch]], check=False, timeout=120)
        except RTError as exc:
            kept += [(j, describe(exc)) for j in batch]
            continue
        if out.dry_run:
            continue
        said = set(out.stdout.split())
        errors = out.stderr.strip().splitlines()
        for job in batch:
            if job.container in said:
                removed.append(job)
            else:
                why = next((line for line in errors if any(key and key in line for key in
                                                          (job.container, job.container[:12], job.name))),
                           f"docker rm exited {out.exit_status}")
                kept.append((job, why.strip()))
    return removed, kept
