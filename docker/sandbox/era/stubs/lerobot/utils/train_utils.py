"""lerobot/utils/train_utils.py of lerobot 0.3.3: the checkpoint folder's names and layout, as written there
(get_step_identifier, get_step_checkpoint_dir, update_last_checkpoint, save_checkpoint, load_training_state).
STUB: no weights, optimiser or RNG states; the files lerobot writes are there with stub contents."""
import json
import struct
from pathlib import Path

from lerobot.constants import (
    CHECKPOINTS_DIR,
    LAST_CHECKPOINT_LINK,
    PRETRAINED_MODEL_DIR,
    RNG_STATE,
    TRAINING_STATE_DIR,
    TRAINING_STEP,
)


def get_step_identifier(step: int, total_steps: int) -> str:
    num_digits = max(6, len(str(total_steps)))
    return f"{step:0{num_digits}d}"


def get_step_checkpoint_dir(output_dir: Path, total_steps: int, step: int) -> Path:
    return output_dir / CHECKPOINTS_DIR / get_step_identifier(step, total_steps)


def update_last_checkpoint(checkpoint_dir: Path) -> Path:
    last_checkpoint_dir = checkpoint_dir.parent / LAST_CHECKPOINT_LINK
    if last_checkpoint_dir.is_symlink():
        last_checkpoint_dir.unlink()
    relative_target = checkpoint_dir.relative_to(checkpoint_dir.parent)
    last_checkpoint_dir.symlink_to(relative_target)
    return last_checkpoint_dir


def save_checkpoint(checkpoint_dir: Path, step: int, cfg, policy) -> None:
    """<step>/pretrained_model/{config.json, model.safetensors, train_config.json} and
    <step>/training_state/{training_step.json, rng_state.safetensors}."""
    pretrained_dir = checkpoint_dir / PRETRAINED_MODEL_DIR
    pretrained_dir.mkdir(parents=True, exist_ok=True)
    policy._save_pretrained(pretrained_dir)  # the policy's config.json and its (empty) weights file
    cfg.save_pretrained(pretrained_dir)
    state_dir = checkpoint_dir / TRAINING_STATE_DIR
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / TRAINING_STEP).write_text(json.dumps({"step": step}, indent=4))
    _empty_safetensors(state_dir / RNG_STATE)


def load_training_state(checkpoint_dir: Path) -> int:
    """The step a checkpoint was saved at (lerobot also loads the optimiser, scheduler and RNG states)."""
    training_state_dir = checkpoint_dir / TRAINING_STATE_DIR
    if not training_state_dir.is_dir():
        raise NotADirectoryError(training_state_dir)
    return json.loads((training_state_dir / TRAINING_STEP).read_text())["step"]


def _empty_safetensors(path: Path) -> None:
    """A valid safetensors file holding no tensors (8-byte header length, then the JSON header)."""
    header = json.dumps({"__metadata__": {"format": "pt", "rt_sandbox": "stub"}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header)
