"""Remote command lines are built only from quoted argument lists (checked here with a local sh)."""
from __future__ import annotations

import subprocess

import pytest

from remote_training.fleet.remote import quote_command

HOSTILE = ["$(touch CANARY)", "`touch CANARY`", "; rm -rf CANARY", "a'b\"c", "line1\nline2", "ünï €", "-", "*", "$HOME"]


@pytest.mark.parametrize("arg", HOSTILE)
def test_hostile_argument_reaches_program_unchanged(arg, tmp_path):
    command = quote_command(["printf", "%s", arg])
    out = subprocess.run(["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True)
    assert out.stdout == arg
    assert not (tmp_path / "CANARY").exists()


def test_env_and_home_relative_cwd_are_quoted(tmp_path):
    command = quote_command(["sh", "-c", 'printf "%s|%s" "$X" "$PWD"'], env={"X": "$(id)"}, cwd="~/")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True,
                         env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.stdout == f"$(id)|{tmp_path}"


def test_refuses_a_plain_string():
    with pytest.raises(TypeError):
        quote_command("rm -rf /")  # type: ignore[arg-type]


def test_nul_is_refused_before_anything_is_sent():
    from remote_training.errors import InputError

    with pytest.raises(InputError, match="NUL"):
        quote_command(["printf", "%s", "a\0b"])
