"""Glue between Invoke and the core: config lookups, the inventory, the runner,
and `@rt_task`, the one place core errors become exit codes.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

from invoke import Exit, task

from remote_training.errors import RTError, exit_code_for

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def setting(c: Any, dotted: str, default: Any = None) -> Any:
    """Read `a.b.c` from Invoke config (files, INVOKE_A_B_C env vars, -D overrides)."""
    node: Any = c.config
    for part in dotted.split("."):
        try:
            node = node[part]
        except (KeyError, TypeError, AttributeError):
            return default
    return node


def inventory_path(c: Any) -> Path:
    from remote_training.inventory import resolve_path

    return resolve_path(str(setting(c, "hosts.file", "hosts.yaml")), PROJECT_ROOT)


def load_inventory(c: Any):
    from remote_training.inventory import load_inventory as load

    return load(inventory_path(c))


def runner(c: Any, *, dry_run: bool = False, inventory: Any = None):
    from remote_training.remote import RemoteRunner

    return RemoteRunner(inventory or load_inventory(c), dry_run=dry_run,
                        connect_timeout=float(setting(c, "hosts.connect_timeout", 5)))


def rt_task(*args: Any, **kwargs: Any) -> Callable:
    """`@task`, with core errors turned into one clear stderr line and a typed exit code."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return fn(*a, **kw)
            except RTError as exc:
                raise Exit(f"error: {exc}", code=exit_code_for(exc)) from None
            except KeyboardInterrupt:
                raise Exit("interrupted", code=130) from None

        return task(*args, **kwargs)(wrapper)

    if len(args) == 1 and callable(args[0]) and not kwargs:
        fn, args = args[0], ()
        return decorate(fn)
    return decorate


def err(message: str) -> None:
    sys.stderr.write(message + "\n")


# Invoke fills a positional argument only while it is None and then insists on it.
# Registered (task, argument) pairs are filled with "" when left out, which the task
# reads as "not given". One patch of Invoke's parser, installed on first use.
_OPTIONAL_POSITIONALS: set[tuple[str, str]] = set()


def optional_positional(task_name: str, arg_name: str) -> None:
    """Let `inv TASK` run without the positional ARG (it arrives as "")."""
    from invoke.parser.parser import ParseMachine

    _OPTIONAL_POSITIONALS.add((task_name, arg_name))
    original = ParseMachine.complete_context
    if getattr(original, "_rt_patched", False):
        return

    def complete_context(self: Any) -> None:
        ctx = self.context
        for arg in ctx.positional_args if ctx else ():
            if (ctx.name, arg.name) in _OPTIONAL_POSITIONALS and arg.value is None:
                arg.value = ""
        original(self)

    complete_context._rt_patched = True  # type: ignore[attr-defined]
    ParseMachine.complete_context = complete_context
