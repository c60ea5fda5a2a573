"""SIGINT and SIGTERM on the command line (remote_training.interrupts): raised where they land, and still
raised at the launch's next stage when Python dropped the exception (a signal landing in a weakref callback,
as one did in an import's module-lock callback, was lost and the CLI followed its job until killed)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import ROOT

_PROCESS = """
import os, signal, sys, weakref
from remote_training import interrupts
from remote_training.errors import Terminated
interrupts.install()

class Thing: pass

def callback(ref):
    os.kill(os.getpid(), signal.{sig})
    sum(range(1000))  # the handler runs here, inside the callback, whose exception Python drops

thing = Thing()
ref = weakref.ref(thing, callback)
{drop}
print("went on", flush=True)
try:
    interrupts.again()
except KeyboardInterrupt as exc:
    print(type(exc).__name__, flush=True)
"""


def _run(sig: str, drop: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _PROCESS.format(sig=sig, drop=drop)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("sig, raised", [("SIGTERM", "Terminated"), ("SIGINT", "KeyboardInterrupt")])
def test_a_signal_whose_exception_python_dropped_is_raised_again_at_the_next_stage(sig, raised):
    done = _run(sig, "del thing")
    assert "Exception ignored in" in done.stderr, done.stderr  # Python dropped the handler's exception
    assert done.stdout.split() == ["went", "on", raised], (done.stdout, done.stderr)


def test_no_signal_no_raise():
    done = _run("SIGTERM", "")
    assert done.stdout.split() == ["went", "on"], (done.stdout, done.stderr)
    assert done.returncode == 0
