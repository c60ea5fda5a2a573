"""Where remote-training keeps what must outlive one command (the idle samples of vm.reap).

Default: $XDG_STATE_HOME/remote-training, i.e. ~/.local/state/remote-training.
Override: the environment variable RT_STATE_DIR (the `vm.state_dir` config key
sets it), so a cron job and an interactive shell can share or separate it.
"""
from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    explicit = os.environ.get("RT_STATE_DIR")
    if explicit:
        path = Path(explicit).expanduser()
    else:
        base = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
        path = Path(base).expanduser() / "remote-training"
    path.mkdir(parents=True, exist_ok=True)
    return path
