"""Background processes tracked by pid files, so the sandbox stops only what it started.

A pid file alone is not proof: after a killed run the pid may belong to
something else, so a process counts as ours only while its command line still
holds a token we chose (a config path, a socket path).
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Sequence


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
        return ""
    if state in ("Z", "X"):  # a zombie is dead for our purposes
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def alive(pid_file: Path, token: str) -> int | None:
    """The pid in `pid_file` if that process runs and its command line contains `token`."""
    pid = read_pid(pid_file)
    if pid and token in cmdline(pid):
        return pid
    return None


def start(argv: Sequence[str], pid_file: Path, log: Path, env: dict[str, str] | None = None) -> int:
    """Start `argv` detached (own session, output to `log`) and record its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, close_fds=True)
    pid_file.write_text(f"{proc.pid}\n")
    _forget_child(proc)
    return proc.pid


def _forget_child(proc: subprocess.Popen) -> None:
    # The daemon outlives this call; Popen would warn about a still-running child when collected.
    proc.returncode = 0


def stop(pid_file: Path, token: str, timeout: float = 15.0) -> bool:
    """SIGTERM the recorded process (if it is still ours), SIGKILL after `timeout`; drop the pid file."""
    pid = alive(pid_file, token)
    stopped = False
    if pid:
        _signal(pid, signal.SIGTERM)
        if not wait_gone(pid, token, timeout):
            _signal(pid, signal.SIGKILL)
            wait_gone(pid, token, 5)
        stopped = True
    pid_file.unlink(missing_ok=True)
    return stopped


def wait_gone(pid: int, token: str, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        _reap(pid)
        if token not in cmdline(pid):
            return True
        time.sleep(0.1)
    return token not in cmdline(pid)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)  # only succeeds for our own children; avoids zombies in long sessions
    except ChildProcessError:
        pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def run(argv: Sequence[str], *, check: bool = True, input: bytes | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """A short helper command (ip, docker, ssh-keygen), output captured."""
    return subprocess.run(list(argv), input=input, capture_output=True, timeout=timeout, check=check)


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def matching(predicate) -> list[int]:
    """Pids whose (cmdline, cgroup text) satisfy `predicate`; this process excluded."""
    found = []
    for pid in _all_pids():
        if pid == os.getpid():
            continue
        try:
            cgroup = Path(f"/proc/{pid}/cgroup").read_text()
        except OSError:
            continue
        command = cmdline(pid)
        if command and predicate(command, cgroup):
            found.append(pid)
    return found


def kill_all(pids: list[int], timeout: float = 10.0) -> None:
    """Leftovers of a killed run (containerd, shims, container processes): TERM, then KILL."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(cmdline(p) for p in pids):
        for p in pids:
            _reap(p)
        time.sleep(0.1)
    for pid in pids:
        if cmdline(pid):
            _signal(pid, signal.SIGKILL)


def in_netns(netns_file: Path) -> list[int]:
    """Every process whose network namespace is the one bound at `netns_file` (whoever started it)."""
    try:
        target = os.stat(netns_file).st_ino
    except OSError:
        return []
    found = []
    for pid in _all_pids():
        try:
            if os.stat(f"/proc/{pid}/ns/net").st_ino == target and pid != os.getpid():
                found.append(pid)
        except OSError:
            continue
    return found
