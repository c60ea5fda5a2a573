"""`inv doctor`: every "Common Issues" item of the runbook as a check that names the fix.

Each check returns a CheckResult (ok / warn / fail, what is wrong, the exact
command that fixes it). All checks run at once in a bounded pool of daemon
threads with a deadline per check, so one dead host costs one connect timeout,
and results come back in a fixed order (local checks, then host by host).

The environment is passed in (default os.environ) so tests can replace it
instead of mutating the process environment.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from functools import partial
from typing import Any, Mapping, Sequence

from ..errors import RTError
from ..fleet.inventory import Host, Inventory
from .base import FAIL, OK, WARN, Check, CheckResult, DoctorSettings, Verdict, short
from .cloud import check_nebius, check_s3_bucket, check_serverless, s3_client, s3_endpoint
from .hosts import HostView, check_gpu_memory, check_ports, check_ssh
from .local import check_checkout, check_display, check_docker_context, check_docker_engine, docker_contexts
from .logs import LOG_PATTERNS, LogPattern, check_job_log, check_log_file, check_log_text, explain_log

__all__ = ["OK", "WARN", "FAIL", "Check", "CheckResult", "DoctorSettings", "Verdict", "HostView", "LogPattern",
           "LOG_PATTERNS", "explain_log", "check_log_text", "check_log_file", "check_job_log", "check_checkout",
           "check_display", "check_docker_context", "check_docker_engine",
           "docker_contexts", "check_nebius", "check_s3_bucket", "check_serverless", "s3_client", "s3_endpoint",
           "check_gpu_memory",
           "check_ports", "check_ssh", "plan_checks", "plan_log_checks", "run_checks", "diagnose",
           "point_to_ssh", "failed"]


def plan_checks(inventory: Inventory, hosts: Sequence[Host], runner: Any, settings: DoctorSettings,
                env: Mapping[str, str], targets: Sequence[Any] = ()) -> list[Check]:
    """Every check, in the order results are shown (`targets`: the serverless ones to check)."""
    checks = [
        Check("docker_engine", "local", lambda: check_docker_engine(env, settings.connect_timeout)),
        Check("display", "local", lambda: check_display(env)),
        Check("positronic_checkout", "local", lambda: check_checkout(settings.compose_project)),
        Check("nebius_auth", "local", lambda: check_nebius(inventory, hosts, env, settings.connect_timeout)),
    ]
    checks += [Check("s3", b, partial(check_s3_bucket, inventory, env, b, settings.connect_timeout))
               for b in settings.buckets]
    checks += [Check("serverless", t.name, partial(check_serverless, inventory, t)) for t in targets]
    contexts = docker_contexts(env)
    for host in hosts:
        probe = HostView(runner, host)
        checks += [
            Check("ssh", host.name, partial(check_ssh, probe)),
            Check("gpu_memory", host.name,
                  partial(check_gpu_memory, probe, settings.gpu_need_mb, settings.needs_h100)),
            Check("ports", host.name, partial(check_ports, probe, settings.ports)),
            Check("docker_context", host.name, partial(check_docker_context, host, contexts)),
        ]
    return checks


def run_checks(checks: Sequence[Check], *, workers: int = 8, timeout: float = 20.0) -> list[CheckResult]:
    """Run checks in `workers` daemon threads; one still running `timeout` s after it started fails."""
    jobs: queue.Queue[int] = queue.Queue()
    for i in range(len(checks)):
        jobs.put(i)
    started: dict[int, float] = {}
    results: dict[int, CheckResult] = {}
    lock = threading.Condition()

    def worker() -> None:
        while True:
            try:
                i = jobs.get_nowait()
            except queue.Empty:
                return
            check = checks[i]
            t0 = time.monotonic()
            with lock:
                started[i] = t0
            try:
                status, summary, fix = check.run()
            except RTError as exc:
                status, summary, fix = FAIL, exc.message, exc.fix or ""
            except Exception as exc:  # a check must never take the others down
                status, summary, fix = FAIL, f"check crashed: {short(exc)}", "report this as a bug"
            with lock:
                results.setdefault(i, CheckResult(check.name, check.target, status, summary, fix,
                                                  round(time.monotonic() - t0, 3)))
                lock.notify_all()

    for _ in range(max(1, min(workers, len(checks)))):
        threading.Thread(target=worker, daemon=True).start()  # daemon: a hung check never blocks exit
    with lock:
        while len(results) < len(checks):
            now = time.monotonic()
            for i, t0 in started.items():
                if i not in results and now - t0 >= timeout:
                    c = checks[i]
                    results[i] = CheckResult(c.name, c.target, FAIL, f"no answer within {timeout:g}s",
                                             f"check {c.target}: it hangs (or rerun with a larger --timeout)",
                                             round(now - t0, 3))
            lock.wait(0.1)
    return [results[i] for i in range(len(checks))]


def plan_log_checks(inventory: Inventory, runner: Any, jobs: Sequence[str] = (),
                    log_files: Sequence[str] = ()) -> list[Check]:
    """Known log patterns in jobs' logs (fetched from their hosts) and in saved log files."""
    checks = [Check("job_log", ref, partial(check_job_log, runner, inventory, ref)) for ref in jobs]
    checks += [Check("log_file", path, partial(check_log_file, path)) for path in log_files]
    return checks


def diagnose(inventory: Inventory, host_names: Sequence[str] | None = None, *, runner: Any = None,
             settings: DoctorSettings | None = None, env: Mapping[str, str] | None = None,
             jobs: Sequence[str] = (), log_files: Sequence[str] = ()) -> list[CheckResult]:
    """The whole doctor: plan the checks for the selected hosts and run them in parallel.

    Given jobs or log files, it reads those logs for known problems instead.
    """
    settings = settings or DoctorSettings()
    env = os.environ if env is None else env
    names = list(host_names or [])
    targets = [t for t in (inventory.serverless_target(n) for n in names) if t] if names else list(inventory.serverless)
    fixed = [n for n in names if not inventory.serverless_target(n)]
    hosts = inventory.select(fixed) if fixed or not names else []
    own_runner = runner is None
    if own_runner:
        from ..fleet.remote import RemoteRunner

        runner = RemoteRunner(inventory, connect_timeout=settings.connect_timeout)
    try:
        if jobs or log_files:
            checks = plan_log_checks(inventory, runner, jobs, log_files)
        else:
            _import_clients()
            checks = plan_checks(inventory, hosts, runner, settings, env, targets)
        results = run_checks(checks, workers=settings.workers, timeout=settings.timeout)
        return point_to_ssh(results)
    finally:
        if own_runner:
            threading.Thread(target=runner.close, daemon=True).start()  # a stuck close must not hang us


def _import_clients() -> None:
    """Import the heavy clients once, here, rather than racing to import them from several threads."""
    import boto3  # noqa: F401
    import docker  # noqa: F401
    import fabric  # noqa: F401


def point_to_ssh(results: Sequence[CheckResult]) -> list[CheckResult]:
    """A host whose SSH hung is reported once, by its ssh check: the checks stuck behind it only point there."""
    dead = {r.target: r for r in results if r.check == "ssh" and r.status == FAIL}
    out = []
    for r in results:
        ssh = dead.get(r.target)
        if ssh and r.check != "ssh" and r.status == FAIL and r.summary.startswith("no answer within"):
            r = CheckResult(r.check, r.target, WARN, "not checked: the host does not answer SSH (see the ssh check)",
                            ssh.fix, r.seconds)
        out.append(r)
    return out


def failed(results: Sequence[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status == FAIL]
