"""LeRobotDataset's writer, as positronic's converters call it (create, add_frame, save_episode,
encode_episode_videos, start_image_writer); STUB: frames of video features are counted, not encoded."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CODEBASE_VERSION = "v2.1"
CHUNKS_SIZE = 1000


class LeRobotDataset:
    def __init__(self, repo_id: str, root=None, **_):
        self.repo_id, self.root = repo_id, Path(root)
        self.info = json.loads((self.root / "meta" / "info.json").read_text())
        self.fps = self.info["fps"]
        self.tasks = [json.loads(line)["task"] for line in self._lines("tasks.jsonl")]
        self.frames: list[dict] = []

    @classmethod
    def create(cls, repo_id: str, fps: int, root=None, features=None, use_videos=True, **_) -> LeRobotDataset:
        root = Path(root)
        (root / "meta").mkdir(parents=True, exist_ok=True)
        features = {k: {**v, "dtype": "video" if use_videos and v.get("dtype") == "image" else v.get("dtype")}
                    for k, v in (features or {}).items()}
        info = {"codebase_version": CODEBASE_VERSION, "robot_type": None, "total_episodes": 0, "total_frames": 0,
                "total_tasks": 0, "total_videos": 0, "total_chunks": 0, "chunks_size": CHUNKS_SIZE, "fps": fps,
                "splits": {}, "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
                "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
                if use_videos else None, "features": features}
        (root / "meta" / "info.json").write_text(json.dumps(info, indent=4, default=_plain))
        for name in ("tasks.jsonl", "episodes.jsonl"):
            (root / "meta" / name).touch()
        return cls(repo_id, root)

    def _lines(self, name: str) -> list[str]:
        path = self.root / "meta" / name
        return path.read_text().splitlines() if path.exists() else []

    def start_image_writer(self, num_processes: int = 0, num_threads: int = 4) -> None:
        pass

    def add_frame(self, frame: dict, task: str | None = None, timestamp: float | None = None) -> None:
        self.frames.append({**frame, "task": task})

    def save_episode(self, episode_data: dict | None = None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        index = self.info["total_episodes"]
        tasks = sorted({f["task"] for f in self.frames} - set(self.tasks))
        with (self.root / "meta" / "tasks.jsonl").open("a") as f:
            for task in tasks:
                f.write(json.dumps({"task_index": len(self.tasks), "task": task}) + "\n")
                self.tasks.append(task)
        scalar = [k for k, v in self.info["features"].items() if v.get("dtype") not in ("video", "image")]
        columns = {k: [np.asarray(f[k]).tolist() for f in self.frames] for k in scalar if self.frames and k in self.frames[0]}
        columns["frame_index"] = list(range(len(self.frames)))
        columns["episode_index"] = [index] * len(self.frames)
        columns["task_index"] = [self.tasks.index(f["task"]) for f in self.frames]
        path = self.root / self.info["data_path"].format(episode_chunk=index // CHUNKS_SIZE, episode_index=index)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), path)
        with (self.root / "meta" / "episodes.jsonl").open("a") as f:
            f.write(json.dumps({"episode_index": index, "tasks": sorted({x["task"] for x in self.frames}),
                                "length": len(self.frames)}) + "\n")
        self.info.update(total_episodes=index + 1, total_frames=self.info["total_frames"] + len(self.frames),
                         total_tasks=len(self.tasks), total_chunks=index // CHUNKS_SIZE + 1)
        (self.root / "meta" / "info.json").write_text(json.dumps(self.info, indent=4))
        self.frames = []

    def encode_episode_videos(self, episode_index: int) -> None:
        pass  # STUB: no video encoder here


def _plain(value):
    return value.tolist() if hasattr(value, "tolist") else str(value)
