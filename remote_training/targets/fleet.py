"""The targets a command names, and a job found on them: where `--host` is turned into Targets, once.

    targets = select(inventory, runner, host)   # --host NAME: that one; none: every host and serverless target
    found = find(targets, ref)                  # fixed hosts first, then serverless; one clear error otherwise
    target = for_host(inventory, runner, name)  # the target a placed job starts on
"""
from __future__ import annotations

from typing import Any, Sequence

from ..errors import InputError, UnreachableError
from ..fleet.remote import RemoteRunner
from .base import Found, Target
from .host import FixedHosts


def select(inventory: Any, runner: RemoteRunner, host: str | None = None) -> list[Target]:
    """The targets `host` names (a fixed host, or a serverless target); every one of both without it."""
    if not host:
        from .serverless import NebiusServerless  # here, not at import: see for_host

        return [FixedHosts(runner, inventory.hosts), NebiusServerless(inventory, inventory.serverless)]
    return [for_host(inventory, runner, host)]


def for_host(inventory: Any, runner: RemoteRunner, name: str) -> Target:
    """The one target a host name (or alias) names; an unknown name fails as the inventory says."""
    cloud = inventory.serverless_target(name)
    if cloud is not None:
        # imported only for a serverless target: the Nebius client and the log reader's urllib.request/http.client
        # are ~16 ms of every fixed-host launch's start otherwise (bench/jobs_launch_bench.py)
        from .serverless import NebiusServerless

        return NebiusServerless(inventory, [cloud])
    return FixedHosts(runner, [inventory.get(name)])


def is_target_name(inventory: Any, name: str) -> bool:
    """Whether `name` names a host or serverless target (rather than a job)."""
    return any(name in t.names for t in [*inventory.hosts, *inventory.serverless])


def overflow_target(inventory: Any, value: str) -> Any:
    """The serverless target placement.overflow names when it is on (true: the inventory's only one)."""
    if value.lower() in ("1", "true", "yes", "on"):
        if len(inventory.serverless) != 1:
            raise InputError(f"placement.overflow is on, and the inventory has {len(inventory.serverless)} serverless "
                             "targets", "set placement.overflow to the target's name (INVOKE_PLACEMENT_OVERFLOW=cloud)")
        return inventory.serverless[0]
    target = inventory.serverless_target(value)
    if target is None:
        raise InputError(f"placement.overflow names {value!r}, which is no serverless target of {inventory.path}",
                         "name a host whose provider is nebius-serverless, or set it to false")
    return target


def list_all(targets: Sequence[Target]) -> tuple[list[Found], dict[str, BaseException]]:
    """Every job of every target; those that did not answer, by name, in the second item."""
    found: list[Found] = []
    failed: dict[str, BaseException] = {}
    for target in targets:
        items, silent = target.list()
        found += items
        failed.update(silent)
    return found, failed


def find(targets: Sequence[Target], ref: str) -> Found:
    """A job by exact id or unique prefix on the first target that has it. A target that did not answer
    may hold it: said only when no other target has it."""
    from ..validate import job_ref

    job_ref(ref)  # an empty or malformed reference is refused before any host is asked
    silent: UnreachableError | None = None
    for target in targets:
        try:
            found = target.find(ref)
        except UnreachableError as exc:
            if target is targets[-1]:
                raise
            silent = exc
            continue
        if found is not None:
            return found
    if silent is not None:
        raise silent
    names = ", ".join(name for target in targets for name in target.names)
    raise InputError(f"no job {ref!r} on {names}", "see inv jobs.list for the jobs that exist")
