# SANDBOX STUB of openpi's scripts/train.py (under positronic's vendors/openpi/train.py, which runs it through
# `uv run --frozen --project <openpi> -- python scripts/train.py <config> --exp-name ... [--overwrite|--resume]`).
# Real: tyro 0.9.22 parsing (openpi's lock) of a named config as openpi's `_config.cli()` does
# (tyro.extras.overridable_config_cli over the config table), with TrainConfig's scalar fields and its
# lr_schedule (Physical-Intelligence/openpi src/openpi/training/config.py, commit 15a9616); the checkpoint
# folder rules of openpi's training/checkpoints.py: <checkpoint_base_dir>/<config>/<exp_name>/<step>/,
# --overwrite wipes it, --resume continues after its last step, neither with a non-empty folder is refused;
# a save every save_interval steps and at the last; norm stats read from <assets_base_dir>/<config>/<repo_id>.
# Stubbed: the model and the data loader; the config table names only the configs positronic trains.
import dataclasses
import json
import os
import shutil
from pathlib import Path

import tyro
from rt_stub_training import run_steps

REPO_ID = "lerobot"  # positronic's stats/train link the dataset as $HF_LEROBOT_HOME/lerobot


@dataclasses.dataclass(frozen=True)
class CosineDecaySchedule:
    warmup_steps: int = 1_000
    peak_lr: float = 2.5e-5
    decay_steps: int = 30_000
    decay_lr: float = 2.5e-6


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    name: tyro.conf.Suppress[str]
    project_name: str = "openpi"
    exp_name: str = tyro.MISSING
    lr_schedule: CosineDecaySchedule = dataclasses.field(default_factory=CosineDecaySchedule)
    ema_decay: float | None = 0.99
    assets_base_dir: str = "./assets"
    checkpoint_base_dir: str = "./checkpoints"
    seed: int = 42
    batch_size: int = 32
    num_workers: int = 2
    num_train_steps: int = 30_000
    log_interval: int = 100
    save_interval: int = 1000
    keep_period: int | None = 5000
    overwrite: bool = False
    resume: bool = False
    wandb_enabled: bool = True
    fsdp_devices: int = 1


CONFIGS = {name: TrainConfig(name=name) for name in (
    "pi05_positronic", "pi05_positronic_lowmem", "pi0_positronic", "pi0_positronic_lowmem")}


def main(config: TrainConfig) -> None:
    folder = Path(config.checkpoint_base_dir) / config.name / config.exp_name
    if config.resume and config.overwrite:
        raise ValueError("Cannot resume and overwrite at the same time.")
    if folder.exists() and any(p.name.isdigit() for p in folder.iterdir()):
        if config.overwrite:
            for step_dir in (p for p in folder.iterdir() if p.name.isdigit()):
                shutil.rmtree(step_dir)
            print(f"Wiped checkpoint directory {folder}")
        elif not config.resume:
            raise FileExistsError(f"Checkpoint directory {folder} already exists. Use --overwrite or --resume "
                                  "to indicate how to handle it.")
    stats = Path(config.assets_base_dir) / config.name / REPO_ID / "norm_stats.json"
    if not stats.exists():
        raise FileNotFoundError(f"Norm stats file not found at: {stats}")
    dataset = Path(os.environ.get("HF_LEROBOT_HOME", "")) / REPO_ID / "meta" / "info.json"
    if not dataset.exists():
        raise FileNotFoundError(f"no LeRobot dataset at {dataset.parent.parent}")
    done = [int(p.name) for p in folder.glob("*") if p.name.isdigit()] if folder.exists() else []
    start = max(done, default=0) if config.resume else 0
    def save(step: int) -> None:
        saved = folder / str(step)
        (saved / "params").mkdir(parents=True, exist_ok=True)
        (saved / "params" / "_METADATA").write_text(json.dumps({"step": step, "model": "sandbox stub"}))
        (saved / "assets" / REPO_ID).mkdir(parents=True, exist_ok=True)
        shutil.copy(stats, saved / "assets" / REPO_ID / "norm_stats.json")
        (saved / "train_state").mkdir(exist_ok=True)
        (saved / "_CHECKPOINT_METADATA").write_text(json.dumps({"step": step}))

    run_steps(start, config.num_train_steps, config.save_interval, save)

if __name__ == "__main__":
    main(tyro.extras.overridable_config_cli({k: (k, v) for k, v in CONFIGS.items()}))
