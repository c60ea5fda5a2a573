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


def _targets(c, host, dry_run=False):
    """(runner, the targets --host names: every fixed host and serverless target without it)."""
    from remote_training.targets import fleet

    inventory = load_inventory(c)
    run = runner(c, dry_run=dry_run, inventory=inventory)
    return run, fleet.select(inventory, run, host)


def _find(c, job, host, dry_run=False):
    """(runner, the job found on the targets --host names): fixed hosts first, then serverless."""
    from remote_training.targets import fleet

    run, targets = _targets(c, host, dry_run)
    try:
        return run, fleet.find(targets, job)
    except BaseException:
        run.close()
        raise


@rt_task(help={"host": HOST_HELP, "json": "print JSON instead of a table", "running": "only running jobs"})
def list_(c, host=None, json=False, running=False):
    """Jobs on all hosts (found by label, whoever started them)."""
    from remote_training.fleet.remote import describe
    from remote_training.targets import fleet

    run, targets = _targets(c, host)
    try:
        found, failed = fleet.list_all(targets)
    finally:
        run.close()
    found = [f for f in found if f.job.running] if running else found
    for name, error in sorted(failed.items()):
        warn(f"warning: {name}: {describe(error)}")
    if json:
        print_json([f.job.to_dict() for f in found])
        return
    rows = [(j.job_id, j.host, j.state, "" if j.exit_code is None else j.exit_code, j.user,
             j.started.replace("T", " ").rstrip("Z"), f.port) for f, j in ((f, f.job) for f in found)]
    everywhere = sum(len(t.names) for t in targets)
    print_table(["job", "host", "state", "exit", "user", "started (UTC)", "port"], rows,
                title=f"jobs on {everywhere - len(failed)}/{everywhere} hosts",
                optional=("port", "user", "started (UTC)"))


@rt_task(help={"job": "job id or unique prefix", "follow": "keep streaming until the job ends",
               "tail": "only the last N lines", "host": HOST_HELP})
def logs(c, job, follow=False, tail=None, host=None):
    """A job's log (stdout and stderr), from its host."""
    from remote_training import validate

    _tail = None if tail is None else validate.count(tail, "--tail")
    run, found = _find(c, job, host)
    secrets = handed_secrets(c, run.inventory)
    try:
        found.target.logs(found, tail=_tail, follow=follow, stream=sys.stdout, secrets=secrets)
    finally:
        run.close()


@rt_task(help={"job": "job id or prefix; or a host name, or 'all', for every running job there",
               "host": HOST_HELP, "json": "print JSON instead of a table"})
def progress(c, job, host=None, json=False):
    """Last progress of jobs from their tqdm lines: percent, step/total, ETA."""
    from dataclasses import asdict

    from remote_training.jobs import monitor
    from remote_training.targets import fleet

    inventory = load_inventory(c)
    if job != "all" and fleet.is_target_name(inventory, job):
        host, job = job, "all"
    run, targets = _targets(c, host)
    secrets = handed_secrets(c, inventory)
    try:
        items = [f for f in fleet.list_all(targets)[0] if f.job.running] if job == "all" else \
            [fleet.find(targets, job)]
        rows = []
        for f in items:
            p = monitor.parse_progress(f.target.logs(f, tail=200, secrets=secrets))
            rows.append({"job": f.job.job_id, "host": f.job.host, "state": f.job.state, **asdict(p)})
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
        lines = monitor.error_lines(found.target.logs(found, secrets=secrets))
    finally:
        run.close()
    row = found.job
    for line in lines:
        print(line)
    ended = "running" if row.running else f"exited {row.exit_code}"
    print(f"{row.job_id} on {row.host}: {ended}; {len(lines)} error line(s)")


@rt_task(help={"job": "job id or unique prefix", "host": HOST_HELP,
               "timeout": "give up after this many seconds (default: wait as long as it runs)",
               "rt_codes": "a failed job exits 10 (rt's 'a job failed'), whatever its own code: it cannot be "
                           "taken for rt's other codes (README: Exit codes)"})
def wait(c, job, host=None, timeout=None, rt_codes=False):
    """Wait for a job to end and exit with its exit code, or with --rt-codes rt's own (for Makefile chains)."""
    from remote_training import validate
    from remote_training.errors import raise_if_failed
    from remote_training.jobs.record import record_end
    from ._jobrun import make_hooks

    limit = None if timeout is None else validate.duration(timeout, "--timeout")
    run, found = _find(c, job, host)
    try:
        # a job that ended before this wait keeps its own end time (jobs.history --cost counts to it)
        code, ended = found.target.wait(found, timeout=limit)
        record_end(make_hooks(c, run, run.inventory), found.job.job_id, code, ended=ended)
    finally:
        run.close()
    print(f"{found.job.job_id} on {found.job.host} exited {code}")
    raise_if_failed(found.job.job_id, found.job.host, code, own_code=not rt_codes)


@rt_task(help={"job": "job id or unique prefix", "host": HOST_HELP, "dry_run": DRY_HELP})
def stop(c, job, host=None, dry_run=False):
    """Stop a job (SIGTERM, then SIGKILL after 30 s); its log and exit code stay readable."""
    run, found = _find(c, job, host, dry_run)
    try:
        said = found.target.stop(found, dry_run=dry_run)
    finally:
        run.close()
    if said:
        print(said)


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
    from ._jobrun import start

    start(c, lambda jobs: jobs.ServiceRun(service, _passed_args()), host=host, dry_run=dry_run, wait=wait,
          replace=replace, port=port)


ns = Collection("jobs")
ns.add_task(list_, name="list", default=True)
ns.add_task(run)
for t in (logs, progress, errors, wait, stop, clean, history):
    ns.add_task(t)
ns.configure({"jobs": JOBS_DEFAULTS, "cost": COST_DEFAULTS, "placement": PLACEMENT_DEFAULTS})
