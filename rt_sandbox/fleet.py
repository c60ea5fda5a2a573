"""Bring the sandbox fleet up, report on it, tear it down; stop and start single hosts.

`ensure_up` starts only what is missing and repairs what a killed run left
behind; everything it starts is recorded in pid files under .sandbox/pids, and
`down` stops exactly those. Calls are serialised by a lock file, because
several test sessions may ask for the sandbox at the same moment.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

from remote_training.errors import SandboxError
from . import files, network, procs, services
from . import hosts as machine
from .layout import (
    BASE_IMAGE,
    BRIDGE,
    BRIDGE_ADDR,
    BUCKETS,
    REGISTRY,
    REGISTRY_PORT,
    RUN_DIR,
    S3_PORT,
    HostSpec,
    Layout,
    host_specs,
)

DEFAULT_HOSTS = 4


@contextlib.contextmanager
def _locked(lay: Layout) -> Iterator[None]:
    # Machine-wide, not per checkout: names and addresses are fixed, so two checkouts (a CI clone and
    # a working copy) must not build hosts at the same moment.
    lay.dir.mkdir(parents=True, exist_ok=True)
    with open(RUN_DIR.parent / "rt-sandbox.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _previous(lay: Layout) -> dict[str, Any]:
    try:
        return json.loads(lay.state_file.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _claim(lay: Layout) -> bool:
    """One sandbox per machine: its names and addresses are fixed. A sandbox left by another checkout
    (a CI clone, a deleted folder) is taken over: its hosts are stopped here and rebuilt from this one.
    True when it was taken over: the hosts' stores are machine-wide, so its containers are still in them."""
    owner = RUN_DIR / "owner"
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    other = Path(owner.read_text().strip()) if owner.exists() else None
    if other is not None and other != lay.root:
        import sys

        sys.stderr.write(f"sandbox: taking over the sandbox hosts of {other}\n")
        _each([s for s in host_specs(40) if network.netns_path(s).exists()], lambda s: _evict(lay, s))
        from .nebius_process import stop_sandbox_standin  # its port is fixed too

        stop_sandbox_standin(other)
        services.stop_foreign_services(other)
    owner.write_text(f"{lay.root}\n")
    return other is not None and other != lay.root


def _evict(lay: Layout, spec: HostSpec) -> None:
    """Stop everything of a host that some other checkout started, and remove its network."""
    machine.stop(lay, spec, remove_containers=False)
    procs.kill_all(procs.in_netns(network.netns_path(spec)))
    network.remove_host_network(spec)


def _specs(lay: Layout, count: int | None) -> list[HostSpec]:
    count = count if count is not None else int(_previous(lay).get("host_count", DEFAULT_HOSTS))
    if count < 1 or count > 40:
        raise SandboxError(f"sandbox: --hosts {count} is out of range", "give between 1 and 40 hosts")
    return host_specs(count)


def _require_root() -> None:
    import os

    if os.geteuid() != 0:
        raise SandboxError("sandbox: needs root (network namespaces, dockerd)", "run as root")


