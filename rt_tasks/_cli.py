"""Glue between Invoke and the core: config lookups, the inventory, the runner, and `@rt_task`.

The command line's own rules (`TASK --help`, `--dry`, errors to exit codes) live in `program.py`.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Set

from invoke import Task, task

from remote_training.errors import RTError
from .program import (
    CHECKOUT,
    FILE_FLAGS,
    HELP_LETTER,
    as_exit,
    optional_positional,  # noqa: F401  (for the task modules)
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_MISSING = object()


def setting(c: Any, dotted: str) -> Any:
    """Read `a.b.c` from Invoke config (files, INVOKE_A_B_C env vars, -D overrides).

    The default is the one the key's domain declares in `ns.configure`, and only there: a task run by
    Invoke sees it in its config already; a task called from Python with a bare Config gets it here.
    """
    value = _lookup(c.config, dotted)
    if value is _MISSING:
        value = _lookup(defaults(), dotted)
    if value is _MISSING:
        raise KeyError(f"config key {dotted!r} has no default: declare it in its domain's ns.configure")
    return value


@functools.lru_cache(maxsize=1)
def defaults() -> dict:
    """Every default the domains declare (the root collection's configuration)."""
    from . import ns

    return ns.configuration()


def _lookup(node: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        try:
            node = node[part]
        except (KeyError, TypeError, AttributeError):
            return _MISSING
    return node


def state_folder(c: Any) -> Path:
    """The state dir: config vm.state_dir (INVOKE_VM_STATE_DIR), else remote_training.state's default."""
    from remote_training.state import state_dir

    return state_dir(str(setting(c, "vm.state_dir") or "") or None)


def positronic_checkout(c: Any) -> Path | None:
    """The team's positronic checkout, where it can be told without reading a file: the repository of
    jobs.compose_project (its docker/ folder), else positronic/ under images.root, else beside this checkout."""
    compose = str(setting(c, "jobs.compose_project") or "")
    if compose:
        return Path(compose).expanduser().resolve().parent
    root = str(setting(c, "images.root") or "")
    if root:
        return Path(root).expanduser() / "positronic"
    return CHECKOUT.parent / "positronic" if CHECKOUT else None


def config_file(c: Any, kind: Any, configured: Any) -> Any:
    """The file of `kind` (remote_training.config_files.HOSTS or CATALOG) by the search order: flag, the
    setting's value `configured`, current directory, ~/.config/remote-training, the positronic checkout,
    this checkout."""
    from remote_training.config_files import find

    flag = next(f for f, key in FILE_FLAGS.items() if key == kind.key)
    given = _lookup(c.config, f"rt_flags.{flag}")  # set by rt's --hosts / --catalog only
    return find(kind, flag="" if given is _MISSING else str(given), setting=str(configured or ""),
                positronic=positronic_checkout(c), project=CHECKOUT)


def inventory_path(c: Any) -> Path:
    from remote_training.config_files import HOSTS

    return config_file(c, HOSTS, setting(c, "hosts.file")).path


def load_inventory(c: Any):
    from remote_training.fleet.inventory import load_inventory as load

    return load(inventory_path(c))


def runner(c: Any, *, dry_run: bool = False, inventory: Any = None):
    from remote_training.fleet.remote import RemoteRunner

    return RemoteRunner(inventory or load_inventory(c), dry_run=dry_run,
                        connect_timeout=float(setting(c, "hosts.connect_timeout")))


class RTTask(Task):
    """A task whose flags never take `-h`: that is Invoke's `--help`, so `TASK -h` always prints help.

    Invoke hands a parameter the first free letter of its name as a short flag (`--host` got `-h`, so
    `rt vm.reap -h` ran a reap). The letter is still counted as taken, so every other flag keeps the
    short flag it had; only `-h` is gone from the task's flags (`arg_opts` is Task's public hook).
    """

    def get_arguments(self, ignore_unknown_help: Any = None) -> List[Any]:
        kept = dict(self.help)  # Invoke's arg_opts pops each flag's help: a second program run would lose it
        try:
            return super().get_arguments(ignore_unknown_help)
        finally:
            self.help = kept

    def arg_opts(self, name: str, default: Any, taken_names: Set[str]) -> Dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        if HELP_LETTER in opts["names"][1:]:
            opts["names"] = [n for n in opts["names"] if n != HELP_LETTER]
            taken_names.add(HELP_LETTER)  # as Invoke would have: later flags pick the same letters
        return opts


def rt_task(*args: Any, **kwargs: Any) -> Callable:
    """`@task` whose core errors leave as `invoke.Exit` (one stderr line, the typed exit code), by
    `program.as_exit`: the same whether the task runs from the command line or is called from Python.
    Its flags never take `-h` (`RTTask`)."""
    kwargs.setdefault("klass", RTTask)

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return fn(*a, **kw)
            except (RTError, KeyboardInterrupt) as exc:
                raise as_exit(exc) from None

        return task(*args, **kwargs)(wrapper)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        fn, args = args[0], ()
        return decorate(fn)
    return decorate


def err(message: str) -> None:
    sys.stderr.write(message + "\n")
