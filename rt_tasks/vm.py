"""vm: start, stop, wait, status, idle reaping, Nebius login and docker contexts."""
from __future__ import annotations

from invoke import Collection

from ._cli import err, load_inventory, rt_task, runner, setting, state_folder


def _runner(c, dry_run: bool = False):
    return runner(c, dry_run=dry_run)


@rt_task(help={"host": "host name or alias (e.g. train2)", "timeout": "seconds to wait for RUNNING and SSH",
               "dry_run": "print what would be called, start nothing"})
def start(c, host, timeout=0, dry_run=False):
    """Start a VM and wait until SSH answers (no-op if it runs)."""
    from remote_training.fleet.lifecycle import provider
    from remote_training.fleet.lifecycle import start as start_vm
    from remote_training.progress import Progress

    r = _runner(c, dry_run)
    h = r.inventory.get(host)
    if dry_run:
        print(provider(r, h).describe_start())
        print(f"then wait until ssh {h.ssh} answers")
        return
    with Progress(f"vm.start {h.name}") as progress:
        done = start_vm(r, h, timeout=float(timeout or setting(c, "vm.start_timeout")), progress=progress)
    where = f" at {done.status.address}" if done.status.address else ""
    print(f"{h.name}: {'already running' if done.was_running else 'started'}{where}, SSH answers "
          f"({done.seconds:.1f}s)")


@rt_task(help={"host": "host name or alias", "force": "stop even while job containers run",
               "timeout": "seconds to wait for STOPPED", "dry_run": "print what would be called, stop nothing"})
def stop(c, host, force=False, timeout=0, dry_run=False):
    """Stop a VM through its provider; refuses while jobs run unless --force."""
    from remote_training.fleet.lifecycle import busy_jobs, provider
    from remote_training.fleet.lifecycle import stop as stop_vm

    r = _runner(c, dry_run)
    h = r.inventory.get(host)
    if dry_run:
        if not force:
            jobs = busy_jobs(r, h)
            print(f"{h.name}: {len(jobs)} job container(s) running" + ("; would refuse" if jobs else ""))
        print(provider(r, h).describe_stop())
        return
    status = stop_vm(r, h, force=force, timeout=float(timeout or setting(c, "vm.stop_timeout")))
    print(f"{h.name}: {status.state.value}")


@rt_task(help={"host": "host name or alias", "timeout": "seconds to wait"})
def wait(c, host, timeout=0):
    """Wait until a VM is RUNNING and SSH answers (starts nothing)."""
    from remote_training.fleet.lifecycle import wait as wait_vm
    from remote_training.progress import Progress

    r = _runner(c)
    with Progress(f"vm.wait {host}") as progress:
        h = wait_vm(r, r.inventory.get(host), timeout=float(timeout or setting(c, "vm.start_timeout")),
                    progress=progress)
    print(f"{h.name}: running, SSH answers")


def _mem(used, total) -> str:
    if used is None or total is None:
        return "-"
    return f"{used / 1024:.1f}/{total / 1024:.0f} GiB"


@rt_task(iterable=["host"], help={"host": "only this host (repeatable); default: all",
                                  "json": "print JSON instead of a table"})
def status(c, host=None, json=False):
    """Every machine at once: provider state, SSH, GPU memory and utilization, job containers."""
    from remote_training.fleet.fleet_status import fleet_status
    from remote_training.output import print_json, print_table

    r = _runner(c)
    rows = fleet_status(r, r.inventory.select(host or None),
                        max_workers=int(setting(c, "vm.status_workers")))
    if json:
        print_json([s.to_dict() for s in rows])
        return
    table = []
    for s in rows:
        ssh = {True: "yes", False: "NO", None: "-"}[s.reachable]
        jobs = ", ".join(j.job_id or j.name for j in s.jobs) or "-"
        util = "-" if s.gpu_util_pct is None else f"{s.gpu_util_pct}%"
        table.append((s.name, s.provider, s.state, s.address or "-", ssh, s.gpu or "-",
                      _mem(s.gpu_mem_used_mb, s.gpu_mem_total_mb), util, jobs,
                      (s.error or "").split(" (fix: ")[0][:60]))
    print_table(["host", "provider", "state", "address", "ssh", "gpu", "memory", "util", "jobs", "note"], table,
                title=f"fleet ({r.inventory.path})", optional=("provider", "address", "gpu", "util"))


@rt_task(iterable=["host"], help={
    "idle": "stop a VM idle for this whole window (e.g. 30m, 2h)",
    "threshold": "GPU utilization (%) below which a VM counts as idle",
    "max_gap": "longest gap between samples still trusted (e.g. 15m)",
    "host": "only this host (repeatable); default: all",
    "dry_run": "sample and report, stop nothing", "json": "print JSON instead of a table"})
