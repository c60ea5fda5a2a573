"""The command provider: the team's own shell commands for start, stop and state.

hosts.yaml:
    provider: {type: command, start: "../internal/scripts/start.sh train2",
               stop: "...", state: "...", timeout: 600}

The commands come from the inventory (the user's own file), run locally with
`sh -c`, and get the host as environment variables, never pasted into the text:
RT_HOST (inventory name), RT_SSH (ssh target). `state` prints a state word
first (running/stopped/starting/stopping, or up/down, on/off) and optionally
the current address second; with no output its exit status decides
(0 running, else stopped).
"""
from __future__ import annotations

import os
import subprocess
import time

from .base import Provider, ProviderError, ProviderTimeout, State, Status


class CommandProvider(Provider):
    kind = "command"

    def _run(self, which: str, timeout: float) -> subprocess.CompletedProcess:
        command = str(self.options[which])
        env = {**os.environ, "RT_HOST": self.host.name, "RT_SSH": self.host.ssh}
        try:
            return subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise ProviderTimeout(f"{self.host.name}: the {which} command did not finish within {timeout:g}s",
                                  f"check `{command}` by hand, or raise provider.timeout in hosts.yaml") from exc

    @property
    def _timeout(self) -> float:
        return float(self.options.get("timeout", 600))

    def state(self, *, timeout: float | None = None) -> Status:
        done = self._run("state", min(self._timeout, timeout or 60.0))
        words = done.stdout.split()
        if words:
            state = State.parse(words[0])
            if state is State.UNKNOWN and done.returncode != 0:
                raise ProviderError(f"{self.host.name}: state command exited {done.returncode}: "
                                    f"{(done.stderr or done.stdout).strip()[:200]}",
                                    "fix the provider's state command in hosts.yaml")
            return Status(state, words[1] if len(words) > 1 else None, detail=" ".join(words[2:]))
        return Status(State.RUNNING if done.returncode == 0 else State.STOPPED)

    def _act(self, which: str, target: State, timeout: float) -> Status:
        now = self.state()
        if now.state is target:
            return now  # idempotent: nothing to do
        done = self._run(which, timeout)
        if done.returncode != 0:
            raise ProviderError(f"{self.host.name}: {which} command exited {done.returncode}: "
                                f"{(done.stderr or done.stdout).strip()[-300:]}",
                                f"run the {which} command by hand to see why")
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
