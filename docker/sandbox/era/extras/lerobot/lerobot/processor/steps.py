"""STUB of the processor steps SmolVLA's pipelines hold (lerobot 0.4.3: processor/rename_processor.py,
batch_processor.py, tokenizer_processor.py, device_processor.py, normalize_processor.py), under their registry
names and with their saved configs.

Kept: rename_observations_processor (keys renamed), to_batch_processor (a batch dimension added to unbatched
states, images and actions, the task wrapped in a list), device_processor (tensors moved: on the CPU-only torch
stub "cuda" fails as torch fails it), normalizer_processor and unnormalizer_processor (MEAN_STD, MIN_MAX and the
quantile modes as lerobot computes them, IDENTITY and keys without stats left alone; stats from the override or
the state file `<key>.<stat>`, an override winning over the file, saved back the same way), tokenizer_processor's checks on the task (it must be in
the complementary data and not None).
Replaced: the tokenizer (no transformers, no SmolVLM2 vocabulary here): a task's UTF-8 bytes, padded or cut to
max_length, stand in for its token ids, with the matching attention mask.
"""
from typing import Any

import numpy as np
import torch

from lerobot.configs.types import FeatureType, NormalizationMode, PolicyFeature
from lerobot.processor.pipeline import ProcessorStep, ProcessorStepRegistry
from lerobot.utils.constants import ACTION, OBS_IMAGES, OBS_LANGUAGE_ATTENTION_MASK, OBS_LANGUAGE_TOKENS, OBS_STATE


@ProcessorStepRegistry.register(name="rename_observations_processor")
class RenameObservationsProcessorStep(ProcessorStep):
    def __init__(self, rename_map: dict | None = None):
        self.rename_map = dict(rename_map or {})

    def __call__(self, transition: dict) -> dict:
        observation = {self.rename_map.get(k, k): v for k, v in (transition["observation"] or {}).items()}
        return {**transition, "observation": observation}

    def get_config(self) -> dict[str, Any]:
        return {"rename_map": self.rename_map}


@ProcessorStepRegistry.register(name="to_batch_processor")
class AddBatchDimensionProcessorStep(ProcessorStep):
    def __call__(self, transition: dict) -> dict:
        observation = dict(transition["observation"] or {})
        for key, value in observation.items():
            if key == OBS_STATE and value.dim() == 1 or key.startswith(OBS_IMAGES) and value.dim() == 3:
                observation[key] = value.unsqueeze(0)
        action = transition["action"]
        if action is not None and action.dim() == 1:
            action = action.unsqueeze(0)
        complementary = dict(transition.get("complementary_data") or {})
        if isinstance(complementary.get("task"), str):
            complementary["task"] = [complementary["task"]]
        return {**transition, "observation": observation, "action": action, "complementary_data": complementary}


@ProcessorStepRegistry.register(name="tokenizer_processor")
class TokenizerProcessorStep(ProcessorStep):
    def __init__(self, tokenizer_name: str | None = None, max_length: int = 512, task_key: str = "task",
                 padding_side: str = "right", padding: str = "max_length", truncation: bool = True):
        self.tokenizer_name, self.max_length, self.task_key = tokenizer_name, max_length, task_key
        self.padding_side, self.padding, self.truncation = padding_side, padding, truncation

    def __call__(self, transition: dict) -> dict:
        complementary_data = transition.get("complementary_data")
        if complementary_data is None:
            raise ValueError("Complementary data is None so no task can be extracted from it")
        task = complementary_data[self.task_key]
        if task is None:
            raise ValueError("Task extracted from Complementary data is None")
        tasks = [task] if isinstance(task, str) else list(task)
        tokens = np.zeros((len(tasks), self.max_length), dtype=np.int64)
        mask = np.zeros((len(tasks), self.max_length), dtype=bool)
        for row, text in enumerate(tasks):
            ids = list(text.encode())[: self.max_length]
            tokens[row, : len(ids)], mask[row, : len(ids)] = ids, True
        observation = {**(transition["observation"] or {}), OBS_LANGUAGE_TOKENS: torch.from_numpy(tokens),
                       OBS_LANGUAGE_ATTENTION_MASK: torch.from_numpy(mask)}
        return {**transition, "observation": observation}

    def get_config(self) -> dict[str, Any]:
        config = {"max_length": self.max_length, "task_key": self.task_key, "padding_side": self.padding_side,
                  "padding": self.padding, "truncation": self.truncation}
        if self.tokenizer_name is not None:
            config["tokenizer_name"] = self.tokenizer_name
        return config


