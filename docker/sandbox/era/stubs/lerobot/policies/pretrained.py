"""STUB of lerobot/policies/pretrained.py (lerobot 0.3.3): PreTrainedPolicy, the base class of lerobot's policies.

Kept from the real class: the `config` check in `__init__` and the `config_class`/`name` check on subclasses,
and `from_pretrained` as written there: the config read with PreTrainedConfig.from_pretrained (a local folder's
config.json) unless one is given, the policy built from it, the weights file `model.safetensors` of a local
folder loaded with `strict`, then `.to(config.device)` and `.eval()`.
Replaced: safetensors' loader and the Hub. The file must exist (safetensors' own message otherwise) and be a
safetensors file (8-byte little-endian header length, then the JSON header); the stub policies hold no
parameters, so with `strict` a file holding any tensor is refused as torch's load_state_dict refuses unexpected
keys. A path that is not a folder is refused as the real one refuses a repo the Hub lacks.
"""
import abc
import builtins
import json
import os
import struct
from pathlib import Path
from typing import TypeVar

from torch import nn

from lerobot.configs.policies import PreTrainedConfig

SAFETENSORS_SINGLE_FILE = "model.safetensors"  # huggingface_hub.constants.SAFETENSORS_SINGLE_FILE

T = TypeVar("T", bound="PreTrainedPolicy")


class PreTrainedPolicy(nn.Module, abc.ABC):
    """
    Base class for policy models.
    """

    config_class: None
    name: None

    def __init__(self, config: PreTrainedConfig, *inputs, **kwargs):
        super().__init__()
        if not isinstance(config, PreTrainedConfig):
            raise ValueError(
                f"Parameter config in `{self.__class__.__name__}(config)` should be an instance of class "
                "`PreTrainedConfig`. To create a model from a pretrained model use "
                f"`model = {self.__class__.__name__}.from_pretrained(PRETRAINED_MODEL_NAME)`"
            )
        self.config = config

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "config_class", None):
            raise TypeError(f"Class {cls.__name__} must define 'config_class'")
        if not getattr(cls, "name", None):
            raise TypeError(f"Class {cls.__name__} must define 'name'")

    def _save_pretrained(self, save_directory: Path) -> None:
        """The config's config.json and a safetensors file holding no tensors (the stub has no weights)."""
        self.config._save_pretrained(save_directory)
        header = json.dumps({"__metadata__": {"format": "pt", "rt_sandbox": "stub"}}).encode()
        (Path(save_directory) / SAFETENSORS_SINGLE_FILE).write_bytes(struct.pack("<Q", len(header)) + header)

    @classmethod
    def from_pretrained(
        cls: builtins.type[T],
        pretrained_name_or_path: str | Path,
        *,
        config: PreTrainedConfig | None = None,
        strict: bool = False,
        **kwargs,
    ) -> T:
        """
        The policy is set in evaluation mode by default using `policy.eval()` (dropout modules are
        deactivated). To train it, you should first set it back in training mode with `policy.train()`.
        """
        if config is None:
            config = PreTrainedConfig.from_pretrained(pretrained_name_or_path=pretrained_name_or_path, **kwargs)
        model_id = str(pretrained_name_or_path)
        instance = cls(config, **kwargs)
        if os.path.isdir(model_id):
            print("Loading weights from local directory")
            model_file = os.path.join(model_id, SAFETENSORS_SINGLE_FILE)
            policy = cls._load_as_safetensor(instance, model_file, config.device, strict)
        else:  # the real one asks the Hub; the sandbox has none
            raise FileNotFoundError(f"{SAFETENSORS_SINGLE_FILE} not found on the HuggingFace Hub in {model_id}")

        policy.to(config.device)
        policy.eval()
        return policy

    @classmethod
    def _load_as_safetensor(cls, model: T, model_file: str, map_location: str, strict: bool) -> T:
        if not os.path.isfile(model_file):
            raise FileNotFoundError(f'No such file or directory: "{model_file}"')
        with open(model_file, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
        tensors = sorted(k for k in header if k != "__metadata__")
        if strict and tensors:  # the stub's state_dict is empty: every tensor is an unexpected key
            raise RuntimeError(f"Error(s) in loading state_dict for {model.__class__.__name__}:\n\t"
                               f"Unexpected key(s) in state_dict: {', '.join(repr(k) for k in tensors)}. ")
        return model

    @abc.abstractmethod
    def reset(self):
        """To be called whenever the environment is reset.

        Does things like clearing caches.
        """
        raise NotImplementedError

    @abc.abstractmethod
    def predict_action_chunk(self, batch: dict) -> "Tensor":  # noqa: F821
        """Returns the action chunk (for action chunking policies) for a given observation, potentially in batch mode.
        """
        raise NotImplementedError

    @abc.abstractmethod
    def select_action(self, batch: dict) -> "Tensor":  # noqa: F821
        """Return one action to run in the environment (potentially in batch mode)."""
        raise NotImplementedError
