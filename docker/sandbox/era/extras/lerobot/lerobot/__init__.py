"""Stub of LeRobot 0.4.3 (upstream's uv.lock pins lerobot[smolvla]==0.4.3 for the extra `lerobot`) for the sandbox's
job images: the model layer under positronic's SmolVLA convert, train and server (lerobot pulls PyTorch's CUDA
wheels and transformers, which cannot be had here). Installed at /opt/rt-extras/lerobot, which the stand-in uv puts
first on the path for `--extra lerobot`; the venv's own lerobot is the 0.3.3 stub of `--extra lerobot_0_3_3`.
Each module is named after lerobot's own (src/lerobot/... at tag v0.4.3) and says what it keeps and replaces:

- datasets/: the v3.0 dataset writer and reader (meta/info.json, data/chunk-000/file-000.parquet,
  meta/episodes/chunk-000/file-000.parquet, meta/tasks.parquet, meta/stats.json), lerobot's frame checks and
  version check; videos are not encoded.
- configs/, envs/configs.py, optim/: the configs positronic's trainer builds, without draccus.
- policies/, processor/: make_policy, the processor pipelines saved beside a checkpoint and SmolVLAPolicy whose
  network returns zeros of the declared shape; no VLM, no tokenizer.
- scripts/lerobot_train.py, utils/: train(cfg) with lerobot's order and checkpoint layout, no optimiser steps.
- utils/hub.py: the Hub as its local cache (~/.cache/huggingface/hub), read as huggingface_hub reads it when the
  Hub cannot be reached; the sandbox seeds lerobot/smolvla_base there (docker/sandbox/host-cache/).
"""
__version__ = "0.4.3+rt-sandbox-stub"
