"""`rt`, the command line: Invoke's `Program`, told three things through its own seams.

As Fabric's `Fab` does, this subclass overrides public `Program` methods only; it patches nothing of
Invoke's (private) parser:

- `parse_tasks` reads the task part of the command line once, the way Invoke's parser will, before
  handing it over: `rt vm.stop --help` prints the task's help even though `host` is still missing
  (plain Invoke 2.x and 3.x take `--help` for the host, invoke#982/#1084); `TASK -h` is the task's
  help wherever it stands, even where a plain `@task`'s flag took `-h`; a core flag typed where a
  missing positional would swallow it (`rt vm.stop --dry train2`) goes to the core; and an image
  task's `names`, declared optional with `optional_positional`, arrives as "" when left out.
- `execute` makes Invoke's `--dry` (`-R`, or `run.dry` in any config) a dry run of every task asked
  for that has a `--dry-run` flag, and turns the core's typed errors into one stderr line and their
  exit code (`as_exit`, the one place that mapping is written; `@rt_task` uses it too, so a task
  called from Python fails the same way).
- `load_collection` loads this project's `rt_tasks` package whatever the working directory, with the
  project's own `invoke.yaml` beside it, so `rt` works from anywhere.
- `run` (and `execute`, for `inv`'s adopted object) end the command-line process the moment its work
  is done: exit handlers run and output is flushed, then the interpreter's teardown of every module
  and object (about 55 ms after a launch, paid by every command) is skipped (`leave`).

`inv`, `invoke` and `python3 -m invoke` run Invoke's own program object; when it loads these tasks
(from the repository root, through `tasks/__init__.py`), `rt_tasks/__init__.py` makes that object an `RTProgram` for
the rest of its run (`adopt`), so both commands behave the same.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
from pathlib import Path
from typing import Any, List, Optional, Sequence, Tuple

from invoke import Collection, Exit, Program
from invoke.parser import Parser, ParserContext

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# This project's checkout when rt runs from one (a clone, an editable install); None in an installed wheel,
# where PROJECT_ROOT is site-packages and holds none of the project's files.
CHECKOUT = PROJECT_ROOT if (PROJECT_ROOT / "setup.cfg").is_file() else None
# rt's core flags that name a file (remote_training/config_files.py): flag -> the config key it stands for
FILE_FLAGS = {"hosts": "hosts.file", "catalog": "images.catalog"}
HELP_LETTER = "h"  # Invoke's `-h`, its `--help`: never a task's flag (`_cli.RTTask`), always help here
HELP_TOKENS = ("--help", "-" + HELP_LETTER)

# (task name, argument name) pairs that may be left out on the command line (they arrive as "").
_OPTIONAL_POSITIONALS: set[tuple[str, str]] = set()


def optional_positional(task_name: str, arg_name: str) -> None:
    """Let `rt TASK` run without the positional ARG (it arrives as "")."""
    _OPTIONAL_POSITIONALS.add((task_name, arg_name))


def as_exit(error: BaseException) -> Exit:
    """The core's typed error as Invoke's `Exit`: one stderr line and the exit code of its class."""
    from remote_training.errors import exit_code_for

    if isinstance(error, KeyboardInterrupt):
        return Exit("terminated" if exit_code_for(error) == 143 else "interrupted", code=exit_code_for(error))
    return Exit(f"error: {error}", code=exit_code_for(error))


def _mapped_errors() -> Tuple[type, ...]:
    from remote_training.errors import RTError

    return (RTError, KeyboardInterrupt)


class _Segment:
    """One task on the command line, as the parser will see it."""

    def __init__(self, context: ParserContext, at: int) -> None:
        self.context = context
        self.end = at + 1  # one past its last token (`at`: the task's name)
        self.missing = len(context.positional_args)  # positional slots not yet filled
        self.waiting = False  # its last token was a flag still waiting for its value


class Reading:
    """What `scan` found: the tasks, a task whose help was asked for, core flags to move."""

    def __init__(self) -> None:
        self.segments: List[_Segment] = []
        self.help_for: Optional[ParserContext] = None
        self.core_tokens: List[int] = []  # indexes of core flags (and their values) a positional would eat


def scan(tokens: Sequence[str], contexts: Any, initial: ParserContext) -> Reading:
    """Walk `tokens` (the task part of argv) in the order Invoke's parser handles them.

    Flags first (the current task's, then its inverse flags), then a value for a flag waiting for one,
    then a missing positional, then a task name, then a core flag. The one difference, and the reason
    to walk: a core flag (`--help`, `-h`, `--dry`, ...) where a missing positional would eat it is
    recorded here instead, so `parse_tasks` can act on it. The walk stops at `--` and at anything the
    parser would refuse (the parser then says why).
    """
    found = Reading()
    segment: Optional[_Segment] = None
    core_value = ""  # "move" or "keep": the next token is the value of a core flag
    for index, token in enumerate(tokens):
        if token == "--":
            break
        if core_value:
            if core_value == "move":
                found.core_tokens.append(index)
            elif segment is not None:
                segment.end = index + 1
            core_value = ""
            continue
        ctx = segment.context if segment else None
        flag, inline = token, False
        if token.startswith("-") and not (segment and segment.waiting):
            if token.startswith("--") and "=" in token:
                flag, inline = token.partition("=")[0], True
            elif not token.startswith("--") and len(token) > 2:
                flag, inline = token[:2], True  # -xVALUE, or a glob of short flags: no separate value
            if flag in HELP_TOKENS and segment is not None:
                # `TASK -h` is help even for a task whose own flag took `-h` (a plain `@task`): help never acts.
                found.help_for = ctx
                return found
        if ctx is not None and (flag in ctx.flags or flag in ctx.inverse_flags):
            arg = ctx.flags.get(flag)
            segment.waiting = bool(arg is not None and arg.takes_value and not inline)
        elif segment and segment.waiting:
            segment.waiting = False  # the flag's value
        elif segment is not None and segment.missing and flag in initial.flags:
            if flag in HELP_TOKENS:
                found.help_for = ctx
                return found
            found.core_tokens.append(index)
            core_value = "move" if _takes_next(initial.flags[flag], inline) else ""
            continue
        elif segment is not None and segment.missing:
            segment.missing -= 1
        elif token in contexts:
            segment = _Segment(contexts[token], index)
            found.segments.append(segment)
        elif flag in initial.flags:
            if flag in HELP_TOKENS and segment is not None:
                found.help_for = ctx  # what Invoke does too once no positional is missing
                return found
            core_value = "keep" if _takes_next(initial.flags[flag], inline) else ""
            if segment is not None:
                segment.end = index + 1
            continue
        else:
            break  # unknown: the parser will say so
        segment.end = index + 1
    return found


def _takes_next(arg: Any, inline: bool) -> bool:
    """Whether a flag takes the next token as its value (`--hide both`; not `--hide=both`)."""
    return bool(arg.takes_value and not inline and not arg.optional)


def terminate_like_interrupt() -> None:
    """SIGTERM (a `kill`, a CI runner's cancel) raises `Terminated`, a KeyboardInterrupt: every clean-up a
    Ctrl-C gets runs (a claim given back, a started job's start recorded), then exit 143. Python's default
    would end the process on the spot. Both signals are also written down (remote_training.interrupts), so one
    whose exception Python dropped still ends the launch. The process's own command line only."""
    from remote_training import interrupts

    interrupts.install()


def leave(code: Any) -> None:
    """End the process with `code` as sys.exit would, without the interpreter's teardown: exit handlers
    run and stdout/stderr are flushed first. Threads still working (not daemons) get the normal exit."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join(timeout=1.0)
            if thread.is_alive():
                sys.exit(code)
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)  # sys.exit("message"): the message, exit status 1
        code = 1
    atexit._run_exitfuncs()  # what the interpreter would run at exit (logging, paramiko, ...)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code or 0)


class RTProgram(Program):
    """Invoke's Program with this project's command-line rules (see the module's docstring)."""

    fast_exit = False  # only the process's own command line (`rt`, `inv`): never a Program run in-process
    file_flags = True  # --hosts, --catalog; not for `inv`, whose core flags Invoke parsed before adopting it

    def run(self, argv: Optional[List[str]] = None, exit: bool = True) -> None:
        if self.fast_exit:
            terminate_like_interrupt()
        try:
            super().run(argv, exit)
        except SystemExit as done:
            if self.fast_exit and exit:
                leave(done.code)
            raise
        if self.fast_exit and exit:
            leave(0)

    def print_version(self) -> None:
        from importlib.metadata import PackageNotFoundError, version

        import invoke

        try:
            mine = version("remote-training")
        except PackageNotFoundError:
            mine = "unknown (not installed)"
        print(f"{self.name} {mine}")
        print(f"Invoke {invoke.__version__}")

    def core_args(self) -> list:
        from invoke import Argument

        if not self.file_flags:
            return super().core_args()
        return super().core_args() + [
            Argument(names=("hosts",), help="the inventory file (else setting hosts.file, then the search: README "
                                            "Configuration)"),
            Argument(names=("catalog",), help="the image catalog (else setting images.catalog, then the search)")]

    def update_config(self, merge: bool = True) -> None:
        super().update_config(merge)
        given = {flag: self.args[flag].value for flag in FILE_FLAGS
                 if flag in self.args and self.args[flag].value}  # absent for `inv`: Invoke parsed its own flags
        if given:
            self.config["rt_flags"] = given  # read by rt_tasks/_cli.config_file, apart from the settings

    def load_collection(self) -> None:
        if self.args.collection.value or self.args["search-root"].value:
            return super().load_collection()  # asked for another collection: Invoke's own search
        import rt_tasks

        # The project's invoke.yaml: beside the tasks in a checkout; in an installed wheel, in the current
        # directory (as `inv` reads the one beside the tasks.py it found there).
        self.config.set_project_location(str(CHECKOUT or Path.cwd()))
        self.config.load_project()
        self.collection = Collection.from_module(rt_tasks, loaded_from=str(PROJECT_ROOT),
                                                 auto_dash_names=self.config.tasks.auto_dash_names)

    def _make_parser(self) -> Parser:
        """Invoke's parser over the contexts of the tasks argv names (all of them when it names none, so
        an unknown name is refused as before): each parse deep-copies every context it holds, and building
        and copying all 76 tasks' contexts was a tenth of a launch's CPU."""
        tokens = set(self.core.unparsed)
        names = self.collection.task_names
        named = [p for p, aliases in names.items() if p in tokens or tokens.intersection(aliases)]
        unknown = self.config.tasks.ignore_unknown_help
        contexts = ([ParserContext(name=p, aliases=names[p], args=self.collection[p].get_arguments(
            ignore_unknown_help=unknown)) for p in named] if named
            else self.collection.to_contexts(ignore_unknown_help=unknown))
        return Parser(initial=self.initial_context, contexts=contexts)

    def parse_tasks(self) -> None:
        tokens = list(self.core.unparsed)
        if tokens:
            parser = self._make_parser()
            reading = scan(tokens, parser.contexts, parser.initial)
            if reading.help_for is not None:
                # `TASK --help`: the task's help, as `--help TASK` gives it; nothing runs.
                self.parser = parser
                self.core_via_tasks = ParserContext()
                self.tasks = []
                self.args.help.value = reading.help_for.name
                return
            self.core.unparsed = self._rewrite(tokens, reading)
        super().parse_tasks()

    @staticmethod
    def _rewrite(tokens: List[str], reading: Reading) -> List[str]:
        """Core flags a missing positional would eat go first; a left-out optional positional is ""."""
        moved = [tokens[i] for i in reading.core_tokens]
        fill: dict[int, int] = {}  # insert N empty values after index
        for seg in reading.segments:
            optional = [a for a in seg.context.positional_args[len(seg.context.positional_args) - seg.missing:]
                        if (seg.context.name, a.name) in _OPTIONAL_POSITIONALS]
            if seg.missing and len(optional) == seg.missing and not seg.waiting:
                fill[seg.end - 1] = seg.missing
        out: List[str] = list(moved)
        skip = set(reading.core_tokens)
        for i, token in enumerate(tokens):
            if i not in skip:
                out.append(token)
            out.extend([""] * fill.get(i, 0))
        return out

    def execute(self) -> None:
        from remote_training.validate import truthy

        if truthy(getattr(self.config.run, "dry", False)):
            for ctx in self.tasks:
                if "dry_run" in ctx.args:
                    ctx.args["dry_run"].value = True  # Invoke's --dry (-R): act on nothing
        try:
            super().execute()
        except _mapped_errors() as error:
            raise as_exit(error) from None
        if self.fast_exit:  # `inv`: Invoke's own run() is under way; nothing follows a success but the exit
            leave(0)


def adopt(program: Any) -> None:
    """Give Invoke's own program object (`inv`, `python -m invoke`) this project's rules for its run.

    Only a plain `invoke.Program` is adopted (not Fabric's `fab`, not an `RTProgram` already); the
    object keeps its state and its name (`inv[oke]`); only its class changes, to a subclass that
    overrides public methods.
    """
    if type(program) is Program:
        program.__class__ = RTProgram
        program.fast_exit = True  # Invoke's own command line, run as the process's main program
        program.file_flags = False
        terminate_like_interrupt()


program = RTProgram(name="rt", binary="rt", binary_names=["rt"])
program.fast_exit = True  # the `rt` console script
