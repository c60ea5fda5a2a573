"""STUB of lerobot/datasets/lerobot_dataset.py (lerobot 0.4.3): LeRobotDatasetMetadata and LeRobotDataset as
positronic's SmolVLA converter writes a dataset and lerobot's train() reads it back.

Kept, in lerobot's order: create() (the folder must not exist yet: mkdir(exist_ok=False); the default features
added, names with '/' refused, an unknown vcodec refused), add_frame() (validate_frame: the `task` and every
feature present, dtype and shape checked, numpy only), save_episode() (validate_episode_buffer, the tasks,
per-episode stats, the frames appended to data/chunk-000/file-000.parquet, a row for the episode in
meta/episodes/chunk-000/file-000.parquet with its indices and flattened stats, meta/info.json's totals and
splits, meta/stats.json aggregated, meta/tasks.parquet), finalize() (closes the parquet writers: without it the
files have no footer), appending to an existing dataset (a new file after the last one), and on reading the
v3.0 metadata, the codebase version check (a v2.1 dataset is refused with lerobot's BackwardCompatibilityError),
the data files and check_delta_timestamps.
Replaced: videos are not encoded (no videos/*.mp4; the episode rows still carry the videos/<key>/ indices), images
stay in memory instead of PNGs, frames are not served to a model (no __getitem__; the stub trains none), the
Hub: a folder without a dataset fails here, where lerobot would ask the Hub for the repo's files next.
"""
import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lerobot.datasets.backward_compatibility import BackwardCompatibilityError, ForwardCompatibilityError
from lerobot.datasets.compute_stats import aggregate_stats, compute_episode_stats
from lerobot.datasets.utils import (
    DEFAULT_EPISODES_PATH,
    DEFAULT_FEATURES,
    INFO_PATH,
    _validate_feature_names,
    check_delta_timestamps,
    create_empty_dataset_info,
    flatten_dict,
    get_delta_indices,
    hf_arrow_type,
    load_episodes,
    load_info,
    load_stats,
    load_tasks,
    update_chunk_file_indices,
    validate_episode_buffer,
    validate_frame,
    write_info,
    write_json,
    write_stats,
    write_tasks,
)
from lerobot.utils.constants import HF_LEROBOT_HOME

CODEBASE_VERSION = "v3.0"
VALID_VIDEO_CODECS = {"h264", "hevc", "libsvtav1"}


class Version(tuple):
    """packaging.version.Version's major, minor and str() for "v3.0"-style codebase versions."""

    def __new__(cls, text: str):
        return super().__new__(cls, (int(p) for p in text.lstrip("v").split(".")[:2]))

    major = property(lambda self: self[0])
    minor = property(lambda self: self[1])

    def __str__(self) -> str:
        return f"{self[0]}.{self[1]}"


def check_version_compatibility(repo_id: str, version_to_check: str, current_version: str) -> None:
    v_check, v_current = Version(version_to_check), Version(current_version)
    if v_check.major < v_current.major:
        raise BackwardCompatibilityError(repo_id, v_check)
    elif v_check.minor < v_current.minor:
        logging.warning(ForwardCompatibilityError(repo_id, v_check))


