"""STUB of lerobot/policies/smolvla/modeling_smolvla.py (lerobot 0.4.3): SmolVLAPolicy, its network replaced by
zeros.

Kept from the real SmolVLAPolicy: `config_class`/`name`, `__init__`'s `config.validate_features()` (the empty
cameras become inputs), `reset()`'s action queue, select_action (one action a call from a queue that a chunk of
n_action_steps fills) and predict_action_chunk, and what the model reads from the batch, checked as
prepare_images, prepare_state and the language inputs read it: at least one declared image present ("All image
features are missing from the batch", verbatim), `observation.state` and the tokenizer's
`observation.language.tokens` and `.attention_mask` (a KeyError without them, as there), each with the batch's
size. Replaced: VLAFlowMatching (SmolVLM2's vision encoder and the action expert: no transformers, no weights, no
SmolVLM2 config read from the Hub cache): the chunk is zeros of (batch, chunk_size, the declared action size),
so after the postprocessor's unnormalizer an action is the dataset's mean action.
"""
from collections import deque

import numpy as np
import torch
from torch import Tensor

from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
from lerobot.policies.utils import populate_queues
from lerobot.utils.constants import ACTION, OBS_LANGUAGE_ATTENTION_MASK, OBS_LANGUAGE_TOKENS, OBS_STATE


class SmolVLAPolicy(PreTrainedPolicy):
    """Wrapper class around VLAFlowMatching model to train and run inference within LeRobot."""

    config_class = SmolVLAConfig
    name = "smolvla"

    def __init__(self, config: SmolVLAConfig, **kwargs):
        super().__init__(config)
        config.validate_features()
        self.config = config
        self.rtc_processor = None
        self.reset()

    def reset(self):
        """This should be called whenever the environment is reset."""
        self._queues = {
            ACTION: deque(maxlen=self.config.n_action_steps),
        }

    def _get_action_chunk(self, batch: dict[str, Tensor], noise: Tensor | None = None, **kwargs) -> Tensor:
        images = self.prepare_images(batch)
        state = batch[OBS_STATE]
        lang_tokens = batch[f"{OBS_LANGUAGE_TOKENS}"]
        lang_masks = batch[f"{OBS_LANGUAGE_ATTENTION_MASK}"]
        sizes = {len(t) for t in [*images, state, lang_tokens, lang_masks]}
        if len(sizes) != 1:
            raise RuntimeError(f"the batch's inputs differ in size: {sorted(sizes)}")
        original_action_dim = self.config.action_feature.shape[0]
        return torch.from_numpy(np.zeros((sizes.pop(), self.config.chunk_size, original_action_dim), dtype=np.float32))

    @torch.no_grad()
    def predict_action_chunk(self, batch: dict[str, Tensor], noise: Tensor | None = None, **kwargs) -> Tensor:
        self.eval()
        self._queues = populate_queues(self._queues, batch, exclude_keys=[ACTION])
        return self._get_action_chunk(batch, noise, **kwargs)

    @torch.no_grad()
    def select_action(self, batch: dict[str, Tensor], noise: Tensor | None = None, **kwargs) -> Tensor:
        self.eval()
        self._queues = populate_queues(self._queues, batch, exclude_keys=[ACTION])
        if len(self._queues[ACTION]) == 0:
            actions = self._get_action_chunk(batch, noise)
            # (batch_size, n_action_steps, action_dim) -> a queue of (batch_size, action_dim)
            self._queues[ACTION].extend(actions[:, i] for i in range(self.config.n_action_steps))
        return self._queues[ACTION].popleft()

    def prepare_images(self, batch):
        present_img_keys = [key for key in self.config.image_features if key in batch]
        if len(present_img_keys) == 0:
            raise ValueError(
                f"All image features are missing from the batch. At least one expected. (batch: {batch.keys()}) (image_features:{self.config.image_features})"
            )
        return [batch[key] for key in present_img_keys]
