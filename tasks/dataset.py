"""dataset: convert recorded datasets to LeRobot format, and OpenPI normalisation stats."""
from __future__ import annotations

from invoke import Collection

from ._cli import rt_task
from ._jobrun import DRY_HELP, HOST_HELP, WAIT_HELP, start, JOBS_DEFAULTS


@rt_task(help={
    "dataset": "dataset config, e.g. @positronic.cfg.phail.sim_stack_groot_ft",
    "observation": "observation config: .groot, .groot_joints, .groot_rot6d, .groot_rot6d_joints, .eepose",
    "action": "action config: .groot, .groot_rot6d, .absolute_position",
    "output": "s3:// folder for the converted dataset",
    "fps": "frames per second of the output (default 15)",
    "force": "write into an output folder that already holds data",
    "host": HOST_HELP, "wait": WAIT_HELP, "dry_run": DRY_HELP,
})
def convert(c, dataset, observation, action, output, fps=15, force=False, host=None, wait=False, dry_run=False):
    """Convert a Positronic dataset to LeRobot format (positronic-to-lerobot)."""
    from remote_training.jobs.services import arg_value, convert_args

    args = convert_args(dataset, observation, action, output, fps)
    start(c, "positronic-to-lerobot", args, host=host, dry_run=dry_run, wait=wait, output=arg_value(args, "output_dir"),
          force=force)


@rt_task(help={"input": "s3:// folder of a converted dataset", "output": "s3:// folder; stats land in <output>/assets/",
               "force": "write into an output folder that already holds stats",
               "host": HOST_HELP, "wait": WAIT_HELP, "dry_run": DRY_HELP})
def stats(c, input, output, force=False, host=None, wait=False, dry_run=False):
    """Compute OpenPI normalisation stats for a dataset (openpi-stats)."""
    from remote_training.jobs.services import arg_value, stats_args

    args = stats_args(input, output)
    start(c, "openpi-stats", args, host=host, dry_run=dry_run, wait=wait, inputs=[arg_value(args, "input_path")],
          output=arg_value(args, "output_path"), force=force)


ns = Collection("dataset")
ns.add_task(convert)
ns.add_task(stats)
ns.configure({"jobs": JOBS_DEFAULTS})
