"""Follow a VM to its new address after a restart, without weakening host key checks.

A Nebius VM may come back on another public IP, while the inventory (and the
user's ssh config) still name the old one. `readdress` returns an inventory
whose ssh config sends that host to the new address and whose known_hosts pins,
at the new address, exactly the key already pinned for the host: the same VM
(same boot disk, same host key) is accepted there, any other machine is refused.

The generated ssh_config/known_hosts pair lives in a private temporary folder of
this process (removed at exit): the provider is asked again by every command,
so nothing stale is ever reused.
"""
from __future__ import annotations

import atexit
import dataclasses
import shutil
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UnreachableError
from .inventory import Host, Inventory
from .provider_kinds import STATIC

if TYPE_CHECKING:
    from .providers import Status
    from .remote import RemoteRunner

_LOCK = threading.Lock()
_FOLLOW_LOCK = threading.Lock()  # runner.inventory is replaced read-modify-write
_FOLDER: Path | None = None
# generated ssh_config path -> (original inventory, {ssh host pattern: address})
_GENERATED: dict[Path, tuple[Inventory, dict[str, str]]] = {}


def _folder() -> Path:
    global _FOLDER
    if _FOLDER is None:
        _FOLDER = Path(tempfile.mkdtemp(prefix="rt-addresses-"))
        atexit.register(shutil.rmtree, _FOLDER, True)
    return _FOLDER


def _ssh_lookup(inventory: Inventory, host: Host) -> dict:
    import paramiko

    path = inventory.ssh_config or Path("~/.ssh/config").expanduser()
    config = paramiko.SSHConfig.from_path(str(path)) if path.exists() else paramiko.SSHConfig()
    return config.lookup(host.ssh_host)


def _key_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def _pinned_keys(inventory: Inventory, host: Host, lookup: dict, port: int) -> list[tuple[str, str]]:
    """(type, base64) of every key pinned for the host's name or original address."""
    import paramiko

    files = [Path("~/.ssh/known_hosts").expanduser()]
    files += [Path(p).expanduser() for p in str(lookup.get("userknownhostsfile") or "").split()]
    if inventory.known_hosts:
        files.append(inventory.known_hosts)
    address = str(lookup.get("hostname", host.ssh_host))
    names = {host.ssh_host, address, _key_name(host.ssh_host, port), _key_name(address, port)}
    keys: list[tuple[str, str]] = []
    for path in files:
        if not path.exists():
            continue
        known = paramiko.HostKeys(str(path))
        for name in names:
            for key_type, key in (known.lookup(name) or {}).items():
                if (key_type, key.get_base64()) not in keys:
                    keys.append((key_type, key.get_base64()))
    return keys


def readdress(inventory: Inventory, host: Host, address: str) -> Inventory:
    """An inventory that reaches `host` at `address` (the same object when nothing changes)."""
    with _LOCK:
        original, overrides = _GENERATED.get(inventory.ssh_config or Path("/nonexistent"), (inventory, {}))
        lookup = _ssh_lookup(original, host)
        base_address = str(lookup.get("hostname", host.ssh_host))
        if overrides.get(host.ssh_host, base_address) == address:
            return inventory
        overrides = dict(overrides)
        if address == base_address:
            overrides.pop(host.ssh_host, None)
            if not overrides:
                return original
        else:
            overrides[host.ssh_host] = address
        port = int(host.ssh_port or lookup.get("port", 22))
        keys = _pinned_keys(original, host, lookup, port)
        if not keys and address != base_address:
            raise UnreachableError(f"{host.name}: moved to {address}, but no host key is pinned to check it there",
                                   f"connect once by hand (ssh {host.ssh}) so its key is in known_hosts, then retry")
        folder = Path(tempfile.mkdtemp(dir=_folder()))
        ssh_config, known_hosts = folder / "ssh_config", folder / "known_hosts"
        source = original.ssh_config or Path("~/.ssh/config").expanduser()
        # paramiko (like ssh) keeps the first value it meets for a key: these blocks win
        blocks = "".join(f"Host {pattern}\n  HostName {addr}\n\n" for pattern, addr in overrides.items())
        ssh_config.write_text(f"# VMs that came back on a new address (remote-training)\n{blocks}"
                              f"# --- {source} ---\n{source.read_text() if source.exists() else ''}")
        previous = inventory.known_hosts.read_text() if inventory.known_hosts and inventory.known_hosts.exists() else ""
        pinned = [f"{_key_name(address, port)} {t} {k}" for t, k in keys]
        lines = [ln for ln in dict.fromkeys(previous.splitlines() + pinned) if ln.strip()]
        known_hosts.write_text("\n".join(lines) + "\n")
        moved = dataclasses.replace(inventory, ssh_config=ssh_config, known_hosts=known_hosts)
        _GENERATED[ssh_config] = (original, overrides)
        return moved


def follow_address(runner: RemoteRunner, host: Host, status: Status) -> Host:
    """Point the runner at the address the provider reports, if it moved."""
    if not status.address or host.provider.type == STATIC:
        return host
    with _FOLLOW_LOCK:
        moved = readdress(runner.inventory, host, status.address)
        if moved is not runner.inventory:
            runner.forget(host)
            runner.inventory = moved  # later connections read ssh_config/known_hosts from here
        return runner.inventory.get(host.name)
