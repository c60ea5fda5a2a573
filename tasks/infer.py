"""infer: the simulation client against a running policy server."""
from __future__ import annotations

import os

from invoke import Collection

from ._cli import load_inventory, rt_task, runner
from ._jobrun import DRY_HELP, start, JOBS_DEFAULTS


def resolve_server(c, server: str, policy: str | None) -> tuple[str, str, int, str]:
    """(server host name, address, port, client policy) from a job id or host:port."""
    from remote_training.errors import InputError
    from remote_training.jobs import monitor
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
            return (host.name if host else "", address, int(port), policy)
        job = monitor.find_job(run, inventory.hosts, server)
        if job.kind != "serve" or not job.port:
            raise InputError(f"{job.job_id} is not a server job", "point --server at a serve.* job or host:port")
        if not job.running:
            raise InputError(f"server {job.job_id} is not running ({job.state})", "start it again with inv serve.*")
        address = run.connection(run.inventory.get(job.host)).host
        if not (policy or job.client):
            raise InputError(f"server {job.job_id} carries no client policy (started by an older version)",
                             "pass --policy")
        return job.host, address, job.port, policy or job.client
    finally:
        run.close()


@rt_task(help={
    "server": "server job id (or unique prefix), or host:port",
    "policy": "client policy config (default: the one the server was started for)",
    "gui": "show the simulator window (needs a display); otherwise headless with MUJOCO_GL=egl",
    "simulation_time": "seconds to simulate",
    "host": "host to run the client on (default: the server's host)",
    "wait": "stream the client's log and exit with its exit code (default on; --no-wait detaches)",
    "dry_run": DRY_HELP,
})
def sim(c, server, policy=None, gui=False, simulation_time=10, host=None, wait=True, dry_run=False):
    """Run the simulation client (positronic-inference sim) against a policy server."""
    from remote_training.jobs.services import Inference

    server_host, address, port, client = resolve_server(c, server, policy)
    job = Inference(client, address, port, gui=gui, simulation_time=int(simulation_time))
    env = {} if gui else {"MUJOCO_GL": "egl"}  # headless rendering, else gladLoadGL fails
    if gui and os.environ.get("DISPLAY"):
        env["DISPLAY"] = os.environ["DISPLAY"]
    start(c, job, host=host or server_host or None, dry_run=dry_run, wait=wait, env=env)


ns = Collection("infer")
ns.add_task(sim)
ns.configure({"jobs": JOBS_DEFAULTS})
