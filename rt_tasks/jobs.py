"""jobs: find, watch, wait on, stop and clean up jobs on every host at once."""
from __future__ import annotations

import sys

from invoke import Collection, Exit

from remote_training.output import print_json, print_table, warn
from ._cli import load_inventory, rt_task, runner
from ._jobrun import DRY_HELP, JOBS_DEFAULTS, PLACEMENT_DEFAULTS, handed_secrets

HOST_HELP = "only this host (default: every host in the inventory)"


def _session(c, host, dry_run=False):
    inventory = load_inventory(c)
    return runner(c, dry_run=dry_run, inventory=inventory), inventory.select([host] if host else None)


def _where(inventory, host):
    """(fixed hosts, serverless targets) that --host names; every one of both without it."""
    if not host:
        return list(inventory.hosts), list(inventory.serverless)
    target = inventory.serverless_target(host)
    return ([], [target]) if target else ([inventory.get(host)], [])


def _find(c, job, host, dry_run=False):
    """(runner, container job) or (runner, serverless Found): fixed hosts first, then the serverless targets."""
    from remote_training.errors import JobNotFound, UnreachableError
    from remote_training.jobs import monitor
    from remote_training.validate import job_ref

    inventory = load_inventory(c)
    run = runner(c, dry_run=dry_run, inventory=inventory)
    job_ref(job)  # an empty or malformed reference is refused before any host is asked
    hosts, targets = _where(inventory, host)
    silent = None  # a fixed host that did not answer: said if the serverless targets do not have the job either
    if hosts:
        try:
            return run, monitor.find_job(run, hosts, job)
        except UnreachableError as exc:
            if not targets:
                raise
            silent = exc
        except JobNotFound:
            if not targets:
                raise
    from remote_training.serverless import jobs as serverless

    found = serverless.find(inventory, job, targets)
    if found is None and silent is not None:
        raise silent
    if found is None:
        names = ", ".join(h.name for h in [*hosts, *targets])
        raise JobNotFound(f"no job {job!r} on {names}", "see inv jobs.list for the jobs that exist")
    return run, found


def _is_serverless(found) -> bool:
    return hasattr(found, "resource")


@rt_task(help={"host": HOST_HELP, "json": "print JSON instead of a table", "running": "only running jobs"})
def list_(c, host=None, json=False, running=False):
    """Jobs on all hosts (found by label, whoever started them)."""
    from remote_training.fleet.remote import describe
    from remote_training.jobs import monitor

    inventory = load_inventory(c)
    hosts, targets = _where(inventory, host)
    run = runner(c, inventory=inventory)
    try:
        jobs, outcome = monitor.list_jobs(run, hosts)
    finally:
        run.close()
    failed = dict(outcome.failed)
    if targets:
        from remote_training.serverless import jobs as serverless

        found, cloud_failed = serverless.list_all(inventory, targets)
        jobs += [f.job for f in found]
        failed.update(cloud_failed)
    jobs = [j for j in jobs if j.running] if running else jobs
    for name, error in sorted(failed.items()):
        warn(f"warning: {name}: {describe(error)}")
    if json:
        print_json([j.to_dict() for j in jobs])
        return
    cloud = {t.name for t in targets}  # a serverless row's "port" is its endpoint's URL
    rows = [(j.job_id, j.host, j.state, "" if j.exit_code is None else j.exit_code, j.user,
             j.started.replace("T", " ").rstrip("Z"), j.ports if j.host in cloud else j.port or "") for j in jobs]
    answered = len(hosts) + len(targets) - len(failed)
    print_table(["job", "host", "state", "exit", "user", "started (UTC)", "port"], rows,
                title=f"jobs on {answered}/{len(hosts) + len(targets)} hosts",
                optional=("port", "user", "started (UTC)"))


@rt_task(help={"job": "job id or unique prefix", "follow": "keep streaming until the job ends",
               "tail": "only the last N lines", "host": HOST_HELP})
def logs(c, job, follow=False, tail=None, host=None):
    """A job's log (stdout and stderr), from its host."""
    from remote_training import validate
    from remote_training.jobs import monitor

    _tail = None if tail is None else validate.count(tail, "--tail")
    run, found = _find(c, job, host)
    secrets = handed_secrets(c, run.inventory)
    try:
        if _is_serverless(found):
            from remote_training.serverless import jobs as serverless

            serverless.show_logs(found, follow_=follow, tail=_tail, stream=sys.stdout, secrets=secrets)
        else:
            monitor.logs(run, found, tail=_tail, follow=follow, stream=sys.stdout, secrets=secrets)
    finally:
        run.close()


