"""The host probe and the launch in one remote command, held between them for the laptop's verdict.

Every exec on a host costs an sshd session (about 45 ms before the command even starts). The launch
therefore opens one: it takes the host snapshot (snapshot.py: GPUs, containers, ports; read-only), prints it and a gate
line, then waits on its stdin. The laptop runs every check with that probe, then writes `go` and the
job's environment, or `stop`. Nothing starts before `go`; a laptop that dies closes the channel, the
`read` fails, and the command exits having started nothing.
"""
from __future__ import annotations

import time

from ..errors import RemoteCommandError, UnreachableError
from ..fleet.inventory import Host
from ..fleet.remote import Exec, RemoteRunner, RunResult, quote_command
from ..fleet.snapshot import ACTIVE_BODY

GATE = "--rt-launch-gate--"
ABORTED = 95  # the laptop said stop, or went away before saying anything
# The host snapshot's body (snapshot.ACTIVE_BODY: active containers only) first; $s and $d: its nvidia-smi
# and docker statuses; the launch script follows the verdict. What comes before the gate line is the
# snapshot (snapshot.parse reads it).
GATE_SCRIPT = ACTIVE_BODY + f'; echo "{GATE} $s $d"; IFS= read -r verdict || exit {ABORTED}; ' \
    f'[ "$verdict" = go ] || exit {ABORTED}; '


class Gate:
    """One held launch command on a host."""

    def __init__(self, runner: RemoteRunner, host: Host, launch_script: str, args: list[str],
                 probe_timeout: float = 20.0) -> None:
        self.host = host
        self.command = quote_command(["sh", "-c", GATE_SCRIPT + launch_script, "sh", *args])
        self.exec = Exec.start(runner, host, self.command)
        self.channel = self.exec.channel
        self.probe = self._read_probe(probe_timeout)

    def _read_probe(self, timeout: float) -> tuple[str, int]:
        deadline = time.monotonic() + timeout
        marker = GATE.encode()
        while marker not in self.exec.out:
            left = deadline - time.monotonic()
            if left <= 0 or (not self.exec.pump(min(left, 1.0)) and marker not in self.exec.out):
                self.channel.close()
                tail = (self.exec.err or self.exec.out).decode(errors="replace").strip()[-200:]
                raise RemoteCommandError(f"{self.host.name}: the host probe gave no answer"
                                         + (f": {tail}" if tail else f" within {timeout:g}s"),
                                         "check nvidia-smi and docker on the host (inv doctor)")
        head, _, rest = self.exec.out.partition(marker)
        line, _, self.exec.out = rest.partition(b"\n")
        statuses = [int(x) for x in line.split() if x.strip().lstrip(b"-").isdigit()] + [1, 1]
        smi, docker = statuses[0], statuses[1]
        return head.decode(errors="replace"), smi if smi != 0 else docker

    def abort(self) -> None:
        """Start nothing: say stop, and drop the command."""
        try:
            self.channel.sendall(b"stop\n")
        except OSError:
            pass
        self.channel.close()

    def go(self, stdin_text: str | None, timeout: float = 1800.0) -> RunResult:
        """Let the launch run; its output and exit status, as RemoteRunner.run gives them."""
        self.channel.sendall(b"go\n" + (stdin_text or "").encode())
        self.channel.shutdown_write()
        deadline = time.monotonic() + timeout
        while self.exec.pump(1.0):
            if time.monotonic() > deadline:
                self.channel.close()
                raise RemoteCommandError(f"{self.host.name}: the launch did not finish within {timeout:g}s",
                                         "check the host (inv jobs.list, docker on the host)")
        return self.exec.result(self.host.name, self.command)


def open_gate(runner: RemoteRunner, host: Host, launch_script: str, args: list[str]) -> Gate | None:
    """The held launch command, or None when the host does not answer (the caller checks the slow way,
    which knows how to start a stopped VM and say why a host is unreachable)."""
    try:
        return Gate(runner, host, launch_script, args)
    except UnreachableError:
        return None
    except Exception:  # noqa: BLE001 - no connection (stopped VM, refused): the slow way reports it
        runner.forget(host)
        return None