def reap(c, idle="", threshold="", max_gap="", host=None, dry_run=False, json=False):
    """Sample the fleet and stop VMs idle for the whole window (run it from cron)."""
    from dataclasses import asdict

    from remote_training import validate
    from remote_training.fleet.idle import SampleStore
    from remote_training.fleet.idle import reap as reap_vms
    from remote_training.output import print_json, print_table

    # Every argument is checked before a host is asked anything: `--idle 0` would stop every VM
    # on its first idle sample, `--threshold 1000` would call every busy GPU idle.
    window = validate.duration(idle, "--idle") if idle else validate.duration(
        setting(c, "vm.reap.idle"), "vm.reap.idle")
    gap = validate.duration(max_gap, "--max-gap") if max_gap else validate.duration(
        setting(c, "vm.reap.max_gap"), "vm.reap.max_gap")
    limit = validate.percent(threshold, "--threshold") if str(threshold).strip() else validate.percent(
        setting(c, "vm.reap.threshold"), "vm.reap.threshold")
    r = _runner(c)  # samples are read-only; stops are skipped by dry_run below
    decisions = reap_vms(r, r.inventory.select(host or None), window=window, threshold=limit, max_gap=gap,
                         dry_run=dry_run, stop_timeout=float(setting(c, "vm.stop_timeout")),
                         store=SampleStore(state_folder(c) / "idle"))
    if json:
        print_json([asdict(d) for d in decisions])
    else:
        print_table(["host", "action", "reason"], [(d.host, d.action, d.reason) for d in decisions],
                    title=f"reap: idle window {window:g}s" + (" (dry run)" if dry_run else ""))


@rt_task(help={"profile": "nebius CLI profile to use (default: the CLI's default)",
               "credentials_file": "service-account credentials file instead of a user login",
               "browser": "open a browser for a user login (default: print the URL, headless)",
               "dry_run": "show which credentials would be used, contact nothing"})
def login(c, profile="", credentials_file="", browser=False, dry_run=False):
    """Log in to Nebius headlessly (prints the federation URL) or check service-account credentials."""
    import sys

    from remote_training.fleet.providers.nebius import build_sdk, translate

    inv = load_inventory(c)
    settings = dict(inv.extra.get("nebius") or {})
    if credentials_file:
        settings["credentials_file"] = credentials_file
    how = (f"service-account credentials {settings['credentials_file']}" if settings.get("credentials_file")
           else "no credentials (stand-in)" if str(settings.get("auth", "")).lower() == "none"
           else f"CLI profile {profile or settings.get('profile') or '(default)'}")
    if dry_run:
        print(f"would log in with {how}" + (f" at {settings['endpoint']}" if settings.get("endpoint") else ""))
        return
    err(f"logging in with {how}; a login URL will be printed if one is needed")
    sdk = build_sdk(settings, profile or None, federation_invitation_no_browser_open=not browser,
                    federation_invitation_writer=sys.stderr)
    try:
        who = sdk.whoami(timeout=600).wait()
    except Exception as exc:
        raise translate(exc, "nebius", "login") from exc
    finally:
        sdk.sync_close()
    print(f"logged in: {_identity(who)}")


def _identity(who) -> str:
    kind = who.which_field_in_oneof("profile") or "profile"
    value = getattr(who, kind, None)
    return f"{kind.replace('_profile', '').replace('_', ' ')} {getattr(value, 'id', '')}".strip()


@rt_task(iterable=["host"], help={"host": "only this host (repeatable); default: every host",
                                  "force": "update a context that points somewhere else",
                                  "dry_run": "print the docker commands, change nothing"})
def contexts(c, host=None, force=False, dry_run=False):
    """Create or update docker contexts named after the hosts (ssh://user@host)."""
    from remote_training.fleet.docker_contexts import sync_contexts
    from remote_training.output import print_table

    inv = load_inventory(c)
    rows = sync_contexts(inv.select(host or None), force=force, dry_run=dry_run, echo=print)
    print_table(["context", "endpoint", "action"], rows, title="docker contexts")


ns = Collection("vm")
for t in (start, stop, wait, status, reap, login, contexts):
    ns.add_task(t)
ns.configure({"vm": {"auto_start": True, "state_dir": "", "start_timeout": 900, "stop_timeout": 600,
                     "status_workers": 16, "reap": {"idle": "30m", "threshold": 10, "max_gap": "15m"}}})