class LeRobotDatasetMetadata:
    def __init__(self, repo_id: str, root=None, revision=None, force_cache_sync: bool = False,
                 metadata_buffer_size: int = 10):
        self.repo_id = repo_id
        self.revision = revision if revision else CODEBASE_VERSION
        self.root = Path(root) if root is not None else HF_LEROBOT_HOME / repo_id
        self.writer = None
        self.latest_episode = None
        self.metadata_buffer: list[dict] = []
        self.metadata_buffer_size = metadata_buffer_size
        if not (self.root / INFO_PATH).is_file():  # lerobot pulls meta/ from the Hub here; there is none
            raise FileNotFoundError(f"No LeRobot dataset at {self.root} ({INFO_PATH} missing), and the sandbox "
                                    f"has no Hub to pull '{repo_id}' from")
        self.load_metadata()

    def load_metadata(self):
        self.info = load_info(self.root)
        check_version_compatibility(self.repo_id, self.info["codebase_version"], CODEBASE_VERSION)
        self.tasks = load_tasks(self.root)
        self.episodes = load_episodes(self.root)
        self.stats = load_stats(self.root)

    fps = property(lambda self: self.info["fps"])
    features = property(lambda self: self.info["features"])
    data_path = property(lambda self: self.info["data_path"])
    video_path = property(lambda self: self.info["video_path"])
    total_episodes = property(lambda self: self.info["total_episodes"])
    total_frames = property(lambda self: self.info["total_frames"])
    total_tasks = property(lambda self: self.info["total_tasks"])
    chunks_size = property(lambda self: self.info["chunks_size"])
    data_files_size_in_mb = property(lambda self: self.info["data_files_size_in_mb"])
    image_keys = property(lambda self: [k for k, ft in self.features.items() if ft["dtype"] == "image"])
    video_keys = property(lambda self: [k for k, ft in self.features.items() if ft["dtype"] == "video"])
    camera_keys = property(lambda self: [k for k, ft in self.features.items() if ft["dtype"] in ["video", "image"]])

    def get_task_index(self, task: str) -> int | None:
        return self.tasks.get(task) if self.tasks is not None else None

    def save_episode_tasks(self, tasks: list[str]):
        if len(set(tasks)) != len(tasks):
            raise ValueError(f"Tasks are not unique: {tasks}")
        self.tasks = dict(self.tasks or {})
        new_tasks = [task for task in tasks if task not in self.tasks]
        for task in new_tasks:
            self.tasks[task] = len(self.tasks)
        if len(new_tasks) > 0:
            write_tasks(self.tasks, self.root)

    def _flush_metadata_buffer(self) -> None:
        if not self.metadata_buffer:
            return
        columns = {key: [v.tolist() if isinstance(v, np.ndarray) else v for v in (ep[key] for ep in self.metadata_buffer)]
                   for key in self.metadata_buffer[0]}
        table = pa.Table.from_pydict(columns)
        if not self.writer:
            first = self.metadata_buffer[0]
            path = self.root / DEFAULT_EPISODES_PATH.format(chunk_index=first["meta/episodes/chunk_index"],
                                                            file_index=first["meta/episodes/file_index"])
            path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(path, schema=table.schema, compression="snappy", use_dictionary=True)
        self.writer.write_table(table)
        self.metadata_buffer.clear()

    def _close_writer(self) -> None:
        self._flush_metadata_buffer()
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def save_episode(self, episode_index: int, episode_length: int, episode_tasks: list[str], episode_stats: dict,
                     episode_metadata: dict) -> None:
        episode = {"episode_index": episode_index, "tasks": episode_tasks, "length": episode_length,
                   **episode_metadata, **flatten_dict({"stats": episode_stats})}
        if self.latest_episode is None:
            chunk_idx, file_idx = 0, 0
            if self.episodes:  # appending: the next file after the dataset's last one
                last = self.episodes[-1]
                chunk_idx, file_idx = update_chunk_file_indices(
                    last["meta/episodes/chunk_index"], last["meta/episodes/file_index"], self.chunks_size)
        else:
            chunk_idx = self.latest_episode["meta/episodes/chunk_index"]
            file_idx = self.latest_episode["meta/episodes/file_index"]
        episode["meta/episodes/chunk_index"], episode["meta/episodes/file_index"] = chunk_idx, file_idx
        self.metadata_buffer.append(episode)
        self.latest_episode = episode
        if len(self.metadata_buffer) >= self.metadata_buffer_size:
            self._flush_metadata_buffer()

        self.info["total_episodes"] += 1
        self.info["total_frames"] += episode_length
        self.info["total_tasks"] = len(self.tasks)
        self.info["splits"] = {"train": f"0:{self.info['total_episodes']}"}
        write_info(self.info, self.root)
        self.stats = aggregate_stats([self.stats, episode_stats]) if self.stats is not None else episode_stats
        write_stats(self.stats, self.root)

    @classmethod
    def create(cls, repo_id: str, fps: int, features: dict, robot_type=None, root=None, use_videos: bool = True,
               metadata_buffer_size: int = 10, chunks_size=None, data_files_size_in_mb=None,
               video_files_size_in_mb=None) -> "LeRobotDatasetMetadata":
        obj = cls.__new__(cls)
        obj.repo_id = repo_id
        obj.root = Path(root) if root is not None else HF_LEROBOT_HOME / repo_id
        obj.root.mkdir(parents=True, exist_ok=False)
        features = {**features, **DEFAULT_FEATURES}
        _validate_feature_names(features)
        obj.tasks = obj.episodes = obj.stats = None
        obj.info = create_empty_dataset_info(CODEBASE_VERSION, fps, features, use_videos, robot_type, chunks_size,
                                             data_files_size_in_mb, video_files_size_in_mb)
        if len(obj.video_keys) > 0 and not use_videos:
            raise ValueError()
        write_json(obj.info, obj.root / INFO_PATH)
        obj.revision = None
        obj.writer = None
        obj.latest_episode = None
        obj.metadata_buffer = []
        obj.metadata_buffer_size = metadata_buffer_size
        return obj


