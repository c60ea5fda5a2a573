"""The argv helpers of lerobot/configs/parser.py (lerobot 0.4.3, as in 0.3.3), as TrainPipelineConfig.validate reads them:
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


def wrap(config_path=None):
    """lerobot's parser.wrap as positronic calls the wrapped train(): with the config object itself, which is
    passed through. STUB: the CLI path (draccus parsing sys.argv) is not here; positronic never takes it."""
    import functools
    import inspect

    def wrapper_outer(fn):
        @functools.wraps(fn)
        def wrapper_inner(*args, **kwargs):
            argspec = inspect.getfullargspec(fn)
            argtype = argspec.annotations[argspec.args[0]]
            if len(args) > 0 and type(args[0]) is argtype:
                return fn(*args, **kwargs)
            raise NotImplementedError("the sandbox's lerobot stub parses no command line (draccus)")

        return wrapper_inner

    return wrapper_outer
