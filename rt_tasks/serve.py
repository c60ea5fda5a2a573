"""serve: inference servers as detached jobs; each task returns once the server's port answers."""
from __future__ import annotations

from invoke import Collection

from ._cli import load_inventory, rt_task, runner
from ._jobrun import DRY_HELP, HOST_HELP, JOBS_DEFAULTS, PLACEMENT_DEFAULTS, start

SERVE_HELP = {
    "checkpoints": "s3:// folder of the run's checkpoints (the latest is served unless --checkpoint); "
                   "optional with --preset",
    "preset": "current era: a deployment the checkout's server defines, with its checkpoints bound (e.g. phail, "
              "sim_stack; LeRobot ACT also demo)",
    "checkpoint": "serve this checkpoint instead of the latest",
    "host": HOST_HELP, "dry_run": DRY_HELP,
    "replace": "stop a running server of the same service on that host first",
    "wait": "after the port answers, stay attached to the server's log",
}


@rt_task(help={**SERVE_HELP, "modality": "GR00T modality config the checkpoints were trained with",
               "port": "host port to serve on (default: the server's own, 9000 in the runbook era, else 8000)"})
def groot(c, checkpoints=None, modality="ee", port=None, checkpoint=None, preset=None, host=None, replace=False,
          wait=False, dry_run=False):
    """Start a GR00T inference server (groot-server)."""
    start(c, lambda jobs: jobs.GrootServer(checkpoints, checkpoint, None, modality, preset=preset),
          host=host, dry_run=dry_run, wait=wait, port=port, replace=replace)


@rt_task(help={**SERVE_HELP, "port": "host port to serve on (default 8000)", "config_name": "OpenPI config name",
               "pipeline": "current era: the server's pipeline subcommand (default ee)",
               "ee_frame": "current era: --pipeline.ee_frame for ee* pipelines (None: the rig's default frame)"})
def openpi(c, checkpoints=None, port=None, checkpoint=None, config_name=None, pipeline="ee", ee_frame=None,
           preset=None, host=None, replace=False, wait=False, dry_run=False):
    """Start an OpenPI policy server (openpi-server)."""
    start(c, lambda jobs: jobs.OpenpiServer(checkpoints, checkpoint, None, config_name or jobs.OPENPI_CONFIG, pipeline,
                                            ee_frame, preset=preset),
          host=host, dry_run=dry_run, wait=wait, port=port, replace=replace)


LEROBOT_HELP = {**SERVE_HELP, "port": "host port to serve on (default 8000)",
                "checkpoint": "serve this checkpoint folder (exact name, e.g. 050000) instead of the latest",
                "pipeline": "the server's pipeline subcommand (default ee)"}


@rt_task(help=LEROBOT_HELP)
def lerobot(c, checkpoints=None, port=None, checkpoint=None, pipeline="ee", preset=None, host=None, replace=False,
            wait=False, dry_run=False):
    """Start a LeRobot ACT server (lerobot-0_3_3-server; the runbook era has none)."""
    _lerobot_server(c, "LerobotServer", checkpoints, port, checkpoint, pipeline, preset, host, replace, wait, dry_run)


@rt_task(help=LEROBOT_HELP)
def smolvla(c, checkpoints=None, port=None, checkpoint=None, pipeline="ee", preset=None, host=None, replace=False,
            wait=False, dry_run=False):
    """Start a SmolVLA server on LeRobot 0.4 (lerobot-server, current era)."""
    _lerobot_server(c, "SmolvlaServer", checkpoints, port, checkpoint, pipeline, preset, host, replace, wait, dry_run)


def _lerobot_server(c, kind: str, checkpoints, port, checkpoint, pipeline, preset, host, replace, wait,
                    dry_run) -> None:
    """The two LeRobot servers take the same flags (ACT on lerobot 0.3.3, SmolVLA on 0.4)."""
    start(c, lambda jobs: getattr(jobs, kind)(checkpoints, checkpoint, None, pipeline, preset=preset),
          host=host, dry_run=dry_run, wait=wait, port=port, replace=replace)


@rt_task(help={"target": "a server job id (or unique prefix), or a host or serverless target name to stop every "
                         "server there",
               "pause": "serverless endpoints: stop the endpoint but keep it and its URL (default: delete it)",
               "dry_run": DRY_HELP})
def stop(c, target, pause=False, dry_run=False):
    """Stop inference server jobs (their logs stay until jobs.clean); serverless endpoints are deleted."""
    from remote_training.errors import InputError
    from remote_training.targets import fleet

    inventory = load_inventory(c)
    run = runner(c, dry_run=dry_run, inventory=inventory)
    try:
        if fleet.is_target_name(inventory, target):
            where = fleet.for_host(inventory, run, target)  # a host name: every server up there
            servers, name = where.servers_up(target), where.names[0]
        else:
            found = fleet.find(fleet.select(inventory, run), target)
            where, servers, name = found.target, [found], target
            where.require_server(found)
        if pause and not where.pauses:
            raise InputError("--pause applies to serverless endpoints only", "drop --pause to stop the server job")
        for found in servers:
            said = found.target.stop(found, pause=pause, dry_run=dry_run)
            if not dry_run:
                _ended(c, run, inventory, found.job.job_id)
            if said:
                print(said)
        if not servers:
            print(f"no running server on {name}")
    finally:
        run.close()


def _ended(c, run, inventory, job_id: str) -> None:
    """A server stopped on purpose ended well: the ledger's end (what jobs.history --cost counts up to)."""
    from remote_training.jobs.record import record_end
    from ._jobrun import make_hooks

    record_end(make_hooks(c, run, inventory), job_id, 0)


ns = Collection("serve")
ns.add_task(groot)
ns.add_task(openpi)
ns.add_task(lerobot)
ns.add_task(smolvla)
ns.add_task(stop)
ns.configure({"jobs": JOBS_DEFAULTS, "placement": PLACEMENT_DEFAULTS})
