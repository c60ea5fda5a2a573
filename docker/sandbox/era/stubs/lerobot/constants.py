"""lerobot/constants.py of lerobot 0.3.3, the keys and file names (src/lerobot/constants.py at v0.3.3).
STUB only in that HF_LEROBOT_HOME is read from the environment without huggingface_hub."""
import os
from pathlib import Path

OBS_ENV_STATE = "observation.environment_state"
OBS_STATE = "observation.state"
OBS_IMAGE = "observation.image"
OBS_IMAGES = "observation.images"
ACTION = "action"
REWARD = "next.reward"

# files & directories
CHECKPOINTS_DIR = "checkpoints"
LAST_CHECKPOINT_LINK = "last"
PRETRAINED_MODEL_DIR = "pretrained_model"
TRAINING_STATE_DIR = "training_state"
RNG_STATE = "rng_state.safetensors"
TRAINING_STEP = "training_step.json"
OPTIMIZER_STATE = "optimizer_state.safetensors"
OPTIMIZER_PARAM_GROUPS = "optimizer_param_groups.json"
SCHEDULER_STATE = "scheduler_state.json"

if "LEROBOT_HOME" in os.environ:
    raise ValueError(
        f"You have a 'LEROBOT_HOME' environment variable set to '{os.getenv('LEROBOT_HOME')}'.\n"
        "'LEROBOT_HOME' is deprecated, please use 'HF_LEROBOT_HOME' instead."
    )
HF_LEROBOT_HOME = Path(os.getenv("HF_LEROBOT_HOME", Path(os.getenv("HF_HOME", "~/.cache/huggingface")) / "lerobot"))
HF_LEROBOT_HOME = HF_LEROBOT_HOME.expanduser()
