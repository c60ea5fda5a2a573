"""The launching process, as a run.json claim records it (storage.claim_run): enough to prove later, on
the same machine, that it is gone (claims.py). A pid alone is not: pids are reused, so the process's
start time and the machine's boot are kept with it. No project imports: the claim's writer and its
checker both use this.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip() or None
    except OSError:
        return None


def _machine() -> str | None:
    """systemd's machine id (machine-id(5)); D-Bus's copy where systemd is absent."""
    return _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id")


def _process_start(pid: int) -> int | None:
    """A process's start, in clock ticks after boot: field 22 of /proc/PID/stat (proc_pid_stat(5)). The
    fields after the command name, which may hold spaces and ')', start after its last ')'."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    fields = text.rpartition(")")[2].split()
    return int(fields[19]) if len(fields) > 19 and fields[19].isdigit() else None


def launcher() -> dict[str, Any]:
    """This process, as a claim records its launcher: what proves later that it is gone."""
    pid = os.getpid()
    return {"machine": _machine(), "boot": _read("/proc/sys/kernel/random/boot_id"), "hostname": socket.gethostname(),
            "pid": pid, "start": _process_start(pid)}


def launcher_alive(who: dict[str, Any] | None) -> str | None:
    """Why the launcher may still run (or cannot be told gone); None once it is provably gone."""
    if not who or not who.get("pid"):
        return "it records no launching process (an older launch)"
    where = who.get("hostname") or "another machine"
    if not who.get("machine") or who.get("machine") != _machine():
        return f"it was launched on {where}, whose processes only it can see (launch from there to take it back)"
    if who.get("boot") and _read("/proc/sys/kernel/random/boot_id") not in (None, who["boot"]):
        return None  # this machine restarted since: every process of that boot is gone
    pid = int(who["pid"])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # it exists, under another user
    start = _process_start(pid)
    if who.get("start") is not None and start is not None and start != who["start"]:
        return None  # the pid was reused by a later process
    return f"its launcher (pid {pid} on {where}) still runs"
