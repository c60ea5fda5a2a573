"""sandbox: a local fleet of real parts (engines, registry, S3, SSH hosts) for tests and the demo."""
from __future__ import annotations

from invoke import Collection

from remote_training.output import print_json, print_table
from ._cli import PROJECT_ROOT, rt_task, setting


@rt_task(help={"hosts": "number of SSH hosts: desktop, then vm-train, vm-train2, ... (default: as before, else 4)",
               "smi_delay": "seconds the nvidia-smi stand-in waits before answering (default: as before, else 0)",
               "job_images": "also build (when an input changed) and push each era's job image, as the first "
                             "test or demo step that needs it would, and pull it onto every host",
               "dry_run": "print what would be brought up, start nothing"})
def up(c, hosts=None, smi_delay=None, job_images=False, dry_run=False):
    """Bring the sandbox fleet up (idempotent; repairs what a killed run left behind)."""
    from rt_sandbox import fleet

    hosts = hosts if hosts is not None else setting(c, "sandbox.hosts")  # INVOKE_SANDBOX_HOSTS
    smi_delay = smi_delay if smi_delay is not None else setting(c, "sandbox.smi_delay")
    count = int(hosts) if hosts not in (None, "") else None
    delay = float(smi_delay) if smi_delay not in (None, "") else None
    if dry_run:
        print(f"would ensure under {PROJECT_ROOT / '.sandbox'}: root engine, registry 127.0.0.1:5000, moto S3 "
              f"127.0.0.1:9555, bridge, base image, {count or 'the previous number of (default 4)'} hosts, "
              f"smi delay {delay if delay is not None else 'unchanged'}"
              + (", each era's job image" if job_images else ""))
        return
    state = fleet.ensure_up(PROJECT_ROOT, hosts=count, smi_delay=delay)
    rows = [(n, h["address"], ", ".join(h["aliases"]), h["gpu"], h["docker_host"]) for n, h in state["hosts"].items()]
    print_table(["host", "address", "aliases", "gpu", "engine"], rows, title="sandbox is up")
    print(f"registry {state['registry']}  s3 {state['s3_endpoint']}  inventory {state['hosts_file']}")
    print(f"use: INVOKE_HOSTS_FILE={state['hosts_file']} inv hosts.list")
    if job_images:
        from remote_training.jobs.catalog import ERAS
        from rt_sandbox import hosts, standin_image

        engines = {name: host["docker_host"] for name, host in state["hosts"].items()}
        for era in ERAS:
            ref = standin_image.ensure_named(PROJECT_ROOT, era.name)
            failed = hosts.preload(ref, engines)
            print(f"job image of {era.label}: {ref}, on every host"
                  + (f" but {', '.join(failed)} (its first job pulls it)" if failed else ""))


@rt_task(help={"json": "print JSON instead of a table"})
def status(c, json=False):
    """Show which sandbox parts run now."""
    from rt_sandbox import fleet

    report = fleet.status(PROJECT_ROOT)
    if json:
        print_json(report)
        return
    services = [(k, "up" if v else "down") for k, v in report.items() if k != "hosts" and isinstance(v, bool)]
    print_table(["service", "state"], services, title="sandbox services")
    rows = [(n, h["address"], *("yes" if h[k] else "no" for k in ("network", "dockerd", "sshd", "up")))
            for n, h in report["hosts"].items()]
    print_table(["host", "address", "network", "dockerd", "sshd", "up"], rows, title="sandbox hosts")


@rt_task(help={"dry_run": "print what would be stopped, stop nothing"})
def down(c, dry_run=False):
    """Stop everything the sandbox started; remove its namespaces, links and runtime files."""
    from rt_sandbox import fleet

    if dry_run:
        print_json(fleet.status(PROJECT_ROOT))
        print("would stop the parts above that the sandbox started (pid files under .sandbox/pids)")
        return
    removed = fleet.down(PROJECT_ROOT)
    print("stopped/removed: " + (", ".join(removed) if removed else "nothing was running"))


ns = Collection("sandbox")
ns.add_task(up)
ns.add_task(status)
ns.add_task(down)
# None: keep what the running sandbox has (first up: 4 hosts, no delay)
ns.configure({"sandbox": {"hosts": None, "smi_delay": None}})
