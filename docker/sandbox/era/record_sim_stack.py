"""A small recording of the simulated cube-stacking task, in the layout the runbook era's dataset configs read
from s3://raw/sim-cubes/luzan/ (positronic/cfg/phail.py `legacy_sim_raw`, the signals its `old_to_new`
transform names), written by upstream's own LocalDatasetWriter. The sandbox puts it in its S3 once: the
team's recordings are its own data, and this stands for them (2 episodes of 2 s at 15 fps, 64x64 video).

    python record_sim_stack.py OUTPUT_DIR
"""
import sys
from pathlib import Path

import numpy as np
from positronic.dataset.local_dataset import LocalDatasetWriter

FPS, SECONDS, EPISODES, SIZE = 15, 2, 2, 64


def _pose(t: float) -> tuple[np.ndarray, np.ndarray]:
    return np.array([0.4 + 0.05 * t, 0.0, 0.3 - 0.05 * t]), np.array([0.0, 1.0, 0.0, 0.0])


def main(out: Path) -> None:
    rng = np.random.default_rng(7)
    with LocalDatasetWriter(out) as dataset:
        for _ in range(EPISODES):
            with dataset.new_episode() as episode:
                for i in range(FPS * SECONDS):
                    ts, t = 1_000_000_000 + i * 1_000_000_000 // FPS, i / (FPS * SECONDS)
                    translation, quaternion = _pose(t)
                    target_translation, target_quaternion = _pose(t + 1 / (FPS * SECONDS))
                    signals = {
                        "right_controller_translation": target_translation, "right_controller_quaternion": target_quaternion,
                        "target_robot_position_translation": target_translation,
                        "target_robot_position_quaternion": target_quaternion,
                        "robot_position_translation": translation, "robot_position_quaternion": quaternion,
                        "robot_joints": np.linspace(-1, 1, 7) * t, "robot_joints_velocity": np.full(7, 0.1),
                        "grip": float(t > 0.5), "target_grip": float(t > 0.4),
                        "image.handcam_left": rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8),
                        "image.back_view": rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8),
                    }
                    for name, value in signals.items():
                        episode.append(name, value, ts)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
