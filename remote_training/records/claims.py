"""A run folder's claim whose launch provably never started, and taking it back.

A launch killed (kill -9, a crash, a lost laptop) between claiming its output (run.json) and recording
its start leaves a claim naming a job with no recorded start. The next launch takes it back itself,
saying so in one line, only when all three are proved:
  - the claim has no recorded start (no `container`) and no end;
  - its launching process is gone: the claim records the launcher (launcher.py: machine id, boot, pid
    and the process's start time, so a reused pid is not taken for it); only the machine that launched
    can tell, so a claim from another machine is kept;
  - its host has no container with the job's label (any state) and no process of its launch still
    under way (the held launch command, compose pulling); for a serverless target, the Nebius API has
    no job of that name. A host or API that does not answer proves nothing: the claim is kept.
Whatever is not proved keeps the claim, and the refusal says why and how to free the folder.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Sequence

from ..errors import RTError
from .launcher import launcher_alive

# serverless/jobs.find, handed in by the guard: records/ sits below serverless/, which asks the Nebius API
FindServerless = Callable[[Any, str, Sequence[Any]], Any]

# A job id as jobs/spec.new_job_id makes it (and Nebius resource names): only these characters reach a
# host's `pgrep` pattern, so the pattern is the id itself.
_JOB_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_MARK = "--rt-claim--"
HOST_CHECK_S = 20.0


def _host_traces(runner: Any, host_name: str, job_id: str) -> str | None:
    """What of a launch is on its host (a container with its label, a launch process); None: nothing."""
    if not _JOB_ID_RE.fullmatch(job_id):
        return f"its job id {job_id!r} cannot be looked up on {host_name}"
    # `docker ps -a --filter label=KEY=VALUE`: containers in any state with that label
    # (https://docs.docker.com/reference/cli/docker/container/ls/#filter). `pgrep -f` matches whole
    # command lines (pgrep(1)); the job id is on the held launch command's and compose's. The job id never
    # stands plain on this command's own lines, which pgrep would find: it travels as the pattern, its
    # first character in brackets (a regex that matches the id, not itself), and `tr` unwraps it for docker.
    pattern = f"[{job_id[0]}]{job_id[1:]}"
    script = (f'j=$(printf %s "$1" | tr -d "[]"); docker ps -a -q --filter "label=rt.job=$j"; echo "{_MARK} $?"; '
              f'pgrep -f -- "$1" >/dev/null; echo "{_MARK} $?"')
    try:
        host = runner.inventory.get(host_name)
        out = runner.run(host, ["sh", "-c", script, "sh", pattern], check=False, timeout=HOST_CHECK_S, mutating=False)
    except RTError as exc:
        return f"{host_name} did not answer ({exc.message})"
    containers, _, rest = out.stdout.partition(f"{_MARK} ")
    docker_status, _, rest = rest.partition("\n")
    pgrep_status = rest.partition(f"{_MARK} ")[2].strip()
    if docker_status.strip() != "0":
        return f"docker on {host_name} did not answer (exit {docker_status.strip() or '?'})"
    if containers.strip():
        return f"its container is on {host_name}"
    if pgrep_status == "0":
        return f"its launch is still under way on {host_name}"
    if pgrep_status != "1":  # 1: no process matched (pgrep(1)); anything else proves nothing
        return f"{host_name} could not list its processes (pgrep exit {pgrep_status or '?'})"
    return None


def _serverless_traces(find: FindServerless, inventory: Any, target: Any, job_id: str) -> str | None:
    """Whether the Nebius API has the job (any state); None once it says there is none."""
    try:
        found = find(inventory, job_id, [target])
    except RTError as exc:
        return f"{target.name} did not answer ({exc.message})"
    if found is not None and found.job.job_id == job_id:
        return f"it exists on {target.name} ({found.job.state})"
    return None


class TakeBack:
    """What the output check (s3_checks) asks about an earlier launch in run.json, and tells once it took
    that launch's claim back: the launch's intent in this machine's ledger no longer counts either."""

    def __init__(self, runner: Any, inventory: Any, ledger: Any, find_serverless: FindServerless) -> None:
        self.runner, self.inventory, self.ledger = runner, inventory, ledger
        self.find_serverless = find_serverless

    def why_kept(self, launch: dict[str, Any]) -> str | None:
        """None when the launch provably never started; else why its claim stays."""
        return never_started(self.runner, self.inventory, launch, self.find_serverless)

    def taken_back(self, launch: dict[str, Any]) -> None:
        try:
            self.ledger.abandoned(launch["job_id"])
        except OSError as exc:  # the claim is back either way; jobs.history would still list the launch
            import sys

            sys.stderr.write(f"warning: {launch['job_id']} never started; the ledger still names it: {exc}\n")


def never_started(runner: Any, inventory: Any, launch: dict[str, Any], find_serverless: FindServerless) -> str | None:
    """None when a run.json launch provably never started (its claim may be taken back); else why it may
    have: the claim stays. The launcher is checked first: it costs no request."""
    job_id, where = launch.get("job_id") or "", launch.get("host") or ""
    if launch.get("container") or launch.get("exit_code") is not None:
        return "it started"
    if not job_id or not where:
        return "it names no job or host"
    why = launcher_alive(launch.get("launcher"))
    if why:
        return why
    target = inventory.serverless_target(where) if inventory is not None else None
    if target is not None:
        return _serverless_traces(find_serverless, inventory, target, job_id)
    return _host_traces(runner, where, job_id)
