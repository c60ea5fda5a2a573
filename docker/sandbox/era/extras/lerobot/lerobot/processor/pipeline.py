"""STUB of lerobot/processor/pipeline.py and converters.py (lerobot 0.4.3): the processor pipelines a SmolVLA
checkpoint carries beside its weights (policy_preprocessor.json, policy_postprocessor.json and each step's state
in `<pipeline>_step_<i>_<registry name>.safetensors`).

Kept: the registry of steps by name, the saved JSON's shape (name; steps with registry_name, config, state_file)
and its file names, from_pretrained's loading (a local folder, or a Hub repo through its cache: utils/hub.py),
overrides applied by registry name and an override matching no step refused with lerobot's KeyError, each step's
state loaded, a pipeline run as transitions (observation, action, complementary data such as `task`) with the
batch and action converters. Replaced: tensors are the torch stub's numpy arrays; no hooks, no feature contracts
(transform_features), no migration hints for pre-0.4 checkpoints.
"""
import json
import os
import re
from pathlib import Path
from typing import Any

from lerobot.utils.constants import ACTION, OBS_PREFIX
from lerobot.utils.hub import HubMixin, hf_hub_download
from lerobot.utils.safetensors import load_file, save_file

PolicyAction = Any  # torch.Tensor there


class ProcessorStepRegistry:
    _registry: dict[str, type] = {}

    @classmethod
    def register(cls, name: str | None = None):
        def decorator(step_class: type) -> type:
            registration_name = name if name is not None else step_class.__name__
            if registration_name in cls._registry:
                raise ValueError(f"Processor step '{registration_name}' is already registered.")
            cls._registry[registration_name] = step_class
            step_class._registry_name = registration_name
            return step_class
        return decorator

    @classmethod
    def get(cls, name: str) -> type:
        if name not in cls._registry:
            raise KeyError(f"Processor step '{name}' not found in registry. Available steps: {list(cls._registry)}.")
        return cls._registry[name]


class ProcessorStep:
    def __call__(self, transition: dict) -> dict:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        return None


def batch_to_transition(batch: dict[str, Any]) -> dict:
    if not isinstance(batch, dict):
        raise ValueError(f"EnvTransition must be a dictionary. Got {type(batch).__name__}")
    observation = {k: v for k, v in batch.items() if k.startswith(OBS_PREFIX)}
    complementary = {k: v for k, v in batch.items() if k in ("task", "index", "task_index", "episode_index")}
    return {"observation": observation or None, "action": batch.get(ACTION), "complementary_data": complementary}


def transition_to_batch(transition: dict) -> dict[str, Any]:
    batch = {**(transition.get("observation") or {}), **(transition.get("complementary_data") or {})}
    if transition.get("action") is not None:
        batch[ACTION] = transition["action"]
    return batch


def policy_action_to_transition(action: PolicyAction) -> dict:
    return {"observation": None, "action": action, "complementary_data": {}}


def transition_to_policy_action(transition: dict) -> PolicyAction:
    return transition["action"]


class PolicyProcessorPipeline(HubMixin):
    def __init__(self, steps=(), name: str = "DataProcessorPipeline", to_transition=batch_to_transition,
                 to_output=transition_to_batch):
        self.steps, self.name = list(steps), name
        self.to_transition, self.to_output = to_transition, to_output

    def __call__(self, data):
        transition = self.to_transition(data)
        for step in self.steps:
            transition = step(transition)
        return self.to_output(transition)

    def save_pretrained(self, save_directory, config_filename: str | None = None, **kwargs):
        Path(save_directory).mkdir(parents=True, exist_ok=True)
        self._save_pretrained(Path(save_directory), config_filename=config_filename)

    def _save_pretrained(self, save_directory: Path, **kwargs):
        config_filename = kwargs.pop("config_filename", None)
        sanitized_name = re.sub(r"[^a-zA-Z0-9_]", "_", self.name.lower())
        if config_filename is None:
            config_filename = f"{sanitized_name}.json"
        config: dict[str, Any] = {"name": self.name, "steps": []}
        for step_index, processor_step in enumerate(self.steps):
            registry_name = getattr(processor_step.__class__, "_registry_name", None)
            step_entry: dict[str, Any] = {"registry_name": registry_name, "config": processor_step.get_config()}
            state = processor_step.state_dict()
            if state:
                state_filename = f"{sanitized_name}_step_{step_index}_{registry_name}.safetensors"
                save_file(state, os.path.join(str(save_directory), state_filename))
                step_entry["state_file"] = state_filename
            config["steps"].append(step_entry)
        with open(os.path.join(str(save_directory), config_filename), "w") as file_pointer:
            json.dump(config, file_pointer, indent=2)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, config_filename: str, *, overrides=None,
                        to_transition=batch_to_transition, to_output=transition_to_batch, **kwargs):
        source = str(pretrained_model_name_or_path)
        local = Path(source).is_dir()

        def resolve(filename: str) -> str:
            if local:
                path = Path(source) / filename
                if not path.is_file():
                    raise FileNotFoundError(f"Could not find '{filename}' in {source}")
                return str(path)
            return hf_hub_download(repo_id=source, filename=filename)

        loaded = json.loads(Path(resolve(config_filename)).read_text())
        overrides = dict(overrides or {})
        steps = []
        for step_entry in loaded["steps"]:
            step_class = ProcessorStepRegistry.get(step_entry["registry_name"])
            config = {**step_entry.get("config", {}), **overrides.pop(step_entry["registry_name"], {})}
            step = step_class(**config)
            if "state_file" in step_entry:
                step.load_state_dict(load_file(resolve(step_entry["state_file"])))
            steps.append(step)
        if overrides:
            available_keys = [step.get("registry_name") for step in loaded["steps"]]
            raise KeyError(
                f"Override keys {list(overrides)} do not match any step in the saved configuration. "
                f"Available step keys: {available_keys}. "
                f"Make sure override keys match exact step class names or registry names."
            )
        return cls(steps=steps, name=loaded.get("name", "DataProcessorPipeline"), to_transition=to_transition,
                   to_output=to_output)
