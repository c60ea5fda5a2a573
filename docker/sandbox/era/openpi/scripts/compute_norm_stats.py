# SANDBOX STUB of openpi's scripts/compute_norm_stats.py (under positronic's vendors/openpi/stats.py, which runs
# it through `uv run --frozen --project <openpi> -- python ...` with HF_LEROBOT_HOME set).
# Real: tyro 0.9.22 parsing of its `main(config_name: str, max_frames: int | None = None)`
# (Physical-Intelligence/openpi scripts/compute_norm_stats.py, commit 15a9616), the dataset looked up as
# $HF_LEROBOT_HOME/<repo_id>, the output folder <openpi>/assets/<config_name>/<repo_id>/norm_stats.json.
# Stubbed: the statistics (a mean of 0 and a std of 1 per key), and the config table (scripts/train.py's).
import json
import os
import sys
from pathlib import Path

import tyro
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).parent))
from train import CONFIGS, REPO_ID  # noqa: E402


def main(config_name: str, max_frames: int | None = None):
    if config_name not in CONFIGS:
        raise ValueError(f"Config '{config_name}' not found.")
    dataset = Path(os.environ.get("HF_LEROBOT_HOME", "~/.cache/huggingface/lerobot")).expanduser() / REPO_ID
    info = dataset / "meta" / "info.json"
    if not info.exists():
        raise FileNotFoundError(f"no LeRobot dataset at {dataset} (meta/info.json missing)")
    for _ in tqdm(range(3), desc="Computing stats"):
        pass
    output_path = Path("assets") / config_name / REPO_ID
    output_path.mkdir(parents=True, exist_ok=True)
    stats = {"norm_stats": {key: {"mean": [0.0], "std": [1.0], "q01": [0.0], "q99": [1.0]}
                            for key in ("state", "actions")}}
    (output_path / "norm_stats.json").write_text(json.dumps(stats))
    print(f"Writing stats to: {output_path}")


if __name__ == "__main__":
    tyro.cli(main)