def ensure_up(root: Path, hosts: int | None = None, smi_delay: float | None = None, *,
              keep_recent_stops: bool = True) -> dict[str, Any]:
    """Start what is missing (default 4 hosts) and return the contents of .sandbox/sandbox.json.

    `keep_recent_stops`: leave off a VM stopped through the Nebius API in the last minutes (someone is
    using that state, e.g. the demo's vm.reap); the test suite passes False to start from a full fleet.
    """
    _require_root()
    lay = Layout(Path(root).resolve())
    with _locked(lay):
        taken_over = _claim(lay)
        previous = _previous(lay)
        specs = _specs(lay, hosts)
        delay = float(smi_delay if smi_delay is not None else previous.get("smi_delay", 0))
        for name in set(previous.get("hosts", {})) - {s.name for s in specs}:
            _remove_host(lay, _spec_named(name))  # `--hosts N` shrank the fleet
        services.ensure_root_engine(lay)
        network.allow_host_to_host()
        services.ensure_registry(lay)
        services.ensure_s3(lay)
        network.ensure_bridge()
        services.ensure_forwarders(lay)
        services.ensure_base_image(lay)
        machine.ensure_keys(lay, specs)
        files.write_ssh_files(lay, specs)

        from .nebius_process import powered_off_recently

        off = powered_off_recently(lay.root) if keep_recent_stops else set()

        def bring_up(spec: HostSpec) -> None:
            _ensure_network(lay, spec)
            machine.ensure_forwarders(lay, spec)
            if spec.name in off:
                return
            machine.start(lay, spec, delay)
            if taken_over:  # the other checkout's jobs: they would name its files and its ledger
                machine.end_containers(spec)
            machine.pull_base(spec, f"{REGISTRY}/{BASE_IMAGE}")

        _each(specs, bring_up)
        from .nebius_process import ensure_sandbox_standin  # the Nebius API stand-in powers the vm-* hosts

        nebius = ensure_sandbox_standin(lay.root, {s.name: s.address for s in specs if s.name.startswith("vm-")},
                                        serverless=True)
        from .serverless_io import sandbox_serverless_settings  # the `cloud` target: AI jobs on the same stand-in

        files.write_hosts_yaml(lay, specs, nebius, sandbox_serverless_settings(lay.root))
        state = _state(lay, specs, delay)
        lay.state_file.write_text(json.dumps(state, indent=2) + "\n")
        return state


def _ensure_network(lay: Layout, spec: HostSpec) -> None:
    """(Re)build a host's namespace; processes left in a broken one are stopped first, they would be unreachable."""
    if network.host_network_ok(spec):
        return
    machine.stop(lay, spec, remove_containers=False)
    machine.stop_forwarders(lay, spec)
    network.ensure_host_network(spec)


def _each(specs: list[HostSpec], work) -> None:
    """Run `work` for every host in parallel; report every failure, not just the first."""
    with ThreadPoolExecutor(max_workers=len(specs) or 1) as pool:
        futures = {spec.name: pool.submit(work, spec) for spec in specs}
    errors = [f"{name}: {getattr(f.exception(), 'message', f.exception())}"
              for name, f in futures.items() if f.exception()]
    if errors:
        raise SandboxError("sandbox: " + "; ".join(errors), "see .sandbox/logs/, then run inv sandbox.up again")


def _state(lay: Layout, specs: list[HostSpec], delay: float) -> dict[str, Any]:
    return {
        "root": str(lay.root),
        "registry": REGISTRY,
        "base_image": f"{REGISTRY}/{BASE_IMAGE}",
        "s3_endpoint": f"http://{BRIDGE_ADDR}:{S3_PORT}",  # works here, in SSH sessions and in host containers
        "s3_local_endpoint": f"http://127.0.0.1:{S3_PORT}",
        "buckets": list(BUCKETS),
        "bridge_address": BRIDGE_ADDR,
        "smi_delay": delay,
        "host_count": len(specs),
        "hosts_file": str(lay.hosts_file),
        "ssh_config": str(lay.ssh_config),
        "known_hosts": str(lay.known_hosts),
        "identity_file": str(lay.user_key),
        "hosts": {
            s.name: {"address": s.address, "aliases": list(s.aliases), "docker_host": s.docker_host,
                     "ssh": f"root@{s.name}", "gpu": s.gpu, "gpu_memory_mib": s.memory_mib, "netns": s.netns,
                     "home": str(lay.host_dir(s.name) / "home")}
            for s in specs
        },
    }


def _spec_named(name: str) -> HostSpec:
    for spec in host_specs(40):
        if name in (spec.name, *spec.aliases):
            return spec
    raise SandboxError(f"sandbox: no host named {name!r}", "use a name from inv sandbox.status")


def _known_spec(lay: Layout, name: str) -> HostSpec:
    spec = _spec_named(name)
    if spec.name not in _previous(lay).get("hosts", {}):
        raise SandboxError(f"sandbox: host {name!r} is not part of the sandbox", "run inv sandbox.up --hosts N first")
    return spec


def stop_host(root: Path, name: str) -> None:
    """Power a host off: its containers are removed, its dockerd (with containerd) and sshd stop."""
    lay = Layout(Path(root).resolve())
    with _locked(lay):
        spec = _known_spec(lay, name)
        machine.stop(lay, spec)
        if network.netns_path(spec).exists():
            network.set_extra_address(spec, None)  # a stopped VM gives its public address back


