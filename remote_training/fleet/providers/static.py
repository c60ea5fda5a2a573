"""The static provider: a machine that is always on (desktop, notebook)."""
from __future__ import annotations

from ..provider_kinds import STATIC
from .base import NotStoppable, Provider, State, Status


class StaticProvider(Provider):
    kind = STATIC
    can_stop = False

    def state(self, *, timeout: float | None = None) -> Status:
        return Status(State.RUNNING, detail="always on")

    def start(self, *, timeout: float = 900.0) -> Status:
        return self.state()

    def stop(self, *, timeout: float = 600.0) -> Status:
        raise NotStoppable(f"{self.host.name} has provider 'static': it has no power switch here",
                           "turn it off by hand, or give it a nebius or command provider in hosts.yaml")

    def describe_start(self) -> str:
        return f"static: {self.host.name} is always on, nothing to start"

    def describe_stop(self) -> str:
        return f"static: {self.host.name} cannot be stopped"
