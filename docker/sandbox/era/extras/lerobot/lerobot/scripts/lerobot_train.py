"""STUB of lerobot/scripts/lerobot_train.py (lerobot 0.4.3): `train(cfg)` as positronic's SmolVLA trainer calls
it, lerobot's own order and checks kept, the model's optimisation replaced by a clock tick.

Kept from the real train(): cfg.validate() (the policy's optimizer and scheduler presets, a used output folder
refused); the config logged; make_dataset (the v3.0 metadata, lerobot's version check, the data files, the
delta timestamps checked against the fps within tolerance_s); make_policy (the dataset's features, a pretrained
path loaded through from_pretrained, the cameras checked); the pre/post processors made with the dataset's
stats (a pretrained path's pipelines loaded with lerobot's overrides: the device, the normalizer's stats and
features, the rename map); with resume, the step read back from the checkpoint; lerobot's log lines; a
checkpoint every save_freq steps and at the last one, `checkpoints/<step zero-padded to max(6, len(steps))>/`
with pretrained_model/ (config.json, model.safetensors, train_config.json, the two processor JSONs and the
normalizer's stats) and training_state/, and the `last` symlink.
Replaced: accelerate (one process on the CPU-only torch stub), the data loader, the optimiser and the model's
forward and backward pass: one tick of RT_STANDIN_TICK seconds (default 0.3) per log_freq or save_freq steps,
whichever comes first, as the sandbox's other model stubs do. No W&B, no evaluation, no Hub push.
"""
import logging
import os
import time
from pprint import pformat

from termcolor import colored

from lerobot.configs import parser
from lerobot.configs.train import TrainPipelineConfig
from lerobot.datasets.factory import make_dataset
from lerobot.policies.factory import make_policy, make_pre_post_processors
from lerobot.utils.train_utils import (
    get_step_checkpoint_dir,
    load_training_state,
    save_checkpoint,
    update_last_checkpoint,
)
from lerobot.utils.utils import format_big_number, init_logging


@parser.wrap()
def train(cfg: TrainPipelineConfig, accelerator=None):
    cfg.validate()
    init_logging()
    logging.info(pformat(cfg.to_dict()))
    if cfg.wandb.enable and cfg.wandb.project:
        logging.info("STUB: W&B logging is not run in the sandbox")
    else:
        logging.info(colored("Logs will be saved locally.", "yellow", attrs=["bold"]))
    device_type = "cpu"  # accelerate's device on the CPU-only torch stub

    logging.info("Creating dataset")
    dataset = make_dataset(cfg)
    logging.info("Creating policy")
    policy = make_policy(cfg=cfg.policy, ds_meta=dataset.meta, rename_map=cfg.rename_map)

    processor_kwargs = {}
    postprocessor_kwargs = {}
    if (cfg.policy.pretrained_path and not cfg.resume) or not cfg.policy.pretrained_path:
        # Only provide dataset_stats when not resuming from saved processor state
        processor_kwargs["dataset_stats"] = dataset.meta.stats
    if cfg.policy.pretrained_path is not None:
        processor_kwargs["preprocessor_overrides"] = {
            "device_processor": {"device": device_type},
            "normalizer_processor": {
                "stats": dataset.meta.stats,
                "features": {**policy.config.input_features, **policy.config.output_features},
                "norm_map": policy.config.normalization_mapping,
            },
        }
        processor_kwargs["preprocessor_overrides"]["rename_observations_processor"] = {
            "rename_map": cfg.rename_map
        }
        postprocessor_kwargs["postprocessor_overrides"] = {
            "unnormalizer_processor": {
                "stats": dataset.meta.stats,
                "features": policy.config.output_features,
                "norm_map": policy.config.normalization_mapping,
            },
        }
    preprocessor, postprocessor = make_pre_post_processors(
        policy_cfg=cfg.policy,
        pretrained_path=cfg.policy.pretrained_path,
        **processor_kwargs,
        **postprocessor_kwargs,
    )
    logging.info("Creating optimizer and scheduler")

    step = 0  # number of policy updates (forward + backward + optim)
    if cfg.resume:
        step, _, _ = load_training_state(cfg.checkpoint_path)

    logging.info(colored("Output dir:", "yellow", attrs=["bold"]) + f" {cfg.output_dir}")
    logging.info(f"{cfg.steps=} ({format_big_number(cfg.steps)})")
    logging.info(f"{dataset.num_frames=} ({format_big_number(dataset.num_frames)})")
    logging.info(f"{dataset.num_episodes=}")
    logging.info(f"Effective batch size: {cfg.batch_size} x 1 = {cfg.batch_size}")
    logging.info(f"Start offline training on a fixed dataset, with effective batch size: {cfg.batch_size}")

    tick = float(os.environ.get("RT_STANDIN_TICK", "0.3"))
    every = [f for f in (cfg.log_freq, cfg.save_freq) if f > 0]
    while step < cfg.steps:
        time.sleep(tick)
        step = min([(step // f + 1) * f for f in every] + [cfg.steps])  # the next log or save step, or the last
        if cfg.log_freq > 0 and step % cfg.log_freq == 0:
            logging.info(f"step:{format_big_number(step)} smpl:{format_big_number(step * cfg.batch_size)} "
                         "loss:0.000 (STUB: no model)")
        if cfg.save_checkpoint and (step % cfg.save_freq == 0 or step == cfg.steps):
            logging.info(f"Checkpoint policy after step {step}")
            checkpoint_dir = get_step_checkpoint_dir(cfg.output_dir, cfg.steps, step)
            save_checkpoint(checkpoint_dir=checkpoint_dir, step=step, cfg=cfg, policy=policy,
                            optimizer=cfg.optimizer, scheduler=cfg.scheduler, preprocessor=preprocessor,
                            postprocessor=postprocessor)
            update_last_checkpoint(checkpoint_dir)
    logging.info("End of training")
