"""Providers against real parts: the real nebius SDK client talking gRPC to the
loopback stand-in, and real shell commands for the command provider."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from remote_training.errors import NoCapacityError, ProviderError
from remote_training.fleet.inventory import parse_inventory
from remote_training.fleet.providers import State, provider_for
from remote_training.fleet.providers.static import StaticProvider
from rt_sandbox.nebius_standin import StandinServer, StandinState

INVENTORY = """
nebius: {{endpoint: "{endpoint}", insecure: true, auth: none}}
hosts:
  vm-a: {{ssh: root@10.0.0.5, gpu: H100, gpu_memory_gb: 80, provider: {{type: nebius, instance_id: computeinstance-a}}}}
  desk: {{ssh: root@10.0.0.9, gpu: RTX 3060, gpu_memory_gb: 12}}
  cmd: {{ssh: root@10.0.0.7, gpu: H100, gpu_memory_gb: 80,
        provider: {{type: command, start: "{script} start", stop: "{script} stop", state: "{script} state",
                   timeout: 10}}}}
"""

POWER_SCRIPT = """#!/bin/sh
# a team-style power script: state in a file beside it
f="$(dirname "$0")/power.$RT_HOST"
case "$1" in
  start) echo running > "$f" ;;
  stop) echo stopped > "$f" ;;
  state) if [ -f "$f" ]; then echo "$(cat "$f") 10.0.0.77"; else echo stopped; fi ;;
esac
"""


@pytest.fixture()
def standin(tmp_path: Path):
    calls: list[tuple] = []

    def on(name: str, address: str, new: bool) -> str:
        calls.append(("on", name, new))
        return "10.0.0.55" if new else address

    state = StandinState(tmp_path / "nebius", delay=0.3, power_on=on, power_off=lambda n: calls.append(("off", n)))
    state.add_instance("computeinstance-a", "vm-a", "10.0.0.5", "STOPPED")
    server = StandinServer(state).start_serving()
    yield server, state, calls
    server.shutdown()


@pytest.fixture()
def inventory(standin, tmp_path: Path):
    server = standin[0]
    script = tmp_path / "power.sh"
    script.write_text(POWER_SCRIPT)
    script.chmod(0o755)
    text = INVENTORY.format(endpoint=server.address, script=script)
    return parse_inventory(text, tmp_path / "hosts.yaml")


def test_nebius_start_stop_idempotent_through_sdk(standin, inventory):
    _, state, calls = standin
    vm = provider_for(inventory.get("vm-a"), inventory)
    assert vm.state().state is State.STOPPED
    started = vm.start(timeout=20)
    assert started.state is State.RUNNING and started.address == "10.0.0.5"
    assert calls == [("on", "vm-a", False)]
    again = vm.start(timeout=20)  # no-op: no second power-on
    assert again.state is State.RUNNING and calls == [("on", "vm-a", False)]
    assert vm.stop(timeout=20).state is State.STOPPED
    assert vm.stop(timeout=20).state is State.STOPPED
    assert calls == [("on", "vm-a", False), ("off", "vm-a")]
    assert state.instances["computeinstance-a"].state == "STOPPED"


def test_nebius_start_waits_through_starting(standin, inventory):
    _, state, _ = standin
    vm = provider_for(inventory.get("vm-a"), inventory)
    state.start("computeinstance-a")  # someone else started it a moment ago
    assert vm.state().state is State.STARTING
    assert vm.start(timeout=20).state is State.RUNNING


def test_nebius_capacity_error_is_clear(standin, inventory):
    _, state, calls = standin
    state.control_file.write_text(json.dumps({"capacity_error": ["computeinstance-a"]}))
    vm = provider_for(inventory.get("vm-a"), inventory)
    with pytest.raises(NoCapacityError) as caught:
        vm.start(timeout=20)
    text = str(caught.value)
    assert "no free GPU" in text and "reservation" in text and "vm-a" in text
    assert caught.value.exit_code == 7
    assert calls == [] and vm.state().state is State.STOPPED


def test_nebius_new_address_after_restart(standin, inventory):
    _, state, _ = standin
    state.control_file.write_text(json.dumps({"new_address_on_restart": True}))
    vm = provider_for(inventory.get("vm-a"), inventory)
    assert vm.start(timeout=20).address == "10.0.0.55"
    assert vm.state().address == "10.0.0.55"


def test_nebius_unknown_instance_and_dead_endpoint(standin, inventory, tmp_path):
    host = inventory.get("vm-a")
    wrong = provider_for(host, settings={**inventory.extra["nebius"]})
    wrong.options["instance_id"] = "computeinstance-missing"
    with pytest.raises(ProviderError, match="instance_id"):
        wrong.state()
    dead = provider_for(host, settings={"endpoint": "127.0.0.1:9", "insecure": True, "auth": "none"})
    t0 = time.monotonic()
    with pytest.raises(ProviderError, match="did not answer"):
        dead.state(timeout=2)
    assert time.monotonic() - t0 < 10


def test_static_is_always_on_and_refuses_stop(inventory):
    desk = provider_for(inventory.get("desk"), inventory)
    assert isinstance(desk, StaticProvider) and desk.state().state is State.RUNNING
    assert desk.start().state is State.RUNNING
    with pytest.raises(ProviderError, match="static"):
        desk.stop()


def test_command_provider_runs_the_team_script(inventory, tmp_path):
    cmd = provider_for(inventory.get("cmd"), inventory)
    assert cmd.state().state is State.STOPPED
    started = cmd.start()
    assert started.state is State.RUNNING and started.address == "10.0.0.77"
    assert (tmp_path / "power.cmd").read_text().strip() == "running"  # RT_HOST reached the script
    assert cmd.start().state is State.RUNNING
    assert cmd.stop().state is State.STOPPED


def test_command_provider_failing_start(tmp_path):
    text = """