@rt_task(help={"job": "job id or prefix; or a host name, or 'all', for every running job there",
               "host": HOST_HELP, "json": "print JSON instead of a table"})
def progress(c, job, host=None, json=False):
    """Last progress of jobs from their tqdm lines: percent, step/total, ETA."""
    from dataclasses import asdict

    from remote_training.jobs import monitor

    inventory = load_inventory(c)
    if job != "all" and any(job in h.names for h in [*inventory.hosts, *inventory.serverless]):
        host, job = job, "all"
    hosts, targets = _where(inventory, host)
    run = runner(c, inventory=inventory)
    secrets = handed_secrets(c, inventory)
    try:
        if job == "all":
            items = [(j, lambda j=j: monitor.logs(run, j, tail=200, secrets=secrets))
                     for j in monitor.list_jobs(run, hosts)[0] if j.running]
            if targets:
                from remote_training.serverless import jobs as serverless

                items += [(f.job, lambda f=f: _text(f, 200, secrets))
                          for f in serverless.list_all(inventory, targets)[0] if f.job.running]
        else:
            run.close()
            run, found = _find(c, job, host)
            items = [(found.job, lambda: _text(found, 200, secrets))] if _is_serverless(found) else \
                [(found, lambda: monitor.logs(run, found, tail=200, secrets=secrets))]
        rows = []
        for j, text in items:
            p = monitor.parse_progress(text())
            rows.append({"job": j.job_id, "host": j.host, "state": j.state, **asdict(p)})
    finally:
        run.close()
    if json:
        print_json(rows)
        return
    print_table(["job", "host", "state", "percent", "step", "elapsed", "eta"],
                [(r["job"], r["host"], r["state"], "" if r["percent"] is None else f"{r['percent']}%",
                  f"{r['step']}/{r['total']}" if r["step"] is not None else "", r["elapsed"], r["eta"])
                 for r in rows])


@rt_task(help={"job": "job id or unique prefix", "host": HOST_HELP})
def errors(c, job, host=None):
    """Lines of a job's log that mention an error (the runbook's grep), and how it ended."""
    from remote_training.jobs import monitor

    run, found = _find(c, job, host)
    secrets = handed_secrets(c, run.inventory)
    try:
        text = _text(found, None, secrets) if _is_serverless(found) else monitor.logs(run, found, secrets=secrets)
        lines = monitor.error_lines(text)
    finally:
        run.close()
    row = found.job if _is_serverless(found) else found
    for line in lines:
        print(line)
    ended = "running" if row.running else f"exited {row.exit_code}"
    print(f"{row.job_id} on {row.host}: {ended}; {len(lines)} error line(s)")


def _text(found, tail=None, secrets=None) -> str:
    from remote_training.serverless import jobs as serverless

    return serverless.log_text(found, tail, secrets)


@rt_task(help={"job": "job id or unique prefix", "host": HOST_HELP,
               "timeout": "give up after this many seconds (default: wait as long as it runs)",
               "rt_codes": "a failed job exits 10 (rt's 'a job failed'), whatever its own code: it cannot be "
                           "taken for rt's other codes (README: Exit codes)"})
def wait(c, job, host=None, timeout=None, rt_codes=False):
    """Wait for a job to end and exit with its exit code, or with --rt-codes rt's own (for Makefile chains)."""
    from remote_training import validate
    from remote_training.jobs import monitor
    from remote_training.jobs.run import record_end
    from ._jobrun import make_hooks

    limit = None if timeout is None else validate.duration(timeout, "--timeout")
    run, found = _find(c, job, host)
    try:
        ended = None  # a job that ended before this wait keeps its own end time (jobs.history --cost counts to it)
        if _is_serverless(found):
            from remote_training.serverless import jobs as serverless

            ended = (found.resource.finished or None) if found.resource.final else None
            code = serverless.wait(found, timeout=limit)
            found = found.job
        else:
            ended = monitor.finished_at(run, found)  # None while it runs: then its end is when the wait sees it
            code = monitor.wait(run, found, timeout=limit)
        record_end(make_hooks(c, run, run.inventory), found.job_id, code, ended=ended)
    finally:
        run.close()
    print(f"{found.job_id} on {found.host} exited {code}")
    monitor.raise_if_failed(found, code, own_code=not rt_codes)


