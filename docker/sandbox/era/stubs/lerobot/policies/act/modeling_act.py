"""STUB of lerobot/policies/act/modeling_act.py (lerobot 0.3.3): ACTPolicy, its model replaced by zeros.

Kept from the real ACTPolicy: `config_class`/`name`, `__init__`'s `config.validate_features()` (ACT needs an
image or the environment state among its inputs), `reset()`'s action queue, `select_action` and
`predict_action_chunk`'s shape: a (batch, chunk_size, action_dim) tensor for the chunk and action size the
config declares. Replaced: the ACT network, its normalisation buffers and the backbone (no torch, no weights
here): the forward pass checks that the batch holds every input the model reads (`observation.state` when the
config has the robot state, the environment state, each image feature), each as (batch, *declared shape), and
returns zeros.
"""
from collections import deque

import numpy as np
import torch
from torch import Tensor

from lerobot.constants import OBS_ENV_STATE, OBS_STATE
from lerobot.policies.act.configuration_act import ACTConfig
from lerobot.policies.pretrained import PreTrainedPolicy


class ACTPolicy(PreTrainedPolicy):
    """
    Action Chunking Transformer Policy as per Learning Fine-Grained Bimanual Manipulation with Low-Cost
    Hardware (paper: https://huggingface.co/papers/2304.13705, code: https://github.com/tonyzhaozh/act)
    """

    config_class = ACTConfig
    name = "act"

    def __init__(
        self,
        config: ACTConfig,
        dataset_stats: dict | None = None,
    ):
        super().__init__(config)
        config.validate_features()
        self.config = config
        self.reset()

    def reset(self):
        """This should be called whenever the environment is reset."""
        self._action_queue = deque([], maxlen=self.config.n_action_steps)

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor]) -> Tensor:
        """One action a call, from the queue a chunk fills (the real one's logic without temporal ensembling)."""
        self.eval()
        if len(self._action_queue) == 0:
            actions = self.predict_action_chunk(batch)[:, : self.config.n_action_steps]
            self._action_queue.extend(actions[:, i] for i in range(actions.shape[1]))
        return self._action_queue.popleft()

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor]) -> Tensor:
        """Predict a chunk of actions given environment observations."""
        self.eval()
        read = dict(self.config.image_features)
        if self.config.robot_state_feature:
            read[OBS_STATE] = self.config.robot_state_feature
        if self.config.env_state_feature:
            read[OBS_ENV_STATE] = self.config.env_state_feature
        batch_size = None
        for key, feature in read.items():
            if key not in batch:
                raise KeyError(key)
            shape = tuple(batch[key].shape)
            if shape[1:] != tuple(feature.shape) or (batch_size is not None and shape[0] != batch_size):
                raise RuntimeError(f"{key}: expected a batch of {tuple(feature.shape)}, got {shape}")
            batch_size = shape[0]
        action_dim = self.config.action_feature.shape[0]
        return torch.from_numpy(np.zeros((batch_size, self.config.chunk_size, action_dim), dtype=np.float32))
