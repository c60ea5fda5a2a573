"""Scripted SSH hosts for tests of logic that needs no real host, in the style of Fabric's own test helpers.

Fabric's `fabric.testing.base` (`Session`, `Command`, `MockRemote`) replaces `fabric.connection.SSHClient`,
paramiko's client class as Fabric's Connection makes it, so everything above it runs for real: the
Connection, Fabric's Remote runner and, here, remote.RemoteRunner with its host-key policy, its bounded
`Exec` path (select() on the channel) and its error translation. Each Session is one host (address, port,
user) and the commands it answers, in order, as a real sshd would run them: stdout, stderr and an exit
status. Unlike fabric.testing's Mock objects these are small real classes, so a channel has a real file
descriptor (select() works on it) and an unexpected call fails loudly instead of returning a Mock.

    with FakeSsh(Session("127.0.0.1", 2201, commands=[Command(out=snapshot_text)])) as ssh:
        snap = snapshot.take(runner, host)
    ssh.assert_all_ran()

A connection to an address no Session names is refused (paramiko's NoValidConnectionsError), as a closed
port is; nothing here opens a socket.
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any
from unittest import mock


@dataclass
class Command:
    """One command a host answers: `cmd` (a regex the command must match; None: any), what it prints, its exit
    status. `waits`: how many exit_status_ready() calls say "not yet" first (a command still running)."""
    cmd: str | None = None
    out: str | bytes = b""
    err: str | bytes = b""
    exit: int = 0
    waits: int = 0


@dataclass
class Session:
    """One host: where it listens, and the commands it answers, in the order they come."""
    host: str
    port: int = 22
    user: str | None = None
    commands: list[Command] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)  # the commands that came, as sent (quoted)
    stdin: list[bytes] = field(default_factory=list)  # what each command was sent on its stdin

    def next_command(self, command: str) -> Command:
        if len(self.ran) >= len(self.commands):
            raise AssertionError(f"{self.host}:{self.port} got an unexpected command #{len(self.ran) + 1}: {command}")
        expected = self.commands[len(self.ran)]
        if expected.cmd is not None and not re.search(expected.cmd, command):
            raise AssertionError(f"{self.host}:{self.port} expected a command matching {expected.cmd!r}, "
                                 f"got: {command}")
        self.ran.append(command)
        return expected


# -- what a fleet host answers to snapshot.COMMAND (the format snapshot.BODY prints) -------------------------
def snapshot_output(smi: str = "NVIDIA H100 80GB HBM3, 81559, 0, 0\n", rows=(), ss: str = "", *, smi_status=0,
                    docker_status=0, ss_status=0, end=True) -> str:
    """What snapshot.BODY prints: nvidia-smi's CSV, docker ps rows (container_row), the listening sockets."""
    text = (f"{smi}--rt-snapshot-- smi {smi_status}\n--rt-snapshot-- docker {docker_status}\n"
            + "".join(r + "\n" for r in rows) + f"--rt-snapshot-- ss {ss_status}\n{ss}")
    return text + ("--rt-snapshot-- end\n" if end else "")


def container_row(name: str, *, job: str = "", state: str = "running", status: str = "Up 2 minutes", ports: str = "",
                  **labels: str) -> str:
    """One container as the snapshot's docker ps prints it (labels: rt_service="x" is the rt.service label)."""
    from remote_training.fleet import snapshot

    values = {"rt.job": job, **{k.replace("_", ".", 1) if k.startswith("rt_") else k: v for k, v in labels.items()}}
    return json.dumps([f"id-{name}", name, state, status, ports, *[values.get(k, "") for k in snapshot.LABELS]])


def _bytes(text: str | bytes) -> bytes:
    return text.encode() if isinstance(text, str) else text


