"""The remote runner: one SSH connection per host, commands only from argument lists.

Nothing here pastes user text into a shell string: every command is a list of
arguments joined with shlex quoting, so `$(...)`, backticks, `;` and newlines
reach the remote program as plain bytes. Host keys are checked against
~/.ssh/known_hosts (and the files the ssh config names); an unknown host is
refused, never silently trusted, unlike Fabric's default.
"""
from __future__ import annotations

import io
import shlex
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from .errors import InputError, RemoteCommandError, RTError, UnreachableError
from .inventory import Host, Inventory

T = TypeVar("T")


@dataclass(frozen=True)
class RunResult:
    host: str
    command: str
    exit_status: int
    stdout: str = ""
    stderr: str = ""
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_status == 0


class _WholeText(io.StringIO):
    """Stdin for a remote command, handed over in one read.

    Invoke reads a stream that is not a TTY one byte per call, with a 10 ms nap
    between calls: 200 bytes of environment would take two seconds.
    """

    def read(self, size: int | None = -1) -> str:
        return super().read()


def quote_command(argv: Sequence[str], env: dict[str, str] | None = None, cwd: str | None = None) -> str:
    """The one way a remote command line is made: every piece quoted.

    `cwd` may start with `~/` (expanded by the remote shell); the rest is quoted.
    """
    if isinstance(argv, (str, bytes)) or not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError("a remote command is a non-empty list of strings")
    pieces = [*argv, *(env or {}).values(), cwd or ""]
    if any("\0" in piece for piece in pieces):
        # No shell or exec can carry a NUL byte; sending one would just drop the SSH channel.
        raise InputError("an argument holds a NUL character, which no remote command can receive",
                         "remove the NUL from the argument")
    parts = []
    if cwd:
        parts.append("cd " + _quote_path(cwd) + " &&")
    if env:
        parts.append("env " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items()))
    parts.append(shlex.join(argv))
    return " ".join(parts)


def _quote_path(path: str) -> str:
    if path == "~":
        return '"$HOME"'
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


@dataclass
class FanOut:
    """Per-host outcome of a parallel call, split the way Fabric's GroupResult is."""

    succeeded: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)


