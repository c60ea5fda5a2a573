"""STUB of lerobot/scripts/train.py (lerobot 0.3.3): `train(cfg)` as positronic's ACT trainers call it, with
lerobot's own order and checks kept and the model layer replaced by a clock tick.

Kept from the real train(): cfg.validate(); the config logged; the dataset read from cfg.dataset.root (a
missing meta/info.json or a dataset without episodes or frames fails, as lerobot's loader does); the policy
made by make_policy from the dataset's features (lerobot/policies/factory.py: ACT refuses a dataset without an
image or the environment state; a resumed run loads its checkpoint's config.json and model.safetensors); with
resume, the step read back from <checkpoint>/training_state/training_step.json; a checkpoint every save_freq
steps and at the last one, under <output_dir>/checkpoints/<step zero-padded to max(6, len(str(steps)))>/
with a `last` symlink (lerobot/utils/train_utils.py).
Replaced: the policy, the optimiser and the data loader (no torch here): one tick of RT_STANDIN_TICK seconds
(default 0.3) per log_freq steps (lerobot logs its metrics line there) or save_freq steps, whichever comes
first, as the sandbox's other model stubs do (docker/sandbox/era/rt_stub_training.py).
"""
import json
import logging
import os
import time
from pathlib import Path
from pprint import pformat

from lerobot.configs.train import TrainPipelineConfig
from lerobot.policies.factory import make_policy
from lerobot.utils.train_utils import (
    get_step_checkpoint_dir,
    load_training_state,
    save_checkpoint,
    update_last_checkpoint,
)
from lerobot.utils.utils import init_logging  # noqa: F401 (upstream calls lerobot_train.init_logging())


def make_dataset(cfg: TrainPipelineConfig) -> dict:
    """The dataset's meta/info.json as LeRobotDatasetMetadata loads it (the stub reads no frames). lerobot would
    try the Hub for a repo id whose local copy lacks its metadata; the sandbox has no Hub, so it fails here."""
    root = Path(cfg.dataset.root)
    info_path = root / "meta" / "info.json"
    if not info_path.is_file():
        raise FileNotFoundError(f"no LeRobot dataset at {root}: {info_path} does not exist")
    info = json.loads(info_path.read_text())
    if not info.get("total_episodes") or not info.get("total_frames"):
        raise ValueError(f"the LeRobot dataset at {root} has no episodes (meta/info.json: "
                         f"total_episodes={info.get('total_episodes')}, total_frames={info.get('total_frames')})")
    return info


def train(cfg: TrainPipelineConfig) -> None:
    cfg.validate()
    logging.info(pformat(cfg.to_dict()))
    if cfg.wandb.enable and cfg.wandb.project:
        logging.info("STUB: W&B logging is not run in the sandbox")
    logging.info("Creating dataset")
    dataset = make_dataset(cfg)
    logging.info("Creating policy")
    policy = make_policy(cfg=cfg.policy, ds_meta=dataset)
    step = load_training_state(cfg.checkpoint_path) if cfg.resume else 0
    logging.info(f"Output dir: {cfg.output_dir}")
    logging.info(f"{cfg.steps=}")
    logging.info(f"dataset.num_frames={dataset['total_frames']}")
    logging.info(f"dataset.num_episodes={dataset['total_episodes']}")
    logging.info("Start offline training on a fixed dataset")
    tick = float(os.environ.get("RT_STANDIN_TICK", "0.3"))
    every = [f for f in (cfg.log_freq, cfg.save_freq) if f > 0]
    while step < cfg.steps:
        time.sleep(tick)
        step = min([(step // f + 1) * f for f in every] + [cfg.steps])  # the next log or save step, or the last
        if cfg.log_freq > 0 and step % cfg.log_freq == 0:
            logging.info(f"step:{step} smpl:{step * cfg.batch_size} loss:0.000 (STUB: no model)")
        if cfg.save_checkpoint and (step % cfg.save_freq == 0 or step == cfg.steps):
            logging.info(f"Checkpoint policy after step {step}")
            checkpoint_dir = get_step_checkpoint_dir(cfg.output_dir, cfg.steps, step)
            save_checkpoint(checkpoint_dir, step, cfg, policy)
            update_last_checkpoint(checkpoint_dir)
    logging.info("End of training")