def start_host(root: Path, name: str, address: str | None = None) -> None:
    """Power a host back on: dockerd and sshd start again (same host key); `address`: also answer there."""
    lay = Layout(Path(root).resolve())
    with _locked(lay):
        spec = _known_spec(lay, name)
        _ensure_network(lay, spec)
        network.set_extra_address(spec, address)
        machine.ensure_forwarders(lay, spec)
        machine.start(lay, spec, float(_previous(lay).get("smi_delay", 0)))


def host_is_up(root: Path, name: str) -> bool:
    lay = Layout(Path(root).resolve())
    return machine.is_up(lay, _spec_named(name))


def _remove_host(lay: Layout, spec: HostSpec) -> None:
    machine.stop(lay, spec)
    machine.stop_forwarders(lay, spec)
    procs.kill_all(procs.in_netns(network.netns_path(spec)))  # whatever else still lives in it
    network.remove_host_network(spec)
    shutil.rmtree(spec.run_dir, ignore_errors=True)


def down(root: Path) -> list[str]:
    """Stop everything the sandbox started and remove namespaces, links and runtime files.

    Keys, the registry's storage and the hosts' image stores (machine-wide, under /var/lib/rt-sandbox) stay,
    so the next `up` is quick, from this checkout or another.
    Returns what was stopped or removed.
    """
    _require_root()
    lay = Layout(Path(root).resolve())
    done: list[str] = []
    with _locked(lay):
        known = set(_previous(lay).get("hosts", {}))
        leftovers = {p.name for p in RUN_DIR.iterdir() if p.is_dir()} if RUN_DIR.exists() else set()
        names = sorted(known | leftovers | {s.name for s in host_specs(DEFAULT_HOSTS)})
        specs = [s for s in host_specs(40) if s.name in names]

        def remove(spec: HostSpec) -> None:
            if network.netns_path(spec).exists() or machine.sshd_alive(lay, spec) or machine.dockerd_alive(spec):
                done.append(f"host {spec.name}")
            _remove_host(lay, spec)

        _each(specs, remove)
        for name, token in (("fwd-registry", f"bind={BRIDGE_ADDR}"), ("fwd-s3", f"bind={BRIDGE_ADDR}"),
                            ("moto", "moto"), ("registry", str(lay.dir / "registry.yml")), ("dockerd", "dockerd")):
            if procs.stop(lay.pid(name), token, timeout=60 if name == "dockerd" else 15):
                done.append(name)
        if network.link_exists(BRIDGE):
            network.remove_bridge()
            done.append(f"bridge {BRIDGE}")
        from .nebius_process import stop_sandbox_standin

        if stop_sandbox_standin(lay.root):
            done.append("nebius stand-in")
        shutil.rmtree(RUN_DIR, ignore_errors=True)
        shutil.rmtree(lay.pids, ignore_errors=True)
        lay.state_file.unlink(missing_ok=True)
    return done


def status(root: Path) -> dict[str, Any]:
    """What runs now: shared services and each host (read-only, no lock needed)."""
    lay = Layout(Path(root).resolve())
    state = _previous(lay)
    specs = [_spec_named(n) for n in state.get("hosts", {})]
    report: dict[str, Any] = {
        "root_engine": services.engine_answers(),
        "root_engine_started_by_sandbox": bool(procs.alive(lay.pid("dockerd"), "dockerd")),
        "registry": services.port_open("127.0.0.1", REGISTRY_PORT),
        "s3": services.port_open("127.0.0.1", S3_PORT),
        "bridge": network.link_exists(BRIDGE),
        "forwarders": services.port_open(BRIDGE_ADDR, REGISTRY_PORT) and services.port_open(BRIDGE_ADDR, S3_PORT),
        "hosts": {},
    }
    for spec in specs:
        report["hosts"][spec.name] = {
            "address": spec.address, "network": network.host_network_ok(spec),
            "dockerd": bool(machine.dockerd_alive(spec)), "sshd": bool(machine.sshd_alive(lay, spec)),
            "up": machine.is_up(lay, spec),
        }
    return report
