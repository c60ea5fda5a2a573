"""STUB of lerobot/configs/policies.py (lerobot 0.4.3): PreTrainedConfig without draccus.

Kept from the real class: its fields and defaults (0.4 adds use_peft and pretrained_path, and leaves
normalization_mapping to each policy), `__post_init__` (a device the machine lacks is switched to the one
auto_select_torch_device picks, with lerobot's warning: the CPU on the sandbox's torch stub), the registry of
named subclasses (`register_subclass`, `type`), the feature properties (verbatim), `from_pretrained`: a local
folder's config.json, or a Hub repo's through hf_hub_download (utils/hub.py: the local cache), "config.json not
found on the HuggingFace Hub in <repo>" when neither has it; the `type` picks the registered subclass.
Replaced: draccus's decoder and encoder (a plain JSON mapping of this file's shape: features as PolicyFeature,
normalization modes as NormalizationMode, tuples for tuple fields; a key the subclass lacks is refused, as
draccus refuses it). Not here: HubMixin's push.
"""
import abc
import builtins
import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
from lerobot.utils.constants import ACTION, OBS_STATE
from lerobot.utils.hub import HubMixin, LocalEntryNotFoundError, hf_hub_download
from lerobot.utils.utils import auto_select_torch_device, is_amp_available, is_torch_device_available

CONFIG_NAME = "config.json"  # huggingface_hub.constants.CONFIG_NAME
logger = logging.getLogger(__name__)
T = TypeVar("T", bound="PreTrainedConfig")


