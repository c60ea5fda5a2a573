"""The bridge in the root namespace and one network namespace per host, joined by veth pairs."""
from __future__ import annotations

from pathlib import Path

from remote_training.errors import SandboxError
from . import procs
from .layout import BRIDGE, BRIDGE_ADDR, NETNS_DIR, HostSpec


def _ip(*args: str, check: bool = True) -> str:
    result = procs.run(["ip", *args], check=False)
    if check and result.returncode != 0:
        raise SandboxError(f"sandbox: ip {' '.join(args)} failed: {result.stderr.decode().strip()}",
                           "run as root; then inv sandbox.down and inv sandbox.up")
    return result.stdout.decode()


def link_exists(name: str, netns: str | None = None) -> bool:
    prefix = ["-n", netns] if netns else []
    return procs.run(["ip", *prefix, "link", "show", name], check=False).returncode == 0


def ensure_bridge() -> None:
    if not link_exists(BRIDGE):
        _ip("link", "add", BRIDGE, "type", "bridge")
    if f" {BRIDGE_ADDR}/24 " not in _ip("-o", "addr", "show", "dev", BRIDGE):
        _ip("addr", "add", f"{BRIDGE_ADDR}/24", "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")


def allow_host_to_host() -> None:
    """Let the sandbox hosts reach each other over the bridge, as machines on one network do: the
    engine sets the forward policy to drop once it starts, which would cut them apart."""
    chain = "DOCKER-USER" if procs.run(["iptables", "-nL", "DOCKER-USER"], check=False).returncode == 0 else "FORWARD"
    rule = ["-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT"]
    if procs.run(["iptables", "-C", chain, *rule], check=False).returncode != 0:
        procs.run(["iptables", "-I", chain, *rule])


def netns_path(spec: HostSpec) -> Path:
    return NETNS_DIR / spec.netns


def host_network_ok(spec: HostSpec) -> bool:
    """The namespace exists, its eth0 has the host's address and is up, and its peer sits on the bridge."""
    if not netns_path(spec).exists():
        return False
    inside = procs.run(["ip", "-n", spec.netns, "-o", "addr", "show", "dev", "eth0"], check=False)
    if inside.returncode != 0 or f" {spec.address}/24 " not in inside.stdout.decode():
        return False
    outside = procs.run(["ip", "-o", "link", "show", spec.veth], check=False).stdout.decode()
    return f"master {BRIDGE}" in outside and ",UP" in outside


def remove_host_network(spec: HostSpec) -> None:
    # Deleting a namespace only unbinds it: processes still inside would live on, unreachable.
    procs.kill_all(procs.in_netns(netns_path(spec)))
    if link_exists(spec.veth):
        _ip("link", "del", spec.veth, check=False)
    if netns_path(spec).exists() or spec.netns in _ip("netns", "list", check=False).split():
        _ip("netns", "del", spec.netns, check=False)


def ensure_host_network(spec: HostSpec) -> None:
    """Create (or rebuild after a killed run) the host's namespace, veth pair and addresses."""
    if host_network_ok(spec):
        return
    remove_host_network(spec)
    _ip("netns", "add", spec.netns)
    _ip("link", "add", spec.veth, "type", "veth", "peer", "name", "eth0", "netns", spec.netns)
    _ip("link", "set", spec.veth, "master", BRIDGE)
    _ip("link", "set", spec.veth, "up")
    _ip("-n", spec.netns, "addr", "add", f"{spec.address}/24", "dev", "eth0")
    _ip("-n", spec.netns, "link", "set", "eth0", "up")
    _ip("-n", spec.netns, "link", "set", "lo", "up")
    # No default route on purpose: a host reaches only the bridge's /24 (the sandbox's services), nothing else.


def set_extra_address(spec: HostSpec, address: str | None) -> None:
    """A restarted VM may come back on another address (the Nebius stand-in asks for it):
    eth0 keeps the host's own address and gains at most one more; None drops the extra one."""
    shown = _ip("-n", spec.netns, "-o", "-4", "addr", "show", "dev", "eth0", check=False).split()
    present = {w.split("/")[0] for w in shown if "/" in w} - {spec.address}
    for old in present - {address}:
        _ip("-n", spec.netns, "addr", "del", f"{old}/24", "dev", "eth0", check=False)
    if address and address != spec.address and address not in present:
        _ip("-n", spec.netns, "addr", "add", f"{address}/24", "dev", "eth0")


def remove_bridge() -> None:
    if link_exists(BRIDGE):
        _ip("link", "del", BRIDGE, check=False)
