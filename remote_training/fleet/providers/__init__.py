"""Providers: how each machine is powered (see base.py). `provider_for` picks the module."""
from __future__ import annotations

from typing import Any, Mapping

from ..inventory import Host, Inventory
from ..provider_kinds import COMMAND, HOST_KINDS, NEBIUS, STATIC
from .base import NoCapacityError, Provider, ProviderError, ProviderTimeout, ProviderUnavailable, State, Status


def provider_for(host: Host, inventory: Inventory | None = None, settings: Mapping[str, Any] | None = None) -> Provider:
    """The provider object for a host; `settings` defaults to the inventory's top-level section for its type."""
    kind = host.provider.type
    if settings is None and inventory is not None:
        settings = inventory.extra.get(kind) or {}
    if kind == STATIC:
        from .static import StaticProvider

        return StaticProvider(host, settings)
    if kind == COMMAND:
        from .command import CommandProvider

        return CommandProvider(host, settings)
    if kind == NEBIUS:
        from .nebius import NebiusProvider

        return NebiusProvider(host, settings)
    raise ProviderError(f"{host.name}: unknown provider {kind!r}", f"use one of {', '.join(HOST_KINDS)} in hosts.yaml")


__all__ = ["provider_for", "Provider", "ProviderError", "NoCapacityError", "ProviderTimeout",
           "ProviderUnavailable", "State", "Status"]
