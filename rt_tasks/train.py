"""train: GR00T, OpenPI and LeRobot training jobs, detached on a GPU host."""
from __future__ import annotations

from invoke import Collection

from ._cli import rt_task
from ._jobrun import DRY_HELP, HOST_HELP, JOBS_DEFAULTS, PLACEMENT_DEFAULTS, WAIT_HELP, start

COMMON_HELP = {
    "input": "s3:// folder of the LeRobot dataset", "output": "s3:// folder for checkpoints",
    "exp_name": "experiment name (default: today as YYMMDD)", "steps": "number of training steps",
    "resume": "continue from the latest checkpoint of this experiment",
    "force": "allow writing into an experiment folder that already has checkpoints",
    "host": HOST_HELP, "wait": WAIT_HELP, "dry_run": DRY_HELP,
}


@rt_task(help={**COMMON_HELP, "modality": "GR00T modality config: a key of the checkout's MODALITY_CONFIGS "
               "(positronic/vendors/gr00t), e.g. ee_rot6d_q",
               "save_steps": "save a checkpoint every N steps (default: the trainer's)",
               "workers": "data loader workers (default: the trainer's)",
               "keep_optimizers": "current era: keep optimizer.pt in the last N checkpoints only (the trainer's "
                                  "default 2; older ones lose it after training)"})
def groot(c, input, output, modality, exp_name=None, steps=20000, save_steps=None, workers=None, keep_optimizers=None,
          resume=False, force=False, host=None, wait=False, dry_run=False):
    """Train GR00T (groot-train); checkpoints land in <output>/<exp-name>/checkpoint-<step>/."""
    start(c, lambda jobs: jobs.GrootTrain(input, output, exp_name or jobs.today(), steps, resume, modality, save_steps,
                                          workers, keep_optimizers),
          host=host, dry_run=dry_run, wait=wait, force=force)


@rt_task(help={**COMMON_HELP, "stats": "s3:// folder of the stats assets (openpi-stats output + assets/)",
               "config_name": "OpenPI config, e.g. pi05_positronic_lowmem"})
def openpi(c, input, stats, output, exp_name=None, config_name=None, steps=None, resume=False, force=False,
           host=None, wait=False, dry_run=False):
    """Train OpenPI (openpi-train); checkpoints land in <output>/<config>/<exp-name>/<step>/."""
    start(c, lambda jobs: jobs.OpenpiTrain(input, output, exp_name or jobs.today(), steps, resume, stats,
                                           config_name or jobs.OPENPI_CONFIG),
          host=host, dry_run=dry_run, wait=wait, force=force)


@rt_task(help={**COMMON_HELP,
               "codec": "current era: the dataset's codec, .NAME of positronic/vendors/lerobot_0_3_3/codecs.py or "
                        "@positronic... (default: the trainer's, .ee)",
               "backbone": "current era: vision backbone, a key of lerobot_0_3_3/backbone.py BACKBONES "
                           "(resnet18, resnet50, clip, dinov2, dinov3)"})
def lerobot(c, input, output, exp_name=None, steps=None, codec=None, backbone=None, resume=False, force=False,
            host=None, wait=False, dry_run=False):
    """Train LeRobot ACT (lerobot-train / lerobot-0_3_3-train); checkpoints land in <output>/<exp-name>/checkpoints/<step>/."""  # noqa: E501 (the task's one-line help)
    start(c, lambda jobs: jobs.LerobotTrain(input, output, exp_name or jobs.today(), steps, resume, codec, backbone),
          host=host, dry_run=dry_run, wait=wait, force=force)


@rt_task(help={**COMMON_HELP, "mode": "expert_only (frozen vision encoder, the default) or full_finetune",
               "codec": "the dataset's codec, .NAME of positronic/vendors/lerobot/codecs.py or @positronic... "
                        "(default: the trainer's, .ee)"})
def smolvla(c, input, output, mode="expert_only", exp_name=None, steps=None, codec=None, resume=False, force=False,
            host=None, wait=False, dry_run=False):
    """Train SmolVLA on LeRobot 0.4 (lerobot-train, current era); checkpoints land in <output>/<exp-name>/checkpoints/<step>/."""  # noqa: E501 (the task's one-line help)
    start(c, lambda jobs: jobs.SmolvlaTrain(input, output, exp_name or jobs.today(), steps, resume, mode, codec),
          host=host, dry_run=dry_run, wait=wait, force=force)


ns = Collection("train")
ns.add_task(groot)
ns.add_task(openpi)
ns.add_task(lerobot)
ns.add_task(smolvla)
ns.configure({"jobs": JOBS_DEFAULTS, "placement": PLACEMENT_DEFAULTS})
