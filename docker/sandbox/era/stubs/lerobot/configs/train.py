"""STUB of lerobot/configs/train.py (lerobot 0.3.3): TrainPipelineConfig without draccus's typed tree.

The real class is a draccus dataclass whose fields (DatasetConfig, PreTrainedConfig, OptimizerConfig, ...)
import torch (lerobot.optim, lerobot.datasets.transforms), which the sandbox's images cannot hold. This one
keeps what positronic's trainers and lerobot's train() read: from_pretrained() of a train_config.json (its
sections become attribute objects, the policy section the PreTrainedConfig its `type` names, as draccus decodes
it (lerobot/configs/policies.py); a key the real class lacks is refused, as draccus refuses it), the fields
and defaults of the real dataclass, validate() as lerobot's (resume needs `--config_path=` in sys.argv, a used
output folder without resume raises FileExistsError), to_dict() and save_pretrained()."""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from lerobot import policies  # noqa: F401 (registers ACTConfig under its `type`, as lerobot's own import does)
from lerobot.configs import parser
from lerobot.configs.policies import PreTrainedConfig

TRAIN_CONFIG_NAME = "train_config.json"
# The top-level fields of the real dataclass (src/lerobot/configs/train.py at v0.3.3) and their defaults.
DEFAULTS = {"env": None, "policy": None, "output_dir": None, "job_name": None, "resume": False, "seed": 1000,
            "num_workers": 4, "batch_size": 8, "steps": 100_000, "eval_freq": 20_000, "log_freq": 200,
            "save_checkpoint": True, "save_freq": 20_000, "use_policy_training_preset": True, "optimizer": None,
            "scheduler": None, "eval": {}, "wandb": {}}
SECTIONS = ("dataset", "optimizer", "scheduler", "eval", "wandb")
WANDB_DEFAULTS = {"enable": False, "disable_artifact": False, "project": "lerobot", "entity": None, "notes": None,
                  "run_id": None, "mode": None}


class Section:
    """One nested config (DatasetConfig, ACTConfig, WandBConfig, ...): its JSON keys as attributes."""

    def __init__(self, values: dict):
        self.__dict__.update(values)

    def to_dict(self) -> dict:
        return {k: _plain(v) for k, v in vars(self).items()}


class TrainPipelineConfig:
    def __init__(self, dataset: dict, **fields):
        unknown = sorted(set(fields) - set(DEFAULTS))
        if unknown:  # draccus: "The fields ... are not valid for TrainPipelineConfig"
            raise ValueError(f"The fields {unknown} are not valid for TrainPipelineConfig")
        values = {**DEFAULTS, **fields, "dataset": dataset}
        values["wandb"] = {**WANDB_DEFAULTS, **(values["wandb"] or {})}
        if isinstance(values["policy"], dict):
            values["policy"] = PreTrainedConfig.from_dict(values["policy"])
        for name, value in values.items():
            setattr(self, name, Section(value) if name in SECTIONS and isinstance(value, dict) else value)
        self.checkpoint_path = None  # __post_init__

    @classmethod
    def from_pretrained(cls, pretrained_name_or_path: str | Path, **_) -> TrainPipelineConfig:
        path = Path(pretrained_name_or_path)
        if path.is_dir():
            path = path / TRAIN_CONFIG_NAME
        if not path.is_file():  # the real one asks the Hub next; the sandbox has none
            raise FileNotFoundError(f"{TRAIN_CONFIG_NAME} not found on the HuggingFace Hub in {pretrained_name_or_path}")
        return cls(**json.loads(path.read_text()))

    def validate(self) -> None:
        """lerobot 0.3.3's TrainPipelineConfig.validate, less the Hub and the policy's own presets' maths."""
        if parser.get_path_arg("policy"):
            raise NotImplementedError("the sandbox's lerobot stub loads no pretrained policy (--policy.path)")
        if self.resume:
            config_path = parser.parse_arg("config_path")
            if not config_path:
                raise ValueError(
                    f"A config_path is expected when resuming a run. Please specify path to {TRAIN_CONFIG_NAME}")
            if not Path(config_path).resolve().exists():
                raise NotADirectoryError(f"{config_path=} is expected to be a local path. "
                                         "Resuming from the hub is not supported for now.")
            policy_path = Path(config_path).parent
            self.policy.pretrained_path = policy_path
            self.checkpoint_path = policy_path.parent
        if not self.job_name:
            self.job_name = self.policy.type if self.env is None else f"{self.env.type}_{self.policy.type}"
        if not self.resume and isinstance(self.output_dir, Path) and self.output_dir.is_dir():
            raise FileExistsError(
                f"Output directory {self.output_dir} already exists and resume is {self.resume}. "
                f"Please change your output directory so that {self.output_dir} is not overwritten.")
        elif not self.output_dir:
            now = dt.datetime.now()
            self.output_dir = Path("outputs/train") / f"{now:%Y-%m-%d}/{now:%H-%M-%S}_{self.job_name}"
        if isinstance(self.dataset.repo_id, list):
            raise NotImplementedError("LeRobotMultiDataset is not currently implemented.")
        if not self.use_policy_training_preset and (self.optimizer is None or self.scheduler is None):
            raise ValueError("Optimizer and Scheduler must be set when the policy presets are not used.")
        if self.policy.push_to_hub and not self.policy.repo_id:
            raise ValueError("'policy.repo_id' argument missing. Please specify it to push the model to the hub.")

    def to_dict(self) -> dict:
        encoded = {k: _plain(v) for k, v in vars(self).items() if k in DEFAULTS or k == "dataset"}
        if self.env is not None:  # draccus names a ChoiceRegistry subclass by its registered `type`
            encoded["env"] = {"type": self.env.type, **encoded["env"]}
        return encoded

    def save_pretrained(self, save_directory: Path) -> None:
        os.makedirs(save_directory, exist_ok=True)
        (Path(save_directory) / TRAIN_CONFIG_NAME).write_text(json.dumps(self.to_dict(), indent=4))


def _plain(value):
    """A config value as draccus encodes it to JSON."""
    if isinstance(value, (Section, PreTrainedConfig)):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return getattr(value, "value", value)  # enums as their value
