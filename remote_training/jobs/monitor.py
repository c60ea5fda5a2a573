"""Find, watch, wait on and stop jobs: containers that carry the `rt.job` label.

Jobs are found by label on every host at once, so a job started from another
laptop (or by a process that has since died) is as visible as our own.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from ..errors import InputError, JobFailed, RemoteCommandError, UnreachableError
from ..inventory import Host
from ..remote import FanOut, RemoteRunner

# One round trip per host: the ids, then their full records.
INSPECT_SCRIPT = ('ids=$(docker ps -aq --filter label=rt.job) || exit 1; '
                  'if [ -z "$ids" ]; then echo "[]"; else docker inspect $ids; fi')
TQDM_RE = re.compile(r"(\d{1,3})%\|[^|\r\n]*\|\s*(\d+)/(\d+)\s*\[([0-9:]+)<([0-9:?]+)")
PERCENT_RE = re.compile(r"(\d{1,3})%")
ERROR_RE = re.compile(r"error|exception|traceback|fatal|killed|out of memory", re.IGNORECASE)


@dataclass(frozen=True)
class Job:
    job_id: str
    host: str
    service: str
    kind: str
    state: str  # created / running / exited / dead ...
    exit_code: int | None  # None while running
    started: str
    finished: str
    user: str
    args: tuple[str, ...]
    gpu_mem_mb: int
    image: str
    port: int | None
    output: str
    client: str = ""  # servers: the inference client's policy config (label rt.client)

    @property
    def running(self) -> bool:
        return self.state in ("running", "restarting", "created")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["args"] = list(self.args)
        return data


def _job(host: str, record: dict[str, Any]) -> Job | None:
    labels = (record.get("Config") or {}).get("Labels") or {}
    if "rt.job" not in labels:
        return None
    state = record.get("State") or {}
    status = state.get("Status", "unknown")
    try:
        args = tuple(json.loads(labels.get("rt.args", "[]")))
    except ValueError:
        args = ()
    finished = state.get("FinishedAt", "")
    return Job(job_id=labels["rt.job"], host=host, service=labels.get("rt.service", ""),
               kind=labels.get("rt.kind", ""), state=status,
               exit_code=None if status in ("running", "restarting", "created") else int(state.get("ExitCode", 0)),
               started=labels.get("rt.started", ""), finished="" if finished.startswith("0001") else finished[:19],
               user=labels.get("rt.user", ""), args=args, gpu_mem_mb=int(labels.get("rt.gpu_mem_mb", "0") or 0),
               image=labels.get("rt.image", ""), port=int(labels["rt.port"]) if labels.get("rt.port") else None,
               output=labels.get("rt.output", ""), client=labels.get("rt.client", ""))


def host_jobs(runner: RemoteRunner, host: Host) -> list[Job]:
    out = runner.run(host, ["sh", "-c", INSPECT_SCRIPT], check=False, mutating=False)
    try:
        records = json.loads(out.stdout or "[]")
    except ValueError:
        raise RemoteCommandError(f"{host.name}: could not list containers: {out.stderr.strip()[:200]}",
                                 "check docker on the host (inv doctor)", exit_status=out.exit_status) from None
    jobs = [j for j in (_job(host.name, r) for r in records) if j]
    return sorted(jobs, key=lambda j: j.started)


def list_jobs(runner: RemoteRunner, hosts: Sequence[Host], *, deadline: float = 20.0) -> tuple[list[Job], FanOut]:
    """Jobs on all hosts at once; hosts that failed are in the FanOut's `failed`."""
    outcome = runner.fan_out(hosts, lambda h: host_jobs(runner, h), deadline=deadline)
    jobs = [j for name in outcome.succeeded for j in outcome.succeeded[name]]
    return sorted(jobs, key=lambda j: (j.started, j.job_id)), outcome


def find_job(runner: RemoteRunner, hosts: Sequence[Host], ref: str) -> Job:
    """A job by exact id or unique prefix, searched on every host."""
    from ..validate import job_ref

    ref = job_ref(ref)  # an empty prefix would match every job
    jobs, outcome = list_jobs(runner, hosts)
    exact = [j for j in jobs if j.job_id == ref]
    matches = exact or [j for j in jobs if j.job_id.startswith(ref)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise InputError(f"{ref!r} matches {len(matches)} jobs: {', '.join(j.job_id for j in matches[:5])}",
                         "give more of the job id")
    unreachable = f" ({', '.join(outcome.failed)} did not answer)" if outcome.failed else ""
    raise InputError(f"no job {ref!r} on {', '.join(h.name for h in hosts)}{unreachable}",
                     "see inv jobs.list for the jobs that exist")


# -- logs and their meaning ------------------------------------------------------
def logs(runner: RemoteRunner, job: Job, *, tail: int | None = None, follow: bool = False, stream: Any = None) -> str:
    argv = ["docker", "logs"]
    if tail is not None:
        argv += ["--tail", str(int(tail))]
    if follow:
        argv.append("--follow")
    out = runner.run(job.host, [*argv, job.job_id], check=True, mutating=False, stream=stream)
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
def wait(runner: RemoteRunner, job: Job, *, timeout: float | None = None, chunk: int = 120,
         reconnects: int = 5) -> int:
    """Block until the job ends; its exit code.

    Waits in chunks (`timeout N docker wait` on the host) so a long training run
    never depends on one SSH channel staying up for hours; a dropped connection
    is reopened up to `reconnects` times in a row.
    """
    import time

    if not job.running and job.exit_code is not None:
        return job.exit_code
    end = None if timeout is None else time.monotonic() + timeout
    failures = 0
    while True:
        step = chunk if end is None else max(1, min(chunk, int(end - time.monotonic())))
        try:
            out = runner.run(job.host, ["timeout", str(step), "docker", "wait", job.job_id], check=False,
                             mutating=False)
        except UnreachableError:
            failures += 1
            if failures > reconnects:
                raise
            time.sleep(min(30, 2 ** failures))
            continue
        failures = 0
        if out.exit_status == 0:
            try:
                return int(out.stdout.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise RemoteCommandError(f"{job.host}: docker wait gave {out.stdout.strip()!r}",
                                         "retry jobs.wait") from None
        if out.exit_status != 124:  # 124: this chunk ran out, the job still runs
            raise RemoteCommandError(f"{job.host}: docker wait {job.job_id} failed: {out.stderr.strip()[:200]}",
                                     "check the job still exists: inv jobs.list", exit_status=out.exit_status)
        if end is not None and time.monotonic() >= end:
            raise RemoteCommandError(f"{job.job_id} still runs after {timeout:g}s", "wait longer, or inv jobs.stop it")


def raise_if_failed(job: Job, code: int) -> None:
    if code != 0:
        error = JobFailed(f"job {job.job_id} on {job.host} exited {code}",
                          f"inv jobs.errors {job.job_id} / inv jobs.logs {job.job_id}")
        error.job_exit = code  # exit_code_for passes the job's own code through
        raise error


def stop(runner: RemoteRunner, job: Job, *, timeout_s: int = 30) -> None:
    """Stop the container (SIGTERM, then SIGKILL after timeout_s); logs and exit code stay."""
    runner.run(job.host, ["docker", "stop", "--time", str(int(timeout_s)), job.job_id])


def remove(runner: RemoteRunner, job: Job) -> None:
    runner.run(job.host, ["docker", "rm", "-f", job.job_id])