@ProcessorStepRegistry.register("device_processor")
class DeviceProcessorStep(ProcessorStep):
    def __init__(self, device: str = "cpu", float_dtype: str | None = None):
        self.device, self.float_dtype = device, float_dtype

    def __call__(self, transition: dict) -> dict:
        def move(value):
            return value.to(self.device) if isinstance(value, torch.Tensor) else value

        observation = {k: move(v) for k, v in (transition["observation"] or {}).items()}
        return {**transition, "observation": observation or None, "action": move(transition["action"])}

    def get_config(self) -> dict[str, Any]:
        return {"device": self.device, "float_dtype": self.float_dtype}


class _NormalizerBase(ProcessorStep):
    def __init__(self, features: dict, norm_map: dict, stats: dict | None = None, eps: float = 1e-8,
                 normalize_observation_keys=None):
        self.features = {k: ft if isinstance(ft, PolicyFeature) else
                         PolicyFeature(type=FeatureType(ft["type"]), shape=tuple(ft["shape"]))
                         for k, ft in features.items()}
        self.norm_map = {FeatureType(k): NormalizationMode(v) for k, v in norm_map.items()}
        self.eps, self.normalize_observation_keys = eps, normalize_observation_keys
        self._stats_explicitly_provided = bool(stats)
        self._tensor_stats = {k: {s: np.asarray(v, dtype=np.float32) for s, v in d.items()}
                              for k, d in (stats or {}).items()}

    def state_dict(self) -> dict:
        return {f"{key}.{name}": value for key, stats in self._tensor_stats.items() for name, value in stats.items()}

    def load_state_dict(self, state: dict) -> None:
        if self._stats_explicitly_provided:  # stats given as an override win over the saved ones
            return
        self._tensor_stats = {}
        for flat, value in state.items():
            key, _, name = flat.rpartition(".")
            self._tensor_stats.setdefault(key, {})[name] = np.asarray(value, dtype=np.float32)

    def get_config(self) -> dict[str, Any]:
        config = {"eps": self.eps,
                  "features": {key: {"type": ft.type.value, "shape": list(ft.shape)} for key, ft in self.features.items()},
                  "norm_map": {ft_type.value: norm_mode.value for ft_type, norm_mode in self.norm_map.items()}}
        if self.normalize_observation_keys is not None:
            config["normalize_observation_keys"] = sorted(self.normalize_observation_keys)
        return config

    def _apply_transform(self, tensor, key: str, feature_type: FeatureType, *, inverse: bool = False):
        norm_mode = self.norm_map.get(feature_type, NormalizationMode.IDENTITY)
        if norm_mode == NormalizationMode.IDENTITY or key not in self._tensor_stats:
            return tensor
        stats = self._tensor_stats[key]
        if norm_mode == NormalizationMode.MEAN_STD:
            if stats.get("mean") is None or stats.get("std") is None:
                raise ValueError(
                    "MEAN_STD normalization mode requires mean and std stats, please update the dataset with the correct stats"
                )
            mean, std = stats["mean"], stats["std"]
            return tensor * std + mean if inverse else (tensor - mean) / (std + self.eps)
        low, high = {NormalizationMode.MIN_MAX: ("min", "max"), NormalizationMode.QUANTILES: ("q01", "q99"),
                     NormalizationMode.QUANTILE10: ("q10", "q90")}[norm_mode]
        span = stats[high] - stats[low]
        span = np.where(span == 0, self.eps, span)
        return (tensor + 1) / 2 * span + stats[low] if inverse else (tensor - stats[low]) / span * 2 - 1

    def _process(self, transition: dict, inverse: bool) -> dict:
        observation = dict(transition["observation"] or {})
        for key, feature in self.features.items():
            if self.normalize_observation_keys is not None and key not in self.normalize_observation_keys:
                continue
            if feature.type != FeatureType.ACTION and key in observation:
                observation[key] = self._apply_transform(observation[key], key, feature.type, inverse=inverse)
        action = transition["action"]
        if action is not None:
            action = self._apply_transform(action, ACTION, FeatureType.ACTION, inverse=inverse)
        return {**transition, "observation": observation or None, "action": action}


@ProcessorStepRegistry.register(name="normalizer_processor")
class NormalizerProcessorStep(_NormalizerBase):
    def __call__(self, transition: dict) -> dict:
        return self._process(transition, inverse=False)


@ProcessorStepRegistry.register(name="unnormalizer_processor")
class UnnormalizerProcessorStep(_NormalizerBase):
    def __call__(self, transition: dict) -> dict:
        return self._process(transition, inverse=True)
