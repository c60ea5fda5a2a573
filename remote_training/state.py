"""Where remote-training keeps what must outlive one command (the run ledger, vm.reap's idle samples,
the image file-digest cache).

The state dir is the caller's (config vm.state_dir, INVOKE_VM_STATE_DIR), else $XDG_STATE_HOME/remote-training
(~/.local/state/remote-training). RT_STATE_DIR and RT_LEDGER, the names before every setting took Invoke's
INVOKE_ prefix, are still read where no setting is given, with one stderr line naming them deprecated.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

# old environment variable -> (the config key that replaces it, its INVOKE_ variable)
DEPRECATED = {"RT_STATE_DIR": ("vm.state_dir", "INVOKE_VM_STATE_DIR"),
              "RT_LEDGER": ("jobs.ledger", "INVOKE_JOBS_LEDGER")}
_warned: set[str] = set()


def deprecated_env(name: str) -> str | None:
    """The old variable's value, if set; the first read in a process says on stderr what replaces it."""
    value = os.environ.get(name) or None
    if value and name not in _warned:
        _warned.add(name)
        key, env = DEPRECATED[name]
        sys.stderr.write(f"warning: {name} is deprecated and will stop being read: set {env} "
                         f"(config {key}) instead\n")
    return value


def state_dir(configured: str | Path | None = None) -> Path:
    explicit = configured or deprecated_env("RT_STATE_DIR")
    if explicit:
        path = Path(explicit).expanduser()
    else:
        base = os.environ.get("XDG_STATE_HOME") or "~/.local/state"
        path = Path(base).expanduser() / "remote-training"
    path.mkdir(parents=True, exist_ok=True)
    return path
