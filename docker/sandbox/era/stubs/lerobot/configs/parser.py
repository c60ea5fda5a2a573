"""The argv helpers of lerobot/configs/parser.py (lerobot 0.3.3), as TrainPipelineConfig.validate reads them:
upstream's trainers append `--config_path=...` to sys.argv to resume, and lerobot reads it back from there."""
import sys
from collections.abc import Sequence

PATH_KEY = "path"


def parse_arg(arg_name: str, args: Sequence[str] | None = None) -> str | None:
    if args is None:
        args = sys.argv[1:]
    prefix = f"--{arg_name}="
    for arg in args:
        if arg.startswith(prefix):
            return arg[len(prefix):]
    return None


def get_path_arg(field_name: str, args: Sequence[str] | None = None) -> str | None:
    return parse_arg(f"{field_name}.{PATH_KEY}", args)
