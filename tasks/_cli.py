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
            if "dry_run" in kw and a and _core_dry(a[0]):
                kw["dry_run"] = True  # Invoke's own --dry (-R) means the same here: act on nothing
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


def _core_dry(c: Any) -> bool:
    try:
        return bool(c.config.run.dry)
    except AttributeError:
        return False


def err(message: str) -> None:
    sys.stderr.write(message + "\n")


# Two fixes to Invoke's parser (2.x), installed once, when the tasks load:
# - a core flag typed after a task name whose positional is still unfilled
#   (`inv vm.stop --help`) is a flag, not that positional's value (invoke#982, #1084);
# - registered (task, argument) pairs may be left out and arrive as "", which the
#   task reads as "not given" (Invoke insists on every positional otherwise).
_OPTIONAL_POSITIONALS: set[tuple[str, str]] = set()


def optional_positional(task_name: str, arg_name: str) -> None:
    """Let `inv TASK` run without the positional ARG (it arrives as "")."""
    _OPTIONAL_POSITIONALS.add((task_name, arg_name))


def _patch_invoke_parser() -> None:
    from invoke.parser.parser import ParseMachine

    if getattr(ParseMachine, "_rt_patched", False):
        return
    original_handle, original_complete = ParseMachine.handle, ParseMachine.complete_context

    def handle(self: Any, token: str) -> None:
        ctx, core = self.context, self.initial
        if (ctx is not None and core is not None and ctx.missing_positional_args and token in core.flags
                and token not in ctx.flags and token not in ctx.inverse_flags
                and not self.waiting_for_flag_value and self.current_state != "unknown"):
            flag = core.flags[token]
            if flag.name == "help":
                flag.value = ctx.name  # what Invoke does for `inv TASK --help` when no positional is pending
            else:
                self.switch_to_flag(token)
            return
        original_handle(self, token)

    def complete_context(self: Any) -> None:
        ctx, core = self.context, self.initial
        help_asked = core is not None and "--help" in core.flags and bool(core.flags["--help"].value)
        for arg in ctx.positional_args if ctx else ():
            if arg.value is None and (help_asked or (ctx.name, arg.name) in _OPTIONAL_POSITIONALS):
                arg.value = ""  # with --help the task prints its help and does not run
        original_complete(self)

    ParseMachine.handle = handle
    ParseMachine.complete_context = complete_context
    ParseMachine._rt_patched = True  # type: ignore[attr-defined]


_patch_invoke_parser()