class LeRobotDataset:
    def __init__(self, repo_id: str, root=None, episodes=None, image_transforms=None, delta_timestamps=None,
                 tolerance_s: float = 1e-4, revision=None, force_cache_sync: bool = False, download_videos=True,
                 video_backend=None, batch_encoding_size: int = 1, vcodec: str = "libsvtav1"):
        self.repo_id = repo_id
        self.root = Path(root) if root else HF_LEROBOT_HOME / repo_id
        self.delta_timestamps, self.episodes, self.tolerance_s = delta_timestamps, episodes, tolerance_s
        self.image_writer = None
        self.episode_buffer = None
        self.writer = None
        self.latest_episode = None
        self.root.mkdir(exist_ok=True, parents=True)
        self.meta = LeRobotDatasetMetadata(self.repo_id, self.root, revision, force_cache_sync=force_cache_sync)
        self.num_frames = sum(pq.read_metadata(p).num_rows for p in sorted((self.root / "data").glob("*/*.parquet")))
        if self.num_frames != self.meta.total_frames:  # lerobot downloads the data files from the Hub here
            raise FileNotFoundError(f"{self.root / 'data'} holds {self.num_frames} frames, meta/info.json "
                                    f"{self.meta.total_frames}, and the sandbox has no Hub to pull them from")
        self.delta_indices = None
        if self.delta_timestamps is not None:
            check_delta_timestamps(self.delta_timestamps, self.fps, self.tolerance_s)
            self.delta_indices = get_delta_indices(self.delta_timestamps, self.fps)

    fps = property(lambda self: self.meta.fps)
    features = property(lambda self: self.meta.features)
    num_episodes = property(lambda self: self.meta.total_episodes if self.episodes is None else len(self.episodes))

    @classmethod
    def create(cls, repo_id: str, fps: int, features: dict, root=None, robot_type=None, use_videos: bool = True,
               tolerance_s: float = 1e-4, image_writer_processes: int = 0, image_writer_threads: int = 0,
               video_backend=None, batch_encoding_size: int = 1, vcodec: str = "libsvtav1") -> "LeRobotDataset":
        if vcodec not in VALID_VIDEO_CODECS:
            raise ValueError(f"Invalid vcodec '{vcodec}'. Must be one of: {sorted(VALID_VIDEO_CODECS)}")
        obj = cls.__new__(cls)
        obj.meta = LeRobotDatasetMetadata.create(repo_id=repo_id, fps=fps, robot_type=robot_type, features=features,
                                                 root=root, use_videos=use_videos)
        obj.repo_id, obj.root, obj.tolerance_s = obj.meta.repo_id, obj.meta.root, tolerance_s
        obj.image_writer = None
        if image_writer_processes or image_writer_threads:
            obj.start_image_writer(image_writer_processes, image_writer_threads)
        obj.episode_buffer = obj.create_episode_buffer()
        obj.writer = None
        obj.latest_episode = None
        return obj

    def start_image_writer(self, num_processes: int = 0, num_threads: int = 4) -> None:
        pass  # STUB: images stay in memory (lerobot writes each frame as a PNG from writer threads)

    def create_episode_buffer(self, episode_index: int | None = None) -> dict:
        current_ep_idx = self.meta.total_episodes if episode_index is None else episode_index
        ep_buffer = {"size": 0, "task": []}
        for key in self.features:
            ep_buffer[key] = current_ep_idx if key == "episode_index" else []
        return ep_buffer

    def add_frame(self, frame: dict) -> None:
        validate_frame(frame, self.features)
        if self.episode_buffer is None:
            self.episode_buffer = self.create_episode_buffer()
        frame_index = self.episode_buffer["size"]
        timestamp = frame.pop("timestamp") if "timestamp" in frame else frame_index / self.fps
        self.episode_buffer["frame_index"].append(frame_index)
        self.episode_buffer["timestamp"].append(timestamp)
        self.episode_buffer["task"].append(frame.pop("task"))  # Remove task from frame after processing
        for key in frame:
            if key not in self.features:
                raise ValueError(
                    f"An element of the frame is not in the features. '{key}' not in '{self.features.keys()}'."
                )
            self.episode_buffer[key].append(frame[key])
        self.episode_buffer["size"] += 1

    def save_episode(self, episode_data: dict | None = None, parallel_encoding: bool = True) -> None:
        episode_buffer = episode_data if episode_data is not None else self.episode_buffer
        validate_episode_buffer(episode_buffer, self.meta.total_episodes, self.features)
        episode_length = episode_buffer.pop("size")
        tasks = episode_buffer.pop("task")
        episode_tasks = list(set(tasks))
        episode_index = episode_buffer["episode_index"]
        episode_buffer["index"] = np.arange(self.meta.total_frames, self.meta.total_frames + episode_length)
        episode_buffer["episode_index"] = np.full((episode_length,), episode_index)
        self.meta.save_episode_tasks(episode_tasks)
        episode_buffer["task_index"] = np.array([self.meta.get_task_index(task) for task in tasks])
        for key, ft in self.features.items():
            if key in ["index", "episode_index", "task_index"] or ft["dtype"] in ["image", "video"]:
                continue
            episode_buffer[key] = np.stack(episode_buffer[key])
        ep_stats = compute_episode_stats(episode_buffer, self.features)
        ep_metadata = self._save_episode_data(episode_buffer)
        for key in self.meta.video_keys:  # where lerobot's encoder would have put the episode (not encoded here)
            ep_metadata.update({f"videos/{key}/chunk_index": 0, f"videos/{key}/file_index": 0,
                                f"videos/{key}/from_timestamp": 0.0,
                                f"videos/{key}/to_timestamp": episode_length / self.fps})
        self.meta.save_episode(episode_index, episode_length, episode_tasks, ep_stats, ep_metadata)
        if not episode_data:
            self.episode_buffer = self.create_episode_buffer()

    def _save_episode_data(self, episode_buffer: dict) -> dict:
        schema = pa.schema([(k, hf_arrow_type(ft)) for k, ft in self.features.items()
                            if ft["dtype"] not in ("video", "image")])
        table = pa.table({name: [np.asarray(v).reshape(-1).tolist()[0] if np.asarray(v).shape in ((), (1,))
                                 else np.asarray(v).tolist() for v in episode_buffer[name]] for name in schema.names},
                         schema=schema)
        if self.latest_episode is None:
            chunk_idx, file_idx, global_frame_index = 0, 0, 0
            if self.meta.episodes:  # appending: a new file after the dataset's last one
                last = self.meta.episodes[-1]
                global_frame_index = last["dataset_to_index"]
                chunk_idx, file_idx = update_chunk_file_indices(last["data/chunk_index"], last["data/file_index"],
                                                                self.meta.chunks_size)
        else:
            chunk_idx, file_idx = self.latest_episode["data/chunk_index"], self.latest_episode["data/file_index"]
            global_frame_index = self.latest_episode["dataset_to_index"]
        path = self.root / self.meta.data_path.format(chunk_index=chunk_idx, file_index=file_idx)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not self.writer:
            self.writer = pq.ParquetWriter(path, schema=table.schema, compression="snappy", use_dictionary=True)
        self.writer.write_table(table)
        metadata = {"data/chunk_index": chunk_idx, "data/file_index": file_idx,
                    "dataset_from_index": global_frame_index, "dataset_to_index": global_frame_index + len(table)}
        self.latest_episode = metadata
        return dict(metadata)

    def finalize(self):
        """Close the parquet writers: without it the files have no footer and the dataset cannot be loaded."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.meta._close_writer()
