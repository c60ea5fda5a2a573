"""Printing: tables and progress to stdout via rich, JSON for scripts, errors to stderr."""
from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    from rich.table import Table


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


def print_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None, *,
                optional: Sequence[str] = ()) -> None:
    """A table as wide as the terminal: cells wrap at spaces; while words still cannot fit, the `optional`
    columns (least useful first) are left out, and a caption names them (--json keeps every field)."""
    from rich.console import Console
    from rich.measure import Measurement

    cells = [["" if v is None else str(v) if isinstance(v, Styled) else inert(v) for v in row] for row in rows]
    console = Console(soft_wrap=False, width=terminal_width())
    shown = list(columns)
    unbounded = console.options.update(max_width=10_000)  # Measurement.get clamps to max_width
    for name in [n for n in optional if n in columns]:
        if Measurement.get(console, unbounded, _table(columns, shown, cells, title)).minimum <= console.width:
            break
        shown.remove(name)
    console.print(_table(columns, shown, cells, title))


def _table(columns: Sequence[str], shown: Sequence[str], cells: list[list[str]], title: str | None) -> Table:
    from rich.table import Table

    left_out = [n for n in columns if n not in shown]
    table = Table(title=inert(title) if title else None, show_lines=False, header_style="bold",
                  caption=f"left out to fit the terminal: {', '.join(left_out)}" if left_out else None)
    keep = [columns.index(n) for n in shown]
    for name, i in zip(shown, keep):
        # rich narrows the widest wrapping column first, below its longest word: a column of single words
        # (ids, hosts, dates) is kept whole, only text with spaces wraps (folding a word it must cut)
        table.add_column(name, no_wrap=not any(" " in row[i] for row in cells), overflow="fold")
    for row in cells:
        table.add_row(*[row[i] for i in keep])
    return table


def terminal_width() -> int:
    """COLUMNS, else the terminal's width; 120 when stdout is not a terminal (a pipe, a file)."""
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def warn(message: str) -> None:
    sys.stderr.write(message + "\n")
