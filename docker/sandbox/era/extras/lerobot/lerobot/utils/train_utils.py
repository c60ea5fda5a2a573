"""lerobot/utils/train_utils.py of lerobot 0.4.3: the checkpoint folder's names and layout, as written there
(get_step_identifier, get_step_checkpoint_dir, update_last_checkpoint, save_checkpoint, load_training_state).
STUB: no optimiser, scheduler or RNG states to hold; their files are written with stub contents (the optimizer's
param groups with the preset's values, an empty safetensors file each)."""
import dataclasses
from pathlib import Path

from lerobot.datasets.utils import load_json, write_json
from lerobot.utils.constants import (
    CHECKPOINTS_DIR,
    LAST_CHECKPOINT_LINK,
    OPTIMIZER_PARAM_GROUPS,
    OPTIMIZER_STATE,
    PRETRAINED_MODEL_DIR,
    RNG_STATE,
    SCHEDULER_STATE,
    TRAINING_STATE_DIR,
    TRAINING_STEP,
)
from lerobot.utils.safetensors import save_file


def get_step_identifier(step: int, total_steps: int) -> str:
    num_digits = max(6, len(str(total_steps)))
    return f"{step:0{num_digits}d}"


def get_step_checkpoint_dir(output_dir: Path, total_steps: int, step: int) -> Path:
    step_identifier = get_step_identifier(step, total_steps)
    return output_dir / CHECKPOINTS_DIR / step_identifier


def save_training_step(step: int, save_dir: Path) -> None:
    write_json({"step": step}, save_dir / TRAINING_STEP)


def load_training_step(save_dir: Path) -> int:
    training_step = load_json(save_dir / TRAINING_STEP)
    return training_step["step"]


def update_last_checkpoint(checkpoint_dir: Path) -> Path:
    last_checkpoint_dir = checkpoint_dir.parent / LAST_CHECKPOINT_LINK
    if last_checkpoint_dir.is_symlink():
        last_checkpoint_dir.unlink()
    relative_target = checkpoint_dir.relative_to(checkpoint_dir.parent)
    last_checkpoint_dir.symlink_to(relative_target)


def save_checkpoint(checkpoint_dir: Path, step: int, cfg, policy, optimizer=None, scheduler=None,
                    preprocessor=None, postprocessor=None) -> None:
    pretrained_dir = checkpoint_dir / PRETRAINED_MODEL_DIR
    policy.save_pretrained(pretrained_dir)
    cfg.save_pretrained(pretrained_dir)
    if preprocessor is not None:
        preprocessor.save_pretrained(pretrained_dir)
    if postprocessor is not None:
        postprocessor.save_pretrained(pretrained_dir)
    save_dir = checkpoint_dir / TRAINING_STATE_DIR
    save_dir.mkdir(parents=True, exist_ok=True)
    save_training_step(step, save_dir)
    save_file({}, save_dir / RNG_STATE)
    if optimizer is not None:
        save_file({}, save_dir / OPTIMIZER_STATE)
        write_json([{k: v for k, v in dataclasses.asdict(optimizer).items() if k != "grad_clip_norm"}],
                   save_dir / OPTIMIZER_PARAM_GROUPS)
    if scheduler is not None:
        write_json({"last_epoch": step, **dataclasses.asdict(scheduler)}, save_dir / SCHEDULER_STATE)


def load_training_state(checkpoint_dir: Path, optimizer=None, scheduler=None):
    training_state_dir = checkpoint_dir / TRAINING_STATE_DIR
    if not training_state_dir.is_dir():
        raise NotADirectoryError(training_state_dir)
    step = load_training_step(training_state_dir)
    return step, optimizer, scheduler