@dataclass
class PreTrainedConfig(HubMixin, abc.ABC):
    n_obs_steps: int = 1

    # `input_features` can be set to None/null in order to infer those values from the dataset.
    input_features: dict[str, PolicyFeature] | None = field(default_factory=dict)
    output_features: dict[str, PolicyFeature] | None = field(default_factory=dict)

    device: str | None = None  # e.g. "cuda", "cuda:0", "cpu", or "mps"
    use_amp: bool = False

    # Whether the policy employed PEFT for training.
    use_peft: bool = False

    push_to_hub: bool = True
    repo_id: str | None = None
    private: bool | None = None
    tags: list[str] | None = None
    license: str | None = None
    # Either the repo ID of a model hosted on the Hub or a path to a directory containing weights
    # saved using `Policy.save_pretrained`. If not provided, the policy is initialized from scratch.
    pretrained_path: Path | None = None

    def __post_init__(self) -> None:
        if not self.device or not is_torch_device_available(self.device):
            auto_device = auto_select_torch_device()
            logger.warning(f"Device '{self.device}' is not available. Switching to '{auto_device}'.")
            self.device = auto_device.type

        # Automatically deactivate AMP if necessary
        if self.use_amp and not is_amp_available(self.device):
            logger.warning(
                f"Automatic Mixed Precision (amp) is not available on device '{self.device}'. Deactivating AMP."
            )
            self.use_amp = False

    # draccus.ChoiceRegistry: the subclasses by the name they are registered under
    @classmethod
    def register_subclass(cls, name: str):
        def register(subclass):
            _CHOICES[name] = subclass
            return subclass
        return register

    @classmethod
    def get_choice_name(cls, subclass) -> str:
        return next(name for name, registered in _CHOICES.items() if registered is subclass)

    @property
    def type(self) -> str:
        return self.get_choice_name(self.__class__)

    @property
    @abc.abstractmethod
    def observation_delta_indices(self) -> list | None:
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def action_delta_indices(self) -> list | None:
        raise NotImplementedError

    @property
    @abc.abstractmethod
    def reward_delta_indices(self) -> list | None:
        raise NotImplementedError

    @abc.abstractmethod
    def get_optimizer_preset(self):
        raise NotImplementedError

    @abc.abstractmethod
    def get_scheduler_preset(self):
        raise NotImplementedError

    @abc.abstractmethod
    def validate_features(self) -> None:
        raise NotImplementedError

    @property
    def robot_state_feature(self) -> PolicyFeature | None:
        if not self.input_features:
            return None
        for ft_name, ft in self.input_features.items():
            if ft.type is FeatureType.STATE and ft_name == OBS_STATE:
                return ft
        return None

    @property
    def env_state_feature(self) -> PolicyFeature | None:
        if not self.input_features:
            return None
        for _, ft in self.input_features.items():
            if ft.type is FeatureType.ENV:
                return ft
        return None

    @property
    def image_features(self) -> dict[str, PolicyFeature]:
        if not self.input_features:
            return {}
        return {key: ft for key, ft in self.input_features.items() if ft.type is FeatureType.VISUAL}

    @property
    def action_feature(self) -> PolicyFeature | None:
        if not self.output_features:
            return None
        for ft_name, ft in self.output_features.items():
            if ft.type is FeatureType.ACTION and ft_name == ACTION:
                return ft
        return None

    def to_dict(self) -> dict:
        """The config as draccus encodes it: the registered `type` first, enums as their values."""
        return {"type": self.type, **{f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}}

    def _save_pretrained(self, save_directory: Path) -> None:
        with open(save_directory / CONFIG_NAME, "w") as f:
            json.dump(self.to_dict(), f, indent=4)

    @classmethod
    def from_dict(cls: builtins.type[T], values: dict) -> T:
        """A config from its JSON form, as draccus decodes it: `type` picks the subclass when `cls` is the base."""
        values = dict(values)
        name = values.pop("type", None)
        if cls is PreTrainedConfig:
            if name not in _CHOICES:
                raise ValueError(f"Couldn't find a choice class for '{name}' in PreTrainedConfig; "
                                 f"registered: {sorted(_CHOICES)}")
            cls = _CHOICES[name]
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(values) - set(fields))
        if unknown:  # draccus: "The fields ... are not valid for SmolVLAConfig"
            raise ValueError(f"The fields {unknown} are not valid for {cls.__name__}")
        for key in ("input_features", "output_features"):
            if values.get(key) is not None:
                values[key] = {n: PolicyFeature(type=FeatureType(ft["type"]), shape=tuple(ft["shape"]))
                               for n, ft in values[key].items()}
        if values.get("normalization_mapping") is not None:
            values["normalization_mapping"] = {k: NormalizationMode(v) for k, v in values["normalization_mapping"].items()}
        if values.get("pretrained_path") is not None:
            values["pretrained_path"] = Path(values["pretrained_path"])
        for key, value in values.items():
            if isinstance(value, list) and isinstance(fields[key].default, tuple):
                values[key] = tuple(value)
        return cls(**values)

    @classmethod
    def from_pretrained(cls: builtins.type[T], pretrained_name_or_path: str | Path, **policy_kwargs) -> T:
        model_id = str(pretrained_name_or_path)
        config_file: str | None = None
        if Path(model_id).is_dir():
            if CONFIG_NAME in os.listdir(model_id):
                config_file = os.path.join(model_id, CONFIG_NAME)
            else:
                logger.error(f"{CONFIG_NAME} not found in {Path(model_id).resolve()}")
        else:
            try:
                config_file = hf_hub_download(repo_id=model_id, filename=CONFIG_NAME)
            except LocalEntryNotFoundError as e:  # an HfHubHTTPError in huggingface_hub
                raise FileNotFoundError(f"{CONFIG_NAME} not found on the HuggingFace Hub in {model_id}") from e
        if config_file is None:  # draccus fails on the missing file first in the real one
            raise FileNotFoundError(f"{CONFIG_NAME} not found in {model_id}")
        with open(config_file) as f:
            config = json.load(f)
        return cls.from_dict(config)


_CHOICES: dict[str, builtins.type[PreTrainedConfig]] = {}


def plain(value):
    """A config value as draccus encodes it to JSON."""
    if isinstance(value, PolicyFeature):
        return {"type": value.type.value, "shape": list(value.shape)}
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return getattr(value, "value", value)  # enums as their value
