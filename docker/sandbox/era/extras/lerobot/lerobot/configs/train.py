"""STUB of lerobot/configs/train.py (lerobot 0.4.3): TrainPipelineConfig, the real dataclass's fields and defaults
and its validate() verbatim (less the --policy.path branch, which loads a policy from the command line, and
RA-BC's progress path), without draccus: to_dict() and train_config.json are this module's JSON encoding of the
same tree (the env, optimizer and scheduler sections named by their registered `type`, as draccus names a
ChoiceRegistry subclass), and from_pretrained() decodes it back (a local file or folder; a key a section's class
lacks is refused, as draccus refuses it)."""
import builtins
import dataclasses
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lerobot import envs
from lerobot.configs import parser
from lerobot.configs.default import DatasetConfig, EvalConfig, ImageTransformsConfig, PeftConfig, WandBConfig
from lerobot.configs.policies import PreTrainedConfig, plain
from lerobot.configs.types import FeatureType, PolicyFeature
from lerobot.optim import OptimizerConfig
from lerobot.optim.schedulers import LRSchedulerConfig
from lerobot.utils.hub import HubMixin

TRAIN_CONFIG_NAME = "train_config.json"


@dataclass
class TrainPipelineConfig(HubMixin):
    dataset: DatasetConfig
    env: envs.EnvConfig | None = None
    policy: PreTrainedConfig | None = None
    output_dir: Path | None = None
    job_name: str | None = None
    resume: bool = False
    seed: int | None = 1000
    num_workers: int = 4
    batch_size: int = 8
    steps: int = 100_000
    eval_freq: int = 20_000
    log_freq: int = 200
    tolerance_s: float = 1e-4
    save_checkpoint: bool = True
    # Checkpoint is saved every `save_freq` training iterations and after the last training step.
    save_freq: int = 20_000
    use_policy_training_preset: bool = True
    optimizer: OptimizerConfig | None = None
    scheduler: LRSchedulerConfig | None = None
    eval: EvalConfig = field(default_factory=EvalConfig)
    wandb: WandBConfig = field(default_factory=WandBConfig)
    peft: PeftConfig | None = None

    # RA-BC (Reward-Aligned Behavior Cloning) parameters
    use_rabc: bool = False
    rabc_progress_path: str | None = None
    rabc_kappa: float = 0.01
    rabc_epsilon: float = 1e-6
    rabc_head_mode: str | None = "sparse"

    # Rename map for the observation to override the image and state keys
    rename_map: dict[str, str] = field(default_factory=dict)
    checkpoint_path: Path | None = field(init=False, default=None)

    def validate(self) -> None:
        if parser.get_path_arg("policy"):
            raise NotImplementedError("the sandbox's lerobot stub loads no policy from the command line")
        elif self.resume:
            # The entire train config is already loaded, we just need to get the checkpoint dir
            config_path = parser.parse_arg("config_path")
            if not config_path:
                raise ValueError(
                    f"A config_path is expected when resuming a run. Please specify path to {TRAIN_CONFIG_NAME}"
                )

            if not Path(config_path).resolve().exists():
                raise NotADirectoryError(
                    f"{config_path=} is expected to be a local path. "
                    "Resuming from the hub is not supported for now."
                )

            policy_dir = Path(config_path).parent
            if self.policy is not None:
                self.policy.pretrained_path = policy_dir
            self.checkpoint_path = policy_dir.parent

        if self.policy is None:
            raise ValueError(
                "Policy is not configured. Please specify a pretrained policy with `--policy.path`."
            )

        if not self.job_name:
            if self.env is None:
                self.job_name = f"{self.policy.type}"
            else:
                self.job_name = f"{self.env.type}_{self.policy.type}"

        if not self.resume and isinstance(self.output_dir, Path) and self.output_dir.is_dir():
            raise FileExistsError(
                f"Output directory {self.output_dir} already exists and resume is {self.resume}. "
                f"Please change your output directory so that {self.output_dir} is not overwritten."
            )
        elif not self.output_dir:
            now = dt.datetime.now()
            train_dir = f"{now:%Y-%m-%d}/{now:%H-%M-%S}_{self.job_name}"
            self.output_dir = Path("outputs/train") / train_dir

        if isinstance(self.dataset.repo_id, list):
            raise NotImplementedError("LeRobotMultiDataset is not currently implemented.")

        if not self.use_policy_training_preset and (self.optimizer is None or self.scheduler is None):
            raise ValueError("Optimizer and Scheduler must be set when the policy presets are not used.")
        elif self.use_policy_training_preset and not self.resume:
            self.optimizer = self.policy.get_optimizer_preset()
            self.scheduler = self.policy.get_scheduler_preset()

        if self.policy.push_to_hub and not self.policy.repo_id:
            raise ValueError(
                "'policy.repo_id' argument missing. Please specify it to push the model to the hub."
            )

    def to_dict(self) -> dict[str, Any]:
        encoded = {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self) if f.init}
        for name in ("env", "optimizer", "scheduler"):
            value = getattr(self, name)
            if value is not None:  # draccus names a ChoiceRegistry subclass by its registered `type`
                encoded[name] = {"type": value.type, **encoded[name]}
        return encoded

    def _save_pretrained(self, save_directory: Path) -> None:
        with open(save_directory / TRAIN_CONFIG_NAME, "w") as f:
            json.dump(self.to_dict(), f, indent=4)

    @classmethod
    def from_pretrained(cls: builtins.type["TrainPipelineConfig"], pretrained_name_or_path: str | Path,
                        **kwargs: Any) -> "TrainPipelineConfig":
        model_id = str(pretrained_name_or_path)
        config_file: str | None = None
        if Path(model_id).is_dir():
            if TRAIN_CONFIG_NAME in os.listdir(model_id):
                config_file = os.path.join(model_id, TRAIN_CONFIG_NAME)
            else:
                print(f"{TRAIN_CONFIG_NAME} not found in {Path(model_id).resolve()}")
        elif Path(model_id).is_file():
            config_file = model_id
        if config_file is None:  # the real one asks the Hub next; resuming from it is refused later anyway
            raise FileNotFoundError(f"{TRAIN_CONFIG_NAME} not found on the HuggingFace Hub in {model_id}")
        return _decode(json.loads(Path(config_file).read_text()))


