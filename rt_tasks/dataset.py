"""dataset: convert recorded datasets to LeRobot format, and OpenPI normalisation stats."""
from __future__ import annotations

from invoke import Collection

from ._cli import rt_task
from ._jobrun import DRY_HELP, HOST_HELP, JOBS_DEFAULTS, PLACEMENT_DEFAULTS, WAIT_HELP, start


@rt_task(help={
    "dataset": "dataset config, e.g. @positronic.cfg.phail.sim_stack_groot_ft (current era: @positronic.cfg.ds...)",
    "observation": "runbook era: observation config (.groot_rot6d_joints, .eepose, ...)",
    "action": "runbook era: action config (.groot, .groot_rot6d, .absolute_position)",
    "codec": "current era: codec, e.g. @positronic.vendors.gr00t.codecs.ee_rot6d_joints",
    "output": "s3:// folder for the converted dataset",
    "fps": "frames per second of the output (runbook era: default 15; current era: from the codec)",
    "force": "write into an output folder that already holds data",
    "smolvla": "current era: convert for SmolVLA on LeRobot 0.4 (lerobot-convert, 512x512 images; codecs of "
               "@positronic.vendors.lerobot.codecs)",
    "host": HOST_HELP, "wait": WAIT_HELP, "dry_run": DRY_HELP,
})
def convert(c, dataset, output, observation=None, action=None, codec=None, fps=None, smolvla=False, force=False,
            host=None, wait=False, dry_run=False):
    """Convert a Positronic dataset to LeRobot format (positronic-to-lerobot / lerobot-0_3_3-convert / lerobot-convert)."""  # noqa: E501 (the task's one-line help)
    start(c, lambda jobs: (jobs.SmolvlaConvert if smolvla else jobs.Convert)(dataset, output, fps, observation, action,
                                                                         codec),  # fps checked with the others
          host=host, dry_run=dry_run, wait=wait, force=force)


@rt_task(help={"input": "s3:// folder of a converted dataset", "output": "s3:// folder; stats land in <output>/assets/",
               "force": "write into an output folder that already holds stats",
               "host": HOST_HELP, "wait": WAIT_HELP, "dry_run": DRY_HELP})
def stats(c, input, output, force=False, host=None, wait=False, dry_run=False):
    """Compute OpenPI normalisation stats for a dataset (openpi-stats)."""
    start(c, lambda jobs: jobs.Stats(input, output), host=host, dry_run=dry_run, wait=wait, force=force)


ns = Collection("dataset")
ns.add_task(convert)
ns.add_task(stats)
ns.configure({"jobs": JOBS_DEFAULTS, "placement": PLACEMENT_DEFAULTS})
