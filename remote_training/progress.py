"""Where a long wait stands, on stderr. The waits of the core (a VM's start, SSH, a server's port, a
serverless create) call a `Phase` with what they wait for now, and with "" when the wait is over.

`Progress` is the one the command line passes: on a terminal one status line redrawn in place (what,
phase, seconds so far), cleared when the wait ends; anywhere else (a pipe, a log file, CI) one plain line
per phase and a reminder every `every` seconds, so a log shows what it waited for and for how long.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

Phase = Callable[[str], None]


def silent(phase: str) -> None:
    """The default Phase: report nothing (a caller from Python, a test)."""


class Progress:
    """A Phase that shows itself on `stream` (default stderr); use it as a context manager."""

    def __init__(self, what: str, stream: TextIO | None = None, *, tty: bool | None = None,
                 every: float = 30.0, tick: float = 1.0) -> None:
        self.what, self.stream = what, stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every, self.tick = every, tick
        self.began = time.monotonic()
        self.phase = ""
        self._said = 0.0  # when a plain line last spoke
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, phase: str) -> None:
        with self._lock:
            if phase == self.phase:
                return
            if self.tty and self.phase and not phase:
                self._write("\r\x1b[K")  # the wait is over: the line goes, what follows starts clean
            self.phase = phase
            if phase:
                self._show(fresh=True)
        if phase and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
            self._thread.start()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self("")

    def _run(self) -> None:
        while not self._stop.wait(self.tick):
            with self._lock:
                if self.phase:
                    self._show(fresh=False)

    def _show(self, *, fresh: bool) -> None:
        now = time.monotonic()
        line = f"{self.what}: {self.phase} ({now - self.began:.0f}s)"
        if self.tty:
            import shutil

            width = shutil.get_terminal_size((80, 24)).columns
            self._write("\r\x1b[K" + line[:max(10, width - 1)])
        elif fresh or now - self._said >= self.every:
            self._write(line + "\n")
            self._said = now

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe: progress is never worth failing the wait for
            pass