def _section(kind, values: dict | None, registry: dict | None = None):
    """One nested config from its JSON form: a ChoiceRegistry section's class by `type`, unknown keys refused."""
    if values is None:
        return None
    values = dict(values)
    if registry is not None:
        kind = registry[values.pop("type")]
    known = {f.name for f in dataclasses.fields(kind) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"The fields {unknown} are not valid for {kind.__name__}")
    return kind(**{k: tuple(v) if isinstance(v, list) and k == "betas" else v for k, v in values.items()})


def _decode(values: dict) -> TrainPipelineConfig:
    values = dict(values)
    known = {f.name for f in dataclasses.fields(TrainPipelineConfig) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:  # draccus: "The fields ... are not valid for TrainPipelineConfig"
        raise ValueError(f"The fields {unknown} are not valid for TrainPipelineConfig")
    dataset = dict(values["dataset"])
    dataset["image_transforms"] = ImageTransformsConfig(**{k: v for k, v in dataset.get("image_transforms", {}).items()
                                                          if k in ("enable", "max_num_transforms", "random_order")})
    values["dataset"] = DatasetConfig(**dataset)
    if values.get("env") is not None:
        env = dict(values["env"])
        env["features"] = {k: PolicyFeature(type=FeatureType(f["type"]), shape=tuple(f["shape"]))
                           for k, f in env.get("features", {}).items()}
        values["env"] = _section(None, env, envs.EnvConfig._choices)
    if values.get("policy") is not None:
        values["policy"] = PreTrainedConfig.from_dict(values["policy"])
    values["optimizer"] = _section(None, values.get("optimizer"), OptimizerConfig._choices)
    values["scheduler"] = _section(None, values.get("scheduler"), LRSchedulerConfig._choices)
    for name, kind in (("eval", EvalConfig), ("wandb", WandBConfig), ("peft", PeftConfig)):
        values[name] = _section(kind, values.get(name))
    if values.get("output_dir") is not None:
        values["output_dir"] = Path(values["output_dir"])
    return TrainPipelineConfig(**values)
