"""STUB of lerobot/configs/policies.py (lerobot 0.3.3): PreTrainedConfig without draccus and the Hub.

Kept from the real class: its fields and defaults, `__post_init__` (a device the machine lacks is switched to
the one auto_select_torch_device picks, with lerobot's warning; on the sandbox's torch stub that is the CPU),
the registry of named subclasses (`register_subclass`, `type`), the feature properties (robot_state_feature,
env_state_feature, image_features, action_feature, verbatim) and `from_pretrained` reading `config.json` from a
local folder, its `type` choosing the registered subclass (`act`), as draccus decodes it: the features as
PolicyFeature, the normalization modes as NormalizationMode; a key the subclass lacks is refused.
Replaced: draccus's parser (a plain JSON decoder of this file's shape) and the Hub: a path that is not a folder
is refused with the message the real one gives when the Hub has no such repo; a folder without config.json is
refused after lerobot's own print (the real one goes on to hand draccus no config file; its error is not
reproduced). Not here: the
optimizer and scheduler presets (lerobot.optim imports torch's optimisers), HubMixin's push.
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
from lerobot.constants import ACTION, OBS_STATE
from lerobot.utils.utils import auto_select_torch_device, is_amp_available, is_torch_device_available

CONFIG_NAME = "config.json"  # huggingface_hub.constants.CONFIG_NAME

T = TypeVar("T", bound="PreTrainedConfig")


@dataclass
class PreTrainedConfig(abc.ABC):
    """
    Base configuration class for policy models.
    """

    n_obs_steps: int = 1
    normalization_mapping: dict[str, NormalizationMode] = field(default_factory=dict)

    input_features: dict[str, PolicyFeature] = field(default_factory=dict)
    output_features: dict[str, PolicyFeature] = field(default_factory=dict)

    device: str | None = None  # cuda | cpu | mp
    # `use_amp` determines whether to use Automatic Mixed Precision (AMP) for training and evaluation. With AMP,
    # automatic gradient scaling is used.
    use_amp: bool = False

    push_to_hub: bool = True
    repo_id: str | None = None

    # Upload on private repository on the Hugging Face hub.
    private: bool | None = None
    # Add tags to your policy on the hub.
    tags: list[str] | None = None
    # Add tags to your policy on the hub.
    license: str | None = None

    def __post_init__(self):
        self.pretrained_path = None
        if not self.device or not is_torch_device_available(self.device):
            auto_device = auto_select_torch_device()
            logging.warning(f"Device '{self.device}' is not available. Switching to '{auto_device}'.")
            self.device = auto_device.type

        # Automatically deactivate AMP if necessary
        if self.use_amp and not is_amp_available(self.device):
            logging.warning(
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
    def validate_features(self) -> None:
        raise NotImplementedError

    @property
    def robot_state_feature(self) -> PolicyFeature | None:
        for ft_name, ft in self.input_features.items():
            if ft.type is FeatureType.STATE and ft_name == OBS_STATE:
                return ft
        return None

    @property
    def env_state_feature(self) -> PolicyFeature | None:
        for _, ft in self.input_features.items():
            if ft.type is FeatureType.ENV:
                return ft
        return None

    @property
    def image_features(self) -> dict[str, PolicyFeature]:
        return {key: ft for key, ft in self.input_features.items() if ft.type is FeatureType.VISUAL}

    @property
    def action_feature(self) -> PolicyFeature | None:
        for ft_name, ft in self.output_features.items():
            if ft.type is FeatureType.ACTION and ft_name == ACTION:
                return ft
        return None

    def to_dict(self) -> dict:
        """The config as draccus dumps it to JSON: the registered `type` first, enums as their values."""
        return {"type": self.type, **{f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}}

    def _save_pretrained(self, save_directory: Path) -> None:
        with open(Path(save_directory) / CONFIG_NAME, "w") as f:
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
        known = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(values) - known)
        if unknown:  # draccus: "The fields ... are not valid for ACTConfig"
            raise ValueError(f"The fields {unknown} are not valid for {cls.__name__}")
        for key in ("input_features", "output_features"):
            if key in values:
                values[key] = {name: PolicyFeature(type=FeatureType(ft["type"]), shape=tuple(ft["shape"]))
                               for name, ft in (values[key] or {}).items()}
        if "normalization_mapping" in values:
            values["normalization_mapping"] = {k: NormalizationMode(v)
                                               for k, v in (values["normalization_mapping"] or {}).items()}
        return cls(**values)

    @classmethod
    def from_pretrained(cls: builtins.type[T], pretrained_name_or_path: str | Path, **policy_kwargs) -> T:
        model_id = str(pretrained_name_or_path)
        config_file: str | None = None
        if Path(model_id).is_dir():
            if CONFIG_NAME in os.listdir(model_id):
                config_file = os.path.join(model_id, CONFIG_NAME)
            else:
                print(f"{CONFIG_NAME} not found in {Path(model_id).resolve()}")
        else:  # the real one asks the Hub for a repo of that name; the sandbox has no Hub
            raise FileNotFoundError(f"{CONFIG_NAME} not found on the HuggingFace Hub in {model_id}")
        if config_file is None:
            raise FileNotFoundError(f"{CONFIG_NAME} not found in {Path(model_id).resolve()}")
        with open(config_file) as f:
            return cls.from_dict(json.load(f))


_CHOICES: dict[str, builtins.type[PreTrainedConfig]] = {}


def _plain(value):
    if isinstance(value, PolicyFeature):
        return {"type": value.type.value, "shape": list(value.shape)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return getattr(value, "value", value)  # enums as their value