@rt_task(help={"job": "job id or unique prefix", "host": HOST_HELP, "dry_run": DRY_HELP})
def stop(c, job, host=None, dry_run=False):
    """Stop a job (SIGTERM, then SIGKILL after 30 s); its log and exit code stay readable."""
    from remote_training.jobs import monitor

    run, found = _find(c, job, host, dry_run)
    try:
        if _is_serverless(found):
            from remote_training.serverless import jobs as serverless

            if dry_run:
                print(f"# would {'cancel' if found.resource.kind == 'job' else 'delete'} {found.resource.kind} "
                      f"{found.resource.id} ({found.job.job_id}) on {found.job.host}")
                return
            print(f"{found.job.job_id} on {found.job.host}: {serverless.stop(found)}")
            return
        monitor.stop(run, found)
    finally:
        run.close()
    if not dry_run:
        print(f"stopped {found.job_id} on {found.host}")


@rt_task(help={"host": HOST_HELP, "dry_run": DRY_HELP,
               "user": "only jobs this user launched (their rt.user label, e.g. $USER); default: everyone's"})
def clean(c, host=None, user=None, dry_run=False):
    """Remove finished (exited or dead) job containers, and with them their logs."""
    from remote_training.jobs import monitor

    run, hosts = _session(c, host, dry_run)
    try:
        jobs, group = monitor.list_jobs(run, hosts)
        # Only our containers that ended: never a paused, created or running one, and never by name
        # (a foreign container may carry any rt.job value): by container id, without -f.
        done = [j for j in jobs if j.job_id and j.container and j.state in monitor.FINISHED
                and (user is None or j.user == user)]
        removed, kept = monitor.remove_finished(run, done)
    finally:
        run.close()
    for name, error in sorted(group.failed.items()):
        warn(f"warning: {name} was not cleaned: {error}")
    for j, why in kept:
        warn(f"warning: kept {j.job_id} ({j.host}): {why}")
    if not dry_run:  # what docker said it removed, and nothing else
        names = ", ".join(f"{j.job_id} ({j.host})" for j in removed)
        print(f"removed {len(removed)} finished job(s)" + (f": {names}" if names else ""))
    if group.failed:
        raise Exit(f"error: {len(group.failed)} host(s) could not be cleaned (named above)", code=4)
    if kept:
        raise Exit(f"error: {len(kept)} finished job(s) could not be removed (named above)", code=5)


from ._history import COST_DEFAULTS, history  # noqa: E402  (the ledger's view, owned beside preflight)


def _passed_args() -> tuple[str, ...]:
    """The words after `--`, exactly as the shell gave them (Invoke keeps only a joined string)."""
    return tuple(sys.argv[sys.argv.index("--") + 1:]) if "--" in sys.argv else ()


@rt_task(help={
    "service": "a service of the positronic checkout's compose file, e.g. lance-convert or molmoact2-server",
    "host": "host name or alias to run on (auto works for programs the catalog knows)",
    "port": "servers: host port to publish the service's port on (default: the compose file's)",
    "wait": "stay attached: stream the job's log and exit with its exit code (servers: after the port answers)",
    "replace": "stop a running job of the same service on that host first",
    "dry_run": DRY_HELP,
})
def run(c, service, host=None, port=None, wait=False, replace=False, dry_run=False):
    """Run any service of the checkout as a job; its program's arguments go after `--`."""
    from remote_training.jobs.services import ServiceRun
    from ._jobrun import start

    start(c, ServiceRun(service, _passed_args()), host=host, dry_run=dry_run, wait=wait, replace=replace,
          port=port)


ns = Collection("jobs")
ns.add_task(list_, name="list", default=True)
ns.add_task(run)
for t in (logs, progress, errors, wait, stop, clean, history):
    ns.add_task(t)
ns.configure({"jobs": JOBS_DEFAULTS, "cost": COST_DEFAULTS, "placement": PLACEMENT_DEFAULTS})
