"""Stub of LeRobot 0.3.3 for the sandbox's job images (model layer: lerobot pulls PyTorch's CUDA wheels, which
cannot be had here). Each module is named after lerobot's own and says what it stands in for:

- datasets/lerobot_dataset.py: the dataset writer positronic's converters call; it lays out a LeRobot v2.1
  dataset folder (meta/info.json, tasks.jsonl, episodes.jsonl, one parquet file an episode); no video encoder.
- constants.py, configs/ (types, parser, train), envs/configs.py: the names positronic's ACT trainers import;
  TrainPipelineConfig is a plain-Python stand-in of lerobot's draccus dataclass tree, since the real one
  imports torch through lerobot.optim and lerobot.datasets.transforms.
- scripts/train.py, utils/train_utils.py: lerobot's training entry `train(cfg)`, its checks and its
  checkpoint layout kept, the model and its optimiser steps replaced by a clock tick.
- configs/policies.py, policies/ (pretrained, factory, act/configuration_act, act/modeling_act),
  datasets/utils.py: the policy layer positronic's ACT server and lerobot's train() reach: the configs as
  lerobot has them, a checkpoint folder's config.json and model.safetensors read by from_pretrained, make_policy's
  features from a dataset; ACTPolicy's forward pass returns zeros of the chunk and action size declared.
"""
__version__ = "0.0.0+rt-sandbox-stub"
