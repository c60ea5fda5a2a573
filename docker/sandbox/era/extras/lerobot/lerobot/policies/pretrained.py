"""STUB of lerobot/policies/pretrained.py (lerobot 0.4.3): PreTrainedPolicy, the base class of lerobot's policies.

Kept from the real class: the `config` check in `__init__`, the `config_class`/`name` check on subclasses,
save_pretrained (the config's config.json, then model.safetensors) and `from_pretrained` as written there: the
config read with PreTrainedConfig.from_pretrained unless one is given, the policy built from it, model.safetensors
of a local folder or of a Hub repo (through its cache: utils/hub.py), then `.to(config.device)` and `.eval()`.
Replaced: the weights. The file must exist (safetensors' own message otherwise) and be a safetensors file; the
stub policies hold no parameters, so with `strict` a file holding any tensor is refused as torch's
load_state_dict refuses unexpected keys, and a saved policy writes a safetensors file holding none.
"""
import abc
import builtins
import os
from pathlib import Path
from typing import TypeVar

from torch import nn

from lerobot.configs.policies import PreTrainedConfig
from lerobot.utils.hub import HubMixin, LocalEntryNotFoundError, hf_hub_download
from lerobot.utils.safetensors import load_file, save_file

SAFETENSORS_SINGLE_FILE = "model.safetensors"  # huggingface_hub.constants.SAFETENSORS_SINGLE_FILE
T = TypeVar("T", bound="PreTrainedPolicy")


class PreTrainedPolicy(nn.Module, HubMixin, abc.ABC):
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
        self.config._save_pretrained(save_directory)
        save_file(self.state_dict(), Path(save_directory) / SAFETENSORS_SINGLE_FILE, metadata={"format": "pt"})

    @classmethod
    def from_pretrained(cls: builtins.type[T], pretrained_name_or_path: str | Path, *,
                        config: PreTrainedConfig | None = None, strict: bool = False, **kwargs) -> T:
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
        else:
            try:
                model_file = hf_hub_download(repo_id=model_id, filename=SAFETENSORS_SINGLE_FILE)
                policy = cls._load_as_safetensor(instance, model_file, config.device, strict)
            except LocalEntryNotFoundError as e:  # an HfHubHTTPError in huggingface_hub
                raise FileNotFoundError(
                    f"{SAFETENSORS_SINGLE_FILE} not found on the HuggingFace Hub in {model_id}"
                ) from e

        policy.to(config.device)
        policy.eval()
        return policy

    @classmethod
    def _load_as_safetensor(cls, model: T, model_file: str, map_location: str, strict: bool) -> T:
        if not os.path.isfile(model_file):
            raise FileNotFoundError(f'No such file or directory: "{model_file}"')
        tensors = sorted(load_file(model_file))
        if strict and tensors:  # the stub's state_dict is empty: every tensor is an unexpected key
            raise RuntimeError(f"Error(s) in loading state_dict for {model.__class__.__name__}:\n\t"
                               f"Unexpected key(s) in state_dict: {', '.join(repr(k) for k in tensors)}. ")
        return model

    @abc.abstractmethod
    def reset(self):
        """To be called whenever the environment is reset."""
        raise NotImplementedError

    @abc.abstractmethod
    def predict_action_chunk(self, batch: dict, **kwargs):
        """Returns the action chunk (for action chunking policies) for a given observation."""
        raise NotImplementedError

    @abc.abstractmethod
    def select_action(self, batch: dict, **kwargs):
        """Return one action to run in the environment (potentially in batch mode)."""
        raise NotImplementedError
