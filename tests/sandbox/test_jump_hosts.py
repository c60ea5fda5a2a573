"""ProxyJump hops are checked like targets: known_hosts, RejectPolicy, timeouts, one error naming the hop.

The sandbox hosts sit in separate network namespaces on one bridge, but the root namespace's
FORWARD policy (Docker's DROP, with bridge netfilter on) drops traffic from one host to another,
so a bastion cannot reach another sandbox host over the bridge. The target here is therefore the
bastion's own sshd as the bastion itself sees it, at 127.0.0.1: a real second SSH session, opened
through a direct-tcpip channel of the first, and known under its own known_hosts entry
(`127.0.0.1`, distinct from the bastion's `10.213.0.10`). `$SSH_CLIENT` on the target proves the
way it came.
"""
from __future__ import annotations

import time
from pathlib import Path

import paramiko
import pytest

from remote_training.errors import UnreachableError
from remote_training.fleet.inventory import parse_inventory
from remote_training.fleet.remote import KEEPALIVE_S, RemoteRunner


def _host_key(sandbox, name: str) -> str:
    key = Path(sandbox["root"], ".sandbox", "hosts", name, "ssh_host_ed25519_key.pub").read_text().split()
    return f"{key[0]} {key[1]}"


def _fleet(sandbox, tmp_path: Path, *, bastion: str, known: dict[str, str], target_port: int = 22,
           jump: str = "bastion"):
    """An inventory whose host `inner` is reached through ProxyJump `jump`; `known` is known_hosts."""
    identity = sandbox["identity_file"]
    (tmp_path / "known_hosts").write_text("".join(f"{host} {key}\n" for host, key in known.items()))
    (tmp_path / "ssh_config").write_text(
        f"Host bastion\n  HostName {bastion}\n  User root\n  IdentityFile {identity}\n"
        f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n"
        f"Host inner\n  HostName 127.0.0.1\n  Port {target_port}\n  User root\n  IdentityFile {identity}\n"
        f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n  ProxyJump {jump}\n")
    text = "ssh_config: ssh_config\nhosts:\n  inner:\n    ssh: inner\n    gpu_memory_gb: 1\n"
    return parse_inventory(text, tmp_path / "hosts.yaml")


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    """No key from the user's own ~/.ssh/known_hosts may make a refusal pass."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))


def test_jump_host_with_known_keys_works(sandbox, tmp_path):
    bastion = sandbox["hosts"]["desktop"]["address"]
    key = _host_key(sandbox, "desktop")
    runner = RemoteRunner(_fleet(sandbox, tmp_path, bastion=bastion, known={bastion: key, "127.0.0.1": key}),
                          connect_timeout=5)
    try:
        out = runner.run("inner", ["sh", "-c", 'hostname; echo "$SSH_CLIENT"'])
        name, client = out.stdout.splitlines()
        assert name == "desktop"
        assert client.split()[0] == "127.0.0.1", "the target must be reached through the bastion's channel"
        conn = runner.connection(runner.inventory.get("inner"))
        hop = conn.gateway
        assert hop.original_host == "bastion" and hop.host == bastion and hop.is_connected
        for c in (conn, hop):  # the hop is built with the target's policy, timeout and keepalive
            assert isinstance(c.client._policy, paramiko.RejectPolicy)  # remote.py's own, with a typed refusal
            assert c.connect_timeout == 5
            assert c.transport.packetizer._Packetizer__keepalive_interval == KEEPALIVE_S
    finally:
        runner.close()
    assert not hop.is_connected, "closing the runner closes the jump host too"


def test_unknown_bastion_key_is_refused_naming_the_hop(sandbox, tmp_path):
    bastion = sandbox["hosts"]["desktop"]["address"]
    known = {"127.0.0.1": _host_key(sandbox, "desktop")}  # the target is known, the bastion is not
    runner = RemoteRunner(_fleet(sandbox, tmp_path, bastion=bastion, known=known), connect_timeout=5)
    with pytest.raises(UnreachableError) as caught:
        runner.run("inner", ["true"])
    text = str(caught.value)
    assert text.startswith(f"inner: jump host bastion (root@{bastion}:22): host key unknown, refusing to connect")
    assert "fix:" in text and "\n" not in text
    assert (tmp_path / "known_hosts").read_text().count("\n") == 1, "an unknown key must never be written down"


def test_changed_bastion_key_is_refused_naming_the_hop(sandbox, tmp_path):
    bastion = sandbox["hosts"]["desktop"]["address"]
    known = {bastion: _host_key(sandbox, "vm-train"), "127.0.0.1": _host_key(sandbox, "desktop")}
    runner = RemoteRunner(_fleet(sandbox, tmp_path, bastion=bastion, known=known), connect_timeout=5)
    with pytest.raises(UnreachableError) as caught:
        runner.run("inner", ["true"])
    text = str(caught.value)
    assert "jump host bastion" in text and "does not match" in text and f"ssh-keygen -R {bastion}" in text


def test_unknown_target_key_behind_a_known_bastion_names_the_target(sandbox, tmp_path):
    bastion = sandbox["hosts"]["desktop"]["address"]
    runner = RemoteRunner(_fleet(sandbox, tmp_path, bastion=bastion, known={bastion: _host_key(sandbox, "desktop")}),
                          connect_timeout=5)
    with pytest.raises(UnreachableError) as caught:
        runner.run("inner", ["true"])
    text = str(caught.value)
    assert text.startswith("inner (root@127.0.0.1:22) via jump host bastion: host key unknown")
    assert "jump host bastion (" not in text


def test_dead_bastion_fails_within_the_connect_timeout(sandbox, tmp_path):
    silent = sandbox["bridge_address"].rsplit(".", 1)[0] + ".250"  # no host holds it: nothing answers
    runner = RemoteRunner(_fleet(sandbox, tmp_path, bastion=silent, known={}), connect_timeout=2)
    start = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        runner.run("inner", ["true"])
    elapsed = time.monotonic() - start
    assert elapsed < 4, f"took {elapsed:.1f}s"
    assert str(caught.value).startswith(f"inner: jump host bastion (root@{silent}:22): no SSH answer within 2s")


def test_target_the_bastion_cannot_reach_is_named(sandbox, tmp_path):
    bastion = sandbox["hosts"]["desktop"]["address"]
    key = _host_key(sandbox, "desktop")
    runner = RemoteRunner(_fleet(sandbox, tmp_path, bastion=bastion, known={bastion: key, "[127.0.0.1]:2": key},
                                 target_port=2), connect_timeout=3)
    start = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        runner.run("inner", ["true"])
    assert time.monotonic() - start < 5
    text = str(caught.value)
    assert text.startswith("inner (root@127.0.0.1:2) via jump host bastion: jump host bastion could not reach it")


def test_a_jump_chain_through_itself_connects_directly(sandbox, tmp_path):
    """`Host *`-style configs make the bastion its own ProxyJump; like Fabric, it is reached directly."""
    bastion = sandbox["hosts"]["desktop"]["address"]
    key = _host_key(sandbox, "desktop")
    identity = sandbox["identity_file"]
    (tmp_path / "known_hosts").write_text(f"{bastion} {key}\n")
    (tmp_path / "ssh_config").write_text(
        f"Host bastion\n  HostName {bastion}\n  User root\n  IdentityFile {identity}\n"
        f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n  ProxyJump bastion\n")
    inv = parse_inventory("ssh_config: ssh_config\nhosts:\n  b:\n    ssh: bastion\n    gpu_memory_gb: 1\n",
                          tmp_path / "hosts.yaml")
    runner = RemoteRunner(inv, connect_timeout=5)
    try:
        assert runner.run("b", ["hostname"]).stdout.strip() == "desktop"
        assert runner.connection(inv.get("b")).gateway is False
    finally:
        runner.close()