class FakeChannel:
    """The paramiko Channel calls that remote.Exec and Fabric's Remote runner make."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._out = self._err = b""
        self._exit: int | None = None
        self._waits = 0
        self._stdin = b""
        self.closed = False
        self._read, self._write = os.pipe()  # readable once output is there: what select() waits on

    # -- running -----------------------------------------------------------
    def exec_command(self, command: str) -> None:
        answer = self.session.next_command(command)
        self._out, self._err, self._exit, self._waits = _bytes(answer.out), _bytes(answer.err), answer.exit, \
            answer.waits
        os.write(self._write, b"x")

    def update_environment(self, env: dict[str, str]) -> None:
        raise AssertionError("remote commands carry their environment on the command line (quote_command)")

    def get_pty(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("remote commands run without a pty")

    def settimeout(self, timeout: float | None) -> None:
        pass

    # -- input ---------------------------------------------------------------
    def sendall(self, data: bytes) -> None:
        self._stdin += data

    def shutdown_write(self) -> None:
        self.session.stdin.append(self._stdin)

    # -- output --------------------------------------------------------------
    def fileno(self) -> int:
        return self._read

    def recv_ready(self) -> bool:
        return bool(self._out)

    def recv(self, size: int) -> bytes:
        data, self._out = self._out[:size], self._out[size:]
        return data

    def recv_stderr_ready(self) -> bool:
        return bool(self._err)

    def recv_stderr(self, size: int) -> bytes:
        data, self._err = self._err[:size], self._err[size:]
        return data

    def exit_status_ready(self) -> bool:
        if self._exit is None:
            return False
        if self._waits:
            self._waits -= 1
            return False
        return True

    def recv_exit_status(self) -> int:
        if self._exit is None:
            raise AssertionError("recv_exit_status before exec_command")
        return self._exit

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._read)
            os.close(self._write)


class FakeTransport:
    """The paramiko Transport calls that remote.py and Fabric's Connection make."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.active = True
        self.keepalive: int | None = None
        self.channels: list[FakeChannel] = []

    def is_active(self) -> bool:
        return self.active

    def set_keepalive(self, interval: int) -> None:
        self.keepalive = interval

    def open_session(self, timeout: float | None = None) -> FakeChannel:
        channel = FakeChannel(self.session)
        self.channels.append(channel)
        return channel

    def close(self) -> None:
        self.active = False
        for channel in self.channels:
            channel.close()


class FakeSsh:
    """While active, Fabric's Connections reach the Sessions' scripted hosts instead of the network."""

    def __init__(self, *sessions: Session) -> None:
        self.sessions = list(sessions)
        self.connected: list[dict[str, Any]] = []  # each client.connect()'s keywords, as Fabric passed them
        self.clients: list[_FakeClient] = []
        self._lock = threading.Lock()
        self._patch = mock.patch("fabric.connection.SSHClient", self._client)

    def _client(self) -> Any:
        client = _FakeClient(self)
        with self._lock:
            self.clients.append(client)
        return client

    def session_for(self, hostname: str, port: int, username: str | None) -> Session | None:
        return next((s for s in self.sessions if s.host == hostname and s.port == port
                     and (s.user is None or s.user == username)), None)

    def assert_all_ran(self) -> None:
        """Every scripted command came (in order: session_for checks each as it comes)."""
        left = {f"{s.host}:{s.port}": len(s.commands) - len(s.ran) for s in self.sessions
                if len(s.ran) < len(s.commands)}
        assert not left, f"commands never run, by host: {left}"

    def __enter__(self) -> FakeSsh:
        self._patch.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._patch.stop()


class _FakeClient:
    """paramiko.SSHClient as Fabric's Connection uses it: a host-key policy, host keys, connect, a transport."""

    def __init__(self, fake: FakeSsh) -> None:
        import paramiko

        self.fake = fake
        self.policy: Any = None
        self.host_keys = paramiko.HostKeys()  # real: remote.py loads the known_hosts files into it
        self.transport: FakeTransport | None = None

    def set_missing_host_key_policy(self, policy: Any) -> None:
        self.policy = policy

    def get_host_keys(self) -> Any:
        return self.host_keys

    def load_system_host_keys(self, filename: str | None = None) -> None:
        pass

    def connect(self, hostname: str, port: int = 22, username: str | None = None, **kwargs: Any) -> None:
        import paramiko

        with self.fake._lock:
            self.fake.connected.append({"hostname": hostname, "port": port, "username": username, **kwargs})
        session = self.fake.session_for(hostname, int(port), username)
        if session is None:  # as a closed port answers
            raise paramiko.ssh_exception.NoValidConnectionsError(
                {(hostname, int(port)): ConnectionRefusedError(111, "Connection refused")})
        self.transport = FakeTransport(session)

    def get_transport(self) -> FakeTransport | None:
        return self.transport

    def open_sftp(self) -> Any:
        raise AssertionError("FakeSsh does not script SFTP; a test of uploads runs against the sandbox")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