hosts:
  bad: {ssh: root@10.0.0.8, gpu: H100, gpu_memory_gb: 80,
        provider: {type: command, start: "echo no quota >&2; exit 3", stop: "true", state: "echo stopped"}}
"""
    inv = parse_inventory(text, tmp_path / "hosts.yaml")
    with pytest.raises(ProviderError, match="no quota"):
        provider_for(inv.get("bad"), inv).start()


def test_sandbox_standin_process_lifecycle(tmp_path):
    """What sandbox.up and sandbox.down do with the stand-in process, on a private root and port."""
    import socket

    from rt_sandbox import procs
    from rt_sandbox.nebius_process import ensure_sandbox_standin, sandbox_instance_id, stop_sandbox_standin

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    pid_file = tmp_path / ".sandbox" / "pids" / "nebius.pid"
    try:
        settings = ensure_sandbox_standin(tmp_path, {"vm-a": "10.0.0.5"}, port=port)
        assert settings == {"endpoint": f"127.0.0.1:{port}", "insecure": True, "auth": "none"}
        pid = procs.read_pid(pid_file)
        text = f"hosts:\n  vm-a: {{ssh: root@10.0.0.5, gpu_memory_gb: 80, provider: {{type: nebius, " \
               f"instance_id: {sandbox_instance_id('vm-a')}}}}}\n"
        inv = parse_inventory(text, tmp_path / "hosts.yaml")
        status = provider_for(inv.get("vm-a"), settings=settings).state()
        assert status.state is State.RUNNING and status.address == "10.0.0.5"
        assert ensure_sandbox_standin(tmp_path, {"vm-a": "10.0.0.5"}, port=port) == settings
        assert procs.read_pid(pid_file) == pid  # kept: a restart would lose its operations
        ensure_sandbox_standin(tmp_path, {"vm-a": "10.0.0.5", "vm-b": "10.0.0.6"}, port=port)
        assert procs.read_pid(pid_file) != pid  # the set of VMs changed: restarted with both
    finally:
        assert stop_sandbox_standin(tmp_path)
    assert not pid_file.exists() and not stop_sandbox_standin(tmp_path)


def test_standin_list_and_operations_through_sdk(standin, inventory):
    from nebius.api.nebius.common.v1 import ListOperationsRequest
    from nebius.api.nebius.compute.v1 import InstanceServiceClient, ListInstancesRequest

    from remote_training.fleet.providers.nebius import shared_sdk

    _, state, _ = standin
    state.add_instance("computeinstance-b", "vm-b", "10.0.0.6")
    client = InstanceServiceClient(shared_sdk(dict(inventory.extra["nebius"])))
    listed = client.list(ListInstancesRequest(parent_id="project-sandbox"), timeout=10).wait()
    assert sorted((i.metadata.name, i.status.state.name) for i in listed.items) == [("vm-a", "STOPPED"),
                                                                                  ("vm-b", "RUNNING")]
    provider_for(inventory.get("vm-a"), inventory).start(timeout=20)
    ops = client.operation_service().list(ListOperationsRequest(resource_id="computeinstance-a"), timeout=10).wait()
    assert [o.description for o in ops.operations] == ["start instance computeinstance-a"]
    assert ops.operations[0].status.code.name == "OK"


def test_nebius_without_any_credentials_says_how_to_log_in(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.nebius/config.yaml here
    monkeypatch.delenv("NEBIUS_IAM_TOKEN", raising=False)
    inv = parse_inventory("hosts:\n  vm: {ssh: root@10.0.0.5, gpu_memory_gb: 80, provider: "
                          "{type: nebius, instance_id: computeinstance-x}}\n", tmp_path / "hosts.yaml")
    with pytest.raises(ProviderError) as caught:
        provider_for(inv.get("vm"), inv).state(timeout=2)
    assert "CLI profile" in caught.value.message and "vm.login" in caught.value.fix
