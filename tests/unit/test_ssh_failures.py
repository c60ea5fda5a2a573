"""How remote.py names each way an SSH connect fails, by the failure's type (not paramiko's text): the real
RemoteRunner, Fabric and paramiko client against loopback listeners (one that never speaks, one that hangs
up, and paramiko's own SSH server with a fresh host key), no root and no sandbox. The sandbox tier does the
same against real sshd hosts (tests/sandbox/test_remote.py, test_jump_hosts.py)."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import paramiko
import pytest

from remote_training.errors import UnreachableError
from remote_training.fleet.inventory import parse_inventory
from remote_training.fleet.remote import RemoteRunner

TIMEOUT_S = 1.0


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No key or known host of this machine's user may decide a test."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


class _Server(paramiko.ServerInterface):
    """Any public key is let in; a jump channel is answered only after `channel_delay` s, refused."""

    def __init__(self, channel_delay: float) -> None:
        self.channel_delay = channel_delay

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: Any) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_direct_tcpip_request(self, chanid: int, origin: Any, destination: Any) -> int:
        time.sleep(self.channel_delay)
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


@pytest.fixture()
def sshd() -> Iterator[tuple[int, paramiko.PKey, _Server]]:
    """paramiko's SSH server on a loopback port, with a host key made for this test: (port, key, server)."""
    listener, key, server = _listener(), paramiko.ECDSAKey.generate(), _Server(channel_delay=0)
    listener.settimeout(0.1)  # accept() wakes to see the test end
    transports: list[paramiko.Transport] = []
    over = threading.Event()

    def serve() -> None:
        while not over.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            transport = paramiko.Transport(conn)
            transport.add_server_key(key)
            transports.append(transport)
            transport.start_server(server=server)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], key, server
    finally:
        over.set()
        thread.join(5)
        listener.close()
        for transport in transports:
            transport.close()


def _runner(tmp_path: Path, config: str, known_hosts: str = "") -> RemoteRunner:
    client_key = paramiko.ECDSAKey.generate()
    client_key.write_private_key_file(str(tmp_path / "id_ecdsa"))
    (tmp_path / "known_hosts").write_text(known_hosts)
    (tmp_path / "ssh_config").write_text(config.format(identity=tmp_path / "id_ecdsa",
                                                       known=tmp_path / "known_hosts"))
    text = "ssh_config: ssh_config\nknown_hosts: known_hosts\nhosts:\n  box:\n    ssh: box\n    gpu_memory_gb: 1\n"
    return RemoteRunner(parse_inventory(text, tmp_path / "hosts.yaml"), connect_timeout=TIMEOUT_S)


def _direct(port: int) -> str:
    return (f"Host box\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {{identity}}\n"
            "  UserKnownHostsFile {known}\n")


def _refused(runner: RemoteRunner) -> UnreachableError:
    start = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        runner.run("box", ["true"])
    assert time.monotonic() - start < TIMEOUT_S + 3, "a failed connect is bounded by the connect timeout"
    runner.close()
    return caught.value


def test_a_port_that_takes_the_connection_and_never_speaks_is_named_silent(tmp_path):
    listener = _listener()  # the kernel accepts; nothing ever sends a banner
    try:
        error = _refused(_runner(tmp_path, _direct(listener.getsockname()[1])))
    finally:
        listener.close()
    assert error.message.endswith(f"no SSH answer within {TIMEOUT_S:g}s (the port took the connection, "
                                  "no sshd spoke)"), error.message
    assert error.fix == "check the host's sshd (inv vm.status)"


def test_a_port_that_hangs_up_at_once_is_named_silent_too(tmp_path):
    listener = _listener()

    def hang_up() -> None:
        conn, _ = listener.accept()
        conn.close()  # the client's banner read meets EOF: the same failure as a banner that never came

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    try:
        error = _refused(_runner(tmp_path, _direct(listener.getsockname()[1])))
    finally:
        thread.join(5)
        listener.close()
    assert "no sshd spoke" in error.message, error.message


def test_an_unknown_host_key_is_refused_and_never_written_down(tmp_path, sshd):
    port, _, _ = sshd
    error = _refused(_runner(tmp_path, _direct(port)))
    assert error.message == f"box (root@127.0.0.1:{port}): host key unknown, refusing to connect"
    assert error.fix == "verify the host and add its key: ssh box once, or ssh-keyscan"
    assert (tmp_path / "known_hosts").read_text() == ""


def test_a_changed_host_key_is_refused(tmp_path, sshd):
    port, _, _ = sshd
    other = paramiko.ECDSAKey.generate()
    error = _refused(_runner(tmp_path, _direct(port), f"[127.0.0.1]:{port} {other.get_name()} {other.get_base64()}\n"))
    assert error.message.startswith(f"box (root@127.0.0.1:{port}): refusing to connect: "), error.message
    assert "ssh-keygen -R 127.0.0.1" in error.fix


def test_the_right_host_key_connects(tmp_path, sshd):
    """The servers above refuse for the reasons named, not because they cannot be reached at all."""
    port, key, _ = sshd
    runner = _runner(tmp_path, _direct(port), f"[127.0.0.1]:{port} {key.get_name()} {key.get_base64()}\n")
    try:
        assert runner.connection(runner.inventory.get("box")).is_connected
    finally:
        runner.close()


def test_a_jump_host_that_does_not_open_the_channel_in_time_is_named(tmp_path, sshd):
    port, key, server = sshd
    server.channel_delay = TIMEOUT_S + 1  # the bastion sits on the target's channel past the timeout
    config = (f"Host bastion\n  HostName 127.0.0.1\n  Port {port}\n  User root\n  IdentityFile {{identity}}\n"
              "  UserKnownHostsFile {known}\n"
              "Host box\n  HostName 10.0.0.9\n  User root\n  IdentityFile {identity}\n"
              "  UserKnownHostsFile {known}\n  ProxyJump bastion\n")
    error = _refused(_runner(tmp_path, config, f"[127.0.0.1]:{port} {key.get_name()} {key.get_base64()}\n"))
    assert error.message == (f"box (root@10.0.0.9:22) via jump host bastion: jump host bastion did not reach it "
                             f"within {TIMEOUT_S:g}s"), error.message
    assert error.fix == "check that box is up and that bastion can reach 10.0.0.9:22"


def test_prewarm_returns_once_the_dial_began_not_after_the_handshake(tmp_path):
    """prewarm() holds its caller through the connect's CPU (imports, ssh config, known_hosts), never through the
    network: against a port that never speaks, it returns with the connection built and the handshake waiting."""
    listener = _listener()
    listener.settimeout(TIMEOUT_S)
    runner = _runner(tmp_path, _direct(listener.getsockname()[1]))
    built = threading.Event()
    checked = runner._checked

    def building(*args: Any, **kwargs: Any) -> Any:
        conn = checked(*args, **kwargs)
        built.set()
        return conn

    runner._checked = building  # type: ignore[method-assign]
    try:
        runner.prewarm(runner.inventory.get("box"))
        assert built.is_set(), "prewarm returned before the connection was built: its CPU would share the caller's"
        (thread,) = runner._prewarming
        assert thread.is_alive(), "prewarm waited for the handshake (or gave up on the dial)"
        conn, _ = listener.accept()  # the dial reached the port
        conn.close()
    finally:
        runner.close()
        listener.close()
    assert not runner._connections, "a connect that never got an SSH answer is not kept"
