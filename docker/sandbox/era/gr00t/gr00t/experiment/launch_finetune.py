# SANDBOX STUB of gr00t's gr00t/experiment/launch_finetune.py (the model layer under positronic's
# vendors/gr00t/train.py, which runs it as a subprocess with gr00t's venv Python, cwd = the gr00t checkout).
# Real: the command line, parsed by tyro (the version Isaac-GR00T's pyproject pins, 0.9.17) into the shape of
# FinetuneConfig (NVIDIA/Isaac-GR00T gr00t/configs/finetune_config.py, commit 0c8fb7d5), and its check that the
# modality config file exists. Stubbed: the model. "Training" writes the folders HF's Trainer writes,
# <output_dir>/checkpoint-<step>/ every save_steps and at max_steps, resuming after the last one found
# (launch_finetune auto-resumes), and refuses a dataset that lacks the state keys the modality config names.
import dataclasses
import importlib
import json
import sys
from pathlib import Path

import tyro
from gr00t.data.embodiment_tags import EmbodimentTag
from rt_stub_training import run_steps


@dataclasses.dataclass
class FinetuneConfig:
    base_model_path: str
    dataset_path: str
    embodiment_tag: EmbodimentTag
    modality_config_path: str | None = None
    tune_llm: bool = False
    tune_visual: bool = False
    tune_projector: bool = True
    tune_diffusion_model: bool = True
    state_dropout_prob: float = 0.0
    random_rotation_angle: int | None = None
    color_jitter_params: dict[str, float] | None = None
    global_batch_size: int = 64
    dataloader_num_workers: int = 2
    learning_rate: float = 1e-4
    gradient_accumulation_steps: int = 1
    output_dir: str = "./outputs"
    save_steps: int = 1000
    save_total_limit: int = 5
    num_gpus: int = 1
    use_wandb: bool = False
    max_steps: int = 10000
    weight_decay: float = 1e-5
    warmup_ratio: float = 0.05
    shard_size: int = 2**10
    episode_sampling_rate: float = 0.1
    num_shards_per_epoch: int = int(1e5)
    video_backend: str = "torchcodec"
    override_pretraining_statistics: bool = True


def load_modality_config(modality_config_path: str):  # as upstream's launch_finetune.py
    path = Path(modality_config_path)
    if path.exists() and path.suffix == ".py":
        sys.path.append(str(path.parent))
        module = importlib.import_module(path.stem)
        print(f"Loaded modality config: {path}")
        return module
    raise FileNotFoundError(f"Modality config path does not exist: {modality_config_path}")


def main() -> None:
    ft_config = tyro.cli(FinetuneConfig, description=__doc__)
    modality = load_modality_config(ft_config.modality_config_path) if ft_config.modality_config_path else None
    info = json.loads((Path(ft_config.dataset_path) / "meta" / "info.json").read_text())
    # STUB: the sandbox's datasets state their observation by name; a joint modality needs joints in it,
    # which the real data loader finds missing at its first batch.
    if modality is not None and getattr(modality, "NEEDS_JOINTS", False):
        observation = str(info.get("observation", ""))
        if not observation and "joint_position" in info.get("features", {}):  # what the real converter writes
            observation = "joints"
        if not any(k in observation for k in ("joints", "_q", "eeq")):
            print(f"Error: modality {Path(ft_config.modality_config_path).stem} needs joint observations; "
                  f"dataset at {ft_config.dataset_path} has {observation or 'none'}", file=sys.stderr)
            sys.exit(3)
    output = Path(ft_config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    done = [int(p.name.split("-")[1]) for p in output.glob("checkpoint-*") if p.name.split("-")[1].isdigit()]
    start = max(done, default=0)
    if start:
        print(f"Resuming from checkpoint-{start}")

    def save(step: int) -> None:
        folder = output / f"checkpoint-{step}"
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text(json.dumps({"step": step, "model": "sandbox stub"}))
        (folder / "trainer_state.json").write_text(json.dumps({"global_step": step, "max_steps": ft_config.max_steps}))
        (folder / "optimizer.pt").write_bytes(b"sandbox stub optimizer state")

    run_steps(start, ft_config.max_steps, ft_config.save_steps, save)
    print(f"Training finished: {ft_config.max_steps} steps, checkpoints in {output}")


if __name__ == "__main__":
    main()
