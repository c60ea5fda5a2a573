"""infer: the simulation client against a running policy server."""
from __future__ import annotations

import os

from invoke import Collection

from ._cli import load_inventory, rt_task, runner
from ._jobrun import JOBS_DEFAULTS, compose_folder, start


def resolve_server(c, server: str, policy: str | None) -> tuple[str, str, int, str, dict[str, str]]:
    """(server host name, address, port, client policy, environment for the client) from a job id or host:port."""
    from remote_training.errors import InputError
    from remote_training.targets import fleet

    inventory = load_inventory(c)
    run = runner(c, inventory=inventory)
    try:
        name, _, port = server.rpartition(":")
        if name and port.isdigit():  # host:port
            if not policy:
                raise InputError(f"cannot tell the server's client policy from {server!r}",
                                 "pass --policy (e.g. remote, or groot_ee_rot6d_joints in the runbook era), "
                                 "or give the server's job id")
            host = next((h for h in inventory.hosts if name in h.names), None)
            address = run.connection(host).host if host else name
            return (host.name if host else "", address, int(port), policy, {})
        found = fleet.find(fleet.select(inventory, run), server)
        at = found.target.server(found, policy)
        return at.host, at.address, at.port, at.policy, dict(at.env)
    finally:
        run.close()


@rt_task(help={
    "server": "server job id (or unique prefix), or host:port",
    "policy": "client policy config (default: the one the server was started for)",
    "gui": "show the simulator window (runbook era; needs DISPLAY or WAYLAND_DISPLAY). Default: a window when "
           "there is a display, else headless",
    "headless": "no window even with a display: MUJOCO_GL=egl and PYOPENGL_PLATFORM=egl (the default without one)",
    "simulation_time": "seconds to simulate",
    "output_dir": "record the episodes into this folder (a local path, or s3://...; default: nothing recorded)",
    "trials": "episodes to run (runbook era: the driver's iterations; current era: eval.trial_count; default 1)",
    "host": "run the client on this fleet host through the compose service (detached job, log followed) "
            "instead of on this machine with uv in the positronic checkout (the default)",
    "wait": "with --host: stream the client's log and exit with its exit code (default on; --no-wait detaches)",
    "dry_run": "print the exact command (local: cwd, env additions and the uv command line; with --host: "
               "the host and remote commands); start nothing",
})
def sim(c, server, policy=None, gui=False, headless=False, simulation_time=10, output_dir=None, trials=None, host=None,
        wait=True, dry_run=False):
    """Run the simulation client (positronic-inference sim) here with uv, as the runbook does, or on a fleet host."""
    from remote_training.errors import InputError

    if host:
        if gui:
            raise InputError("--gui with --host: a fleet host has no display for the simulator window",
                             "drop --gui (the fleet client runs headless), or drop --host to run it here")
        _, address, port, client, secret = resolve_server(c, server, policy)
        if secret:
            raise InputError(f"{server} is a serverless endpoint: its token stays on this machine",
                             "drop --host to run the client here")
        start(c, lambda jobs: jobs.Inference(client, address, port, gui=False, simulation_time=int(simulation_time),
                                             output_dir=output_dir, trials=trials),
              host=host, dry_run=dry_run, wait=wait, env={"MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"})
        return
    if not wait:
        raise InputError("--no-wait detaches a fleet job; the local client runs in the foreground",
                         "drop --no-wait, or run it on a fleet host with --host HOST")
    run_local(c, server, policy, gui=gui, headless=headless, simulation_time=int(simulation_time), dry_run=dry_run,
              output_dir=output_dir, trials=trials)


def run_local(c, server: str, policy: str | None, *, gui: bool, headless: bool, simulation_time: int,
              dry_run: bool, output_dir: str | None = None, trials: int | None = None) -> None:
    """The client on this machine: checkout, uv and flags checked before the server is looked up."""
    from remote_training.jobs import client as local
    from remote_training.jobs.catalog import load_checkout
    from remote_training.jobs.services import Inference

    inventory = load_inventory(c)
    checkout = load_checkout(compose_folder(c, inventory))
    local.choose_window(checkout.era, gui=gui, headless=headless, environ=os.environ)
    local.find_uv()
    _, address, port, client, secret = resolve_server(c, server, policy)
    job = Inference(client, address, port, simulation_time=simulation_time, output_dir=output_dir, trials=trials)
    planned = local.plan(checkout, job, gui=gui, headless=headless, s3_endpoint=inventory.s3_endpoint)
    print("\n".join(planned.describe()), flush=True)
    if secret:
        print(f"# env (not shown): {', '.join(sorted(secret))}", flush=True)
    if dry_run:
        return
    local.run(planned, {**os.environ, **secret})
    print("positronic-inference finished (exit 0)")


ns = Collection("infer")
ns.add_task(sim)
ns.configure({"jobs": JOBS_DEFAULTS})
