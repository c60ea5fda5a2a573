"""Untrusted text (container labels, job arguments) prints inertly: no terminal escapes, no rich markup."""
from __future__ import annotations

from remote_training.output import Styled, inert, print_table


def test_hostile_labels_print_as_text(capsys) -> None:
    rows = [["[/oops]", "\x1b[2J\x1b[31mred", "[bold]loud[/bold]"], ["fine", "\x07bell", "\x9b31m"]]
    print_table(["a", "b", "c"], rows, title="[/title]")  # a bad closing tag used to raise MarkupError
    out = capsys.readouterr().out
    assert "[/oops]" in out and "[bold]loud[/bold]" in out and "[/title]" in out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert "\\x1b[2J" in out and "\\x07bell" in out


def test_our_own_markup_still_styles() -> None:
    assert inert("[green]ok[/]") == "\\[green]ok\\[/]"
    assert str(Styled("[green]ok[/]")) == "[green]ok[/]"
