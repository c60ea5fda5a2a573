"""SIGINT and SIGTERM on the process's own command line: raised where they land, and written down.

Python drops an exception raised inside a weakref callback or a `__del__` ("Exception ignored in ..."): a
signal landing there, as one did in an import's module-lock callback, would be lost and the launch would go
on to follow its job for ever. So each signal is also kept here, and the launch asks `again()` between its
stages and while it waits: a signal whose exception was dropped is raised there.
"""
from __future__ import annotations

import signal
import threading
from typing import Any, NoReturn

from .errors import Terminated

_taken: list[int] = []


def _as_exception(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def take(signum: int, frame: Any = None) -> NoReturn:
    """The handler: SIGTERM raises Terminated (a KeyboardInterrupt, exit 143), SIGINT KeyboardInterrupt."""
    _taken.append(signum)
    raise _as_exception(signum)


def install() -> None:
    """`take` for SIGINT and SIGTERM. The process's own command line only (never a Program run in-process,
    never a test's process), and only the main thread can set a handler."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, take)


def again() -> None:
    """Raise the first signal taken, if any: the launch ends at its next stage whether or not the exception
    raised where the signal landed reached it."""
    if _taken:
        raise _as_exception(_taken[0])
