"""Stub of LeRobot for the sandbox's job images (model layer: lerobot pulls PyTorch's CUDA wheels, which cannot
be had here). Only the dataset writer positronic's converters call, at lerobot's own API
(lerobot/datasets/lerobot_dataset.py, 0.3.3): it lays out a LeRobot v2.1 dataset folder, meta/info.json,
meta/tasks.jsonl, meta/episodes.jsonl and one parquet file an episode; the video encoder is not run."""
__version__ = "0.0.0+rt-sandbox-stub"