class RemoteRunner:
    """Runs argument lists on inventory hosts over SSH (Fabric), or prints them in dry-run."""

    def __init__(self, inventory: Inventory, *, connect_timeout: float = 5.0, dry_run: bool = False,
                 echo: Callable[[str], None] | None = None) -> None:
        self.inventory = inventory
        self.connect_timeout = connect_timeout
        self.dry_run = dry_run
        self.echo = echo or (lambda line: print(line))
        self._connections: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}

    # -- connections -------------------------------------------------------
    def _fabric_config(self) -> Any:
        from fabric import Config

        if self.inventory.ssh_config:
            return Config(runtime_ssh_path=str(self.inventory.ssh_config))
        return Config()  # ~/.ssh/config and /etc/ssh/ssh_config, as ssh itself reads them

    def connection(self, host: Host) -> Any:
        with self._lock:
            lock = self._host_locks.setdefault(host.name, threading.Lock())
        with lock:
            conn = self._connections.get(host.name)
            if conn is None:
                conn = self._open(host)
                self._connections[host.name] = conn
            return conn

    def prewarm(self, host: Host) -> None:
        """Open the host's connection in the background while the caller gets ready: the first real
        command finds it open. A failure is not kept: that command opens again and reports it."""
        def connect() -> None:
            try:
                self.connection(host)
            except Exception:  # noqa: BLE001 - reported by the command that needs the connection
                pass

        threading.Thread(target=connect, name=f"prewarm-{host.name}", daemon=True).start()

    def _open(self, host: Host) -> Any:
        import paramiko
        from fabric import Connection

        conn = Connection(host.ssh_host, user=host.ssh_user, port=host.ssh_port, config=self._fabric_config(),
                          connect_timeout=self.connect_timeout,
                          # A host that accepts TCP but never speaks SSH must fail as fast as a closed one.
                          connect_kwargs={"banner_timeout": self.connect_timeout,
                                          "auth_timeout": self.connect_timeout})
        conn.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        for path in self._known_hosts_files(conn):
            if path.exists():
                conn.client.get_host_keys().load(str(path))
        target = f"{conn.user}@{conn.host}:{conn.port}"
        try:
            conn.open()
        except (socket.timeout, TimeoutError) as exc:
            raise UnreachableError(f"{host.name} ({target}): no SSH answer within {self.connect_timeout:g}s",
                                   f"check that it is up (inv vm.status) or start it (inv vm.start {host.name})") from exc
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            raise UnreachableError(f"{host.name} ({target}): connection refused",
                                   f"start it (inv vm.start {host.name}) or check its sshd and port") from exc
        except paramiko.ssh_exception.AuthenticationException as exc:
            raise UnreachableError(f"{host.name} ({target}): SSH authentication failed",
                                   "add your key to the host (ssh-copy-id) or set IdentityFile in ~/.ssh/config") from exc
        except paramiko.ssh_exception.BadHostKeyException as exc:  # before SSHException: it is one
            raise UnreachableError(f"{host.name} ({target}): refusing to connect: {exc}",
                                   f"verify the host; if it was rebuilt, drop the old key (ssh-keygen -R {conn.host})"
                                   ) from exc
        except paramiko.ssh_exception.SSHException as exc:
            if "known_hosts" in str(exc) or "not found in" in str(exc):
                raise UnreachableError(f"{host.name} ({target}): host key unknown, refusing to connect",
                                       f"verify the host and add its key: ssh {host.ssh} once, or ssh-keyscan") from exc
            raise UnreachableError(f"{host.name} ({target}): SSH failed: {exc}", "check the host's sshd") from exc
        except OSError as exc:
            raise UnreachableError(f"{host.name} ({target}): {exc.strerror or exc}",
                                   "check the address in hosts.yaml or ~/.ssh/config") from exc
        return conn

    def _known_hosts_files(self, conn: Any) -> list[Path]:
        files = [Path("~/.ssh/known_hosts").expanduser()]
        configured = conn.ssh_config.get("userknownhostsfile")
        if configured:
            items = configured if isinstance(configured, list) else configured.split()
            files += [Path(p).expanduser() for p in items]
        if self.inventory.known_hosts:
            files.append(self.inventory.known_hosts)
        return files

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def forget(self, host: Host) -> None:
        """Drop a cached connection (after a VM restart its address may change)."""
        conn = self._connections.pop(host.name, None)
        if conn is not None:
            conn.close()

    # -- commands ----------------------------------------------------------
    def run(self, host: Host | str, argv: Sequence[str], *, env: dict[str, str] | None = None,
            cwd: str | None = None, check: bool = True, timeout: float | None = None,
            mutating: bool = True, stream: Any = None, stdin: str | None = None) -> RunResult:
        """Run one command. In dry-run, a mutating command is only printed.

        `env` is for non-secret values only: it is on the remote command line. `stdin` is
        where secrets go; the command must read it to the end before it exits (a command
        that exits first closes the channel under the write).
        """
        host = self.inventory.get(host) if isinstance(host, str) else host
        command = quote_command(argv, env=env, cwd=cwd)
        if self.dry_run and mutating:
            self.echo(f"[{host.name}] {command}")
            return RunResult(host.name, command, 0, dry_run=True)
        conn = self.connection(host)
        from invoke.exceptions import CommandTimedOut

        kwargs: dict[str, Any] = {"hide": stream is None, "warn": True, "timeout": timeout, "pty": False,
                                  "in_stream": False}
        if stream is not None:
            kwargs.update(out_stream=stream, err_stream=stream)
        if stdin is not None:
            kwargs["in_stream"] = _WholeText(stdin)
        try:
            result = conn.run(command, **kwargs)
        except CommandTimedOut as exc:
            raise RemoteCommandError(f"{host.name}: `{argv[0]}` did not finish within {timeout}s",
                                     "retry, or raise the timeout") from exc
        except (socket.error, EOFError) as exc:
            self.forget(host)
            raise UnreachableError(f"{host.name}: connection lost: {exc}", "check the host and retry") from exc
        out = RunResult(host.name, command, result.exited, result.stdout, result.stderr)
        if check and not out.ok:
            detail = (out.stderr.strip() or out.stdout.strip()).splitlines()[-1:] or [""]
            raise RemoteCommandError(f"{host.name}: `{shlex.join(argv)[:120]}` exited {out.exit_status}: {detail[0]}",
                                     "see the message above", exit_status=out.exit_status,
                                     stdout=out.stdout, stderr=out.stderr)
        return out

    def put_text(self, host: Host | str, text: str | bytes, remote_path: str, *, mode: int = 0o600) -> None:
        """Write a file on the host over SFTP (its content never on a command line), then set its mode."""
        import io

        host = self.inventory.get(host) if isinstance(host, str) else host
        if self.dry_run:
            self.echo(f"[{host.name}] write {remote_path} (mode {mode:o}, {len(text)} bytes)")
            return
        conn = self.connection(host)
        data = text.encode() if isinstance(text, str) else text
        sftp = conn.sftp()
        path = remote_path
        if path.startswith("~/"):
            path = path[2:]  # SFTP paths are relative to the login directory
        with sftp.file(path, "wb") as fh:
            fh.set_pipelined(True)
            fh.write(data)
        sftp.chmod(path, mode)

    # -- many hosts at once ----------------------------------------------------
    def fan_out(self, hosts: Sequence[Host], work: Callable[[Host], T], *, max_workers: int = 16,
                deadline: float | None = None) -> FanOut:
        """Call `work(host)` for every host in a bounded pool; a slow host never holds up the rest.

        A host not done by `deadline` seconds is reported failed with UnreachableError.
        """
        outcome = FanOut()
        if not hosts:
            return outcome
        pool = ThreadPoolExecutor(max_workers=min(max_workers, len(hosts)))
        futures = {pool.submit(work, h): h for h in hosts}
        done, pending = wait(futures, timeout=deadline)
        for future in done:
            host = futures[future]
            exc = future.exception()
            if exc is None:
                outcome.succeeded[host.name] = future.result()
            else:
                outcome.failed[host.name] = exc
        for future in pending:
            host = futures[future]
            outcome.failed[host.name] = UnreachableError(f"{host.name}: no answer within {deadline:g}s",
                                                         "check the host (inv vm.status)")
        pool.shutdown(wait=False, cancel_futures=True)
        return outcome


def describe(error: BaseException) -> str:
    return str(error) if isinstance(error, RTError) else f"{type(error).__name__}: {error}"


def wait_until(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.5) -> bool:
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(interval)
