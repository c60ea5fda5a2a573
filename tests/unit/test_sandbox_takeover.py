"""Taking the sandbox over from another checkout stops the services that run from that checkout's files
(rt_sandbox/services.stop_foreign_services): real processes, no root."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from rt_sandbox import services


def _moto_like(checkout: Path) -> subprocess.Popen:
    """A process whose command line is a checkout venv's python serving moto (it only sleeps)."""
    python = checkout / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.symlink_to(sys.executable)
    return subprocess.Popen([str(python), "-c", "import time; time.sleep(60)", "-m", "moto.server"])


def test_the_other_checkouts_s3_server_is_stopped_and_this_ones_is_left(tmp_path):
    theirs, ours = _moto_like(tmp_path / "ci-clone"), _moto_like(tmp_path / "main")
    try:
        time.sleep(0.2)  # both have exec'd: their command lines are the venv's
        services.stop_foreign_services(tmp_path / "ci-clone")
        assert theirs.wait(10) != 0  # ended by its signal
        assert ours.poll() is None
    finally:
        for proc in (theirs, ours):
            proc.kill()
            proc.wait()
