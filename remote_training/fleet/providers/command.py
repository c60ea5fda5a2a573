"""The command provider: the team's own shell commands for start, stop and state.

hosts.yaml:
    provider: {type: command, start: "../internal/scripts/start.sh train2",
               stop: "...", state: "...", timeout: 600}

The commands come from the inventory (the user's own file), run locally with
`sh -c`, and get the host as environment variables, never pasted into the text:
RT_HOST (inventory name), RT_SSH (ssh target). `state` prints a state word
first (running/stopped/starting/stopping, or up/down, on/off) and optionally
the current address second.

A command that fails is an error, never a state: a `state` command that exits
non-zero (whatever it printed), prints nothing, or prints a word not listed
above raises ProviderError naming the command, its exit code and the last
line of its stderr; so does a failing `start` or `stop`. A VM whose power
script crashed must never read as STOPPED (it would keep billing).
"""
from __future__ import annotations

import os
import shlex
import subprocess
import time

from ..provider_kinds import COMMAND
from .base import Provider, ProviderError, ProviderTimeout, State, Status

# The words a state command may print first (any case); anything else is an error, never a guess.
STATE_WORDS: dict[str, State] = {
    "running": State.RUNNING, "up": State.RUNNING, "on": State.RUNNING, "active": State.RUNNING,
    "started": State.RUNNING,
    "stopped": State.STOPPED, "down": State.STOPPED, "off": State.STOPPED, "inactive": State.STOPPED,
    "shutoff": State.STOPPED,
    "starting": State.STARTING, "stopping": State.STOPPING,
}


def _tail(text: str, limit: int = 200) -> str:
    """The last non-empty line of a command's output, on one line."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1]
    return last if len(last) <= limit else "..." + last[-limit:]


class CommandProvider(Provider):
    kind = COMMAND

    def _run(self, which: str, timeout: float) -> subprocess.CompletedProcess:
        command = str(self.options[which])
        env = {**os.environ, "RT_HOST": self.host.name, "RT_SSH": self.host.ssh}
        try:
            return subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise ProviderTimeout(f"{self.host.name}: the {which} command did not finish within {timeout:g}s",
                                  f"check `{command}` by hand, or raise provider.timeout in hosts.yaml") from exc
        except OSError as exc:  # no sh at all
            raise ProviderError(f"{self.host.name}: cannot run the {which} command `{command}`: {exc}",
                                "check that sh is installed and on PATH") from exc

    def _checked(self, which: str, timeout: float) -> subprocess.CompletedProcess:
        """Run a command; a non-zero exit is a ProviderError naming it, its exit code and stderr tail."""
        done = self._run(which, timeout)
        if done.returncode != 0:
            command = str(self.options[which])
            tail = _tail(done.stderr) or _tail(done.stdout)
            said = f": {tail}" if tail else " with no output"
            code = f"signal {-done.returncode}" if done.returncode < 0 else str(done.returncode)
            raise ProviderError(f"{self.host.name}: provider {which} command `{command}` exited {code}{said}",
                                f"run it by hand (RT_HOST={self.host.name} sh -c {shlex.quote(command)}) and fix it "
                                f"or provider.{which} in hosts.yaml")
        return done

    @property
    def _timeout(self) -> float:
        return float(self.options.get("timeout", 600))

    def state(self, *, timeout: float | None = None) -> Status:
        done = self._checked("state", min(self._timeout, timeout or 60.0))
        words = done.stdout.split()
        command = str(self.options["state"])
        if not words:
            raise ProviderError(f"{self.host.name}: provider state command `{command}` printed nothing",
                                "make it print a state word (running or stopped), then optionally the address")
        state = STATE_WORDS.get(words[0].lower())
        if state is None:
            raise ProviderError(f"{self.host.name}: provider state command `{command}` printed {words[0]!r}, "
                                "not a state", f"make it print one of: {', '.join(STATE_WORDS)} (then optionally "
                                "the address)")
        return Status(state, words[1] if len(words) > 1 else None, detail=" ".join(words[2:]))

    def _act(self, which: str, target: State, timeout: float) -> Status:
        now = self.state()
        if now.state is target:
            return now  # idempotent: nothing to do
        self._checked(which, timeout)
        end = time.monotonic() + timeout
        while True:
            now = self.state()
            if now.state is target:
                return now
            if time.monotonic() >= end:
                raise ProviderTimeout(f"{self.host.name}: still {now.state.value} {timeout:g}s after {which}",
                                      "check the machine by hand, then retry")
            time.sleep(1.0)

    def start(self, *, timeout: float | None = None) -> Status:
        return self._act("start", State.RUNNING, timeout or self._timeout)

    def stop(self, *, timeout: float | None = None) -> Status:
        return self._act("stop", State.STOPPED, timeout or self._timeout)

    def describe_start(self) -> str:
        return f"command: sh -c {self.options['start']!r}  (RT_HOST={self.host.name})"

    def describe_stop(self) -> str:
        return f"command: sh -c {self.options['stop']!r}  (RT_HOST={self.host.name})"
