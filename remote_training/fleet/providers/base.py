"""The provider interface: how a machine is powered on and off (static, command, nebius).

A provider answers three questions and nothing else: what state is the machine
in, start it, stop it. Start and stop are idempotent (starting a RUNNING
machine is a no-op) and wait until the machine has reached the state asked
for. After a start the provider reports the machine's current address, since
a cloud VM may come back on a different public IP.
"""
from __future__ import annotations

import abc
import enum
from dataclasses import dataclass
from typing import Any, Mapping

from ...errors import NoCapacityError, ProviderError
from ..inventory import Host

__all__ = ["State", "Status", "Provider", "ProviderError", "NoCapacityError", "ProviderTimeout",
           "ProviderUnavailable", "NotStoppable"]


class State(str, enum.Enum):
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    STOPPING = "STOPPING"
    ERROR = "ERROR"
    DELETING = "DELETING"
    UNKNOWN = "UNKNOWN"

    @classmethod
    def parse(cls, word: str) -> "State":
        """A state from a provider's own word (nebius enum name, a script's output)."""
        word = word.strip().upper()
        aliases = {"UP": "RUNNING", "ON": "RUNNING", "ACTIVE": "RUNNING", "STARTED": "RUNNING",
                   "DOWN": "STOPPED", "OFF": "STOPPED", "INACTIVE": "STOPPED", "SHUTOFF": "STOPPED"}
        word = aliases.get(word, word)
        return cls.__members__.get(word, cls.UNKNOWN)


@dataclass(frozen=True)
class Status:
    state: State
    address: str | None = None  # the machine's current address, where the provider knows it
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "address": self.address, "detail": self.detail}


class ProviderTimeout(ProviderError):
    """The machine did not reach the state asked for in time."""


class ProviderUnavailable(ProviderError):
    """The provider's client is missing or its API cannot be reached."""


class NotStoppable(ProviderError):
    """The machine has no power switch we may use (static hosts)."""


class Provider(abc.ABC):
    kind: str = "abstract"
    can_stop: bool = True

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None) -> None:
        self.host = host
        self.options = dict(host.provider.options)
        self.settings = dict(settings or {})

    @abc.abstractmethod
    def state(self, *, timeout: float | None = None) -> Status:
        """The machine's state now (one API call of at most `timeout` seconds, no waiting)."""

    @abc.abstractmethod
    def start(self, *, timeout: float = 900.0) -> Status:
        """Power on and wait until RUNNING; a no-op when it already runs."""

    @abc.abstractmethod
    def stop(self, *, timeout: float = 600.0) -> Status:
        """Power off through the provider (never from inside) and wait until STOPPED."""

    def describe_start(self) -> str:
        """What start would do, for --dry-run."""
        return f"{self.kind}: start {self.host.name}"

    def describe_stop(self) -> str:
        return f"{self.kind}: stop {self.host.name}"

    def close(self) -> None:  # noqa: B027 (a default: a provider with no clients has nothing to release)
        """Release clients (SDK channels); safe to call twice."""
