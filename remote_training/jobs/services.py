"""The service table of the compose project, and the program arguments of each job.

Argument builders take typed options and return the argument list in the
configuronic syntax the Positronic programs read (`--a.b=value`). They check
what can be checked locally (s3:// URLs, known modality configs) so a typo
fails here, before any host is touched.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import InputError

# The seed's tables (names, client policies) live in one place: validate.py.
from .. import validate  # noqa: E402
from ..validate import GROOT_CLIENT_POLICY, SERVICE_CLIENT_POLICY  # noqa: E402,F401


@dataclass(frozen=True)
class Service:
    name: str  # compose service name
    kind: str  # train / serve / convert / stats / infer
    image_var: str  # variable in the images env file that holds the image ref
    default_host: str  # a host name, or auto (placement picks)
    gpu_mem_mb: int  # rough GPU memory the job holds (estimates; GR00T server ~6 GB per the seed)
    port: int | None = None  # servers: the port they listen on by default


SERVICES: dict[str, Service] = {s.name: s for s in (
    Service("positronic-to-lerobot", "convert", "RT_IMAGE_POSITRONIC", "desktop", 0),
    Service("openpi-stats", "stats", "RT_IMAGE_OPENPI", "desktop", 0),
    Service("groot-train", "train", "RT_IMAGE_GR00T", "auto", 60000),  # placement picks a free H100
    Service("openpi-train", "train", "RT_IMAGE_OPENPI", "auto", 70000),
    Service("lerobot-train", "train", "RT_IMAGE_POSITRONIC", "desktop", 8000),
    Service("groot-server", "serve", "RT_IMAGE_GR00T", "vm-train", 6000, 9000),
    Service("openpi-server", "serve", "RT_IMAGE_OPENPI", "vm-train", 12000, 8000),
    Service("lerobot-server", "serve", "RT_IMAGE_POSITRONIC", "desktop", 2000, 8000),
    Service("positronic-inference", "infer", "RT_IMAGE_POSITRONIC", "desktop", 0),
)}


def service(name: str) -> Service:
    try:
        return SERVICES[name]
    except KeyError:
        raise InputError(f"unknown service {name!r}", f"use one of: {', '.join(SERVICES)}") from None


def today() -> str:
    """The seed's default experiment name: today as YYMMDD."""
    return time.strftime("%y%m%d")


def s3_url(value: str, what: str, *, directory: bool = True) -> str:
    url = validate.s3_url(value, what)
    return url if url.endswith("/") or not directory else url + "/"  # the trainers treat these as folders


def _positive(value: int | str, what: str) -> int:
    return validate.steps(value, what)


def _name(value: str, what: str) -> str:
    return validate.exp_name(value) if what == "exp-name" else validate.config_name(value)


# -- argument builders: one per program -----------------------------------------
def convert_args(dataset: str, observation: str, action: str, output: str, fps: int = 15) -> list[str]:
    return ["convert", f"--dataset={validate.config_ref(dataset, 'dataset config')}",
            f"--dataset.observation={validate.observation(observation)}",
            f"--dataset.action={validate.action(action)}",
            f"--output_dir={s3_url(output, 'output')}", f"--fps={validate.fps(fps)}"]


def stats_args(input: str, output: str) -> list[str]:
    return [f"--input_path={s3_url(input, 'input')}", f"--output_path={s3_url(output, 'output')}"]


def groot_train_args(input: str, output: str, modality: str, exp_name: str, steps: int = 20000,
                     save_steps: int = 2000, workers: int = 4, resume: bool = False) -> list[str]:
    args = [f"--input_path={s3_url(input, 'input')}", f"--output_path={s3_url(output, 'output')}",
            f"--exp_name={_name(exp_name, 'exp-name')}", f"--num_train_steps={_positive(steps, 'steps')}",
            f"--save_steps={_positive(save_steps, 'save-steps')}", f"--num_workers={validate.workers(workers)}",
            f"--modality_config={validate.modality(modality)}"]
    return args + (["--resume"] if resume else [])


def openpi_train_args(input: str, stats: str, output: str, exp_name: str, config_name: str | None = None,
                      steps: int | None = None, resume: bool = False) -> list[str]:
    args = [f"--input_path={s3_url(input, 'input')}", f"--stats_path={s3_url(stats, 'stats')}",
            f"--output_path={s3_url(output, 'output')}", f"--exp_name={_name(exp_name, 'exp-name')}"]
    if config_name:
        args.append(f"--config_name={_name(config_name, 'config-name')}")
    if steps:
        args.append(f"--num_train_steps={_positive(steps, 'steps')}")
    return args + (["--resume"] if resume else [])


def lerobot_train_args(input: str, output: str, exp_name: str, steps: int | None = None,
                       resume: bool = False) -> list[str]:
    args = [f"--input_path={s3_url(input, 'input')}", f"--output_path={s3_url(output, 'output')}",
            f"--exp_name={_name(exp_name, 'exp-name')}"]
    if steps:
        args.append(f"--num_train_steps={_positive(steps, 'steps')}")
    return args + (["--resume"] if resume else [])


def groot_server_args(checkpoints: str, modality: str, port: int = 9000, checkpoint: str | None = None) -> list[str]:
    args = [f"--checkpoints_dir={s3_url(checkpoints, 'checkpoints')}",
            f"--modality_config={validate.modality(modality)}", f"--port={validate.port(port)}"]
    return args + ([f"--checkpoint={validate.checkpoint(checkpoint)}"] if checkpoint else [])


def openpi_server_args(checkpoints: str, port: int = 8000, checkpoint: str | None = None,
                       config_name: str | None = None) -> list[str]:
    args = [f"--checkpoints_dir={s3_url(checkpoints, 'checkpoints')}", f"--port={validate.port(port)}"]
    if config_name:
        args.append(f"--config_name={_name(config_name, 'config-name')}")
    return args + ([f"--checkpoint={validate.checkpoint(checkpoint)}"] if checkpoint else [])


def lerobot_server_args(checkpoints: str, port: int = 8000, checkpoint: str | None = None) -> list[str]:
    args = [f"--checkpoints_dir={s3_url(checkpoints, 'checkpoints')}", f"--port={validate.port(port)}"]
    return args + ([f"--checkpoint={validate.checkpoint(checkpoint)}"] if checkpoint else [])


def inference_args(policy: str, server_host: str, server_port: int, gui: bool = False,
                   simulation_time: int = 10) -> list[str]:
    return ["sim", f"--policy=.{policy.lstrip('.')}", f"--policy.base.host={server_host}",
            f"--policy.base.port={validate.port(server_port)}", f"--driver.show_gui={gui}",
            f"--driver.simulation_time={_positive(simulation_time, 'simulation-time')}"]


def client_policy(server_service: str, server_args: list[str] | tuple[str, ...]) -> str:
    """The client policy for a running server, from the seed's mapping table."""
    return validate.client_policy(server_service, arg_value(server_args, "modality_config"))


def arg_value(args: list[str] | tuple[str, ...], name: str) -> str | None:
    """`--name=value` from an argument list, or None."""
    prefix = f"--{name}="
    return next((a[len(prefix):] for a in args if a.startswith(prefix)), None)
