"""Printing: tables and progress to stdout via rich, JSON for scripts, errors to stderr."""
from __future__ import annotations

import json
import re
import sys
from typing import Any, Iterable, Sequence


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


class Styled(str):
    """Text of our own with rich markup in it (e.g. a coloured status); every other cell is shown as is."""


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def inert(value: Any) -> str:
    """Untrusted text (a container label, a job's argument) made safe to print: control characters
    (terminal escape sequences among them) shown as \\xNN, rich markup shown literally."""
    from rich.markup import escape

    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return escape(text)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=inert(title) if title else None, show_lines=False, header_style="bold")
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*["" if v is None else str(v) if isinstance(v, Styled) else inert(v) for v in row])
    Console(soft_wrap=False, width=max(120, _terminal_width())).print(table)


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def warn(message: str) -> None:
    sys.stderr.write(message + "\n")
