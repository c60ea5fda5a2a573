"""The remote runner: one SSH connection per host, commands only from argument lists.

Nothing here pastes user text into a shell string: every command is a list of
arguments joined with shlex quoting, so `$(...)`, backticks, `;` and newlines
reach the remote program as plain bytes. Host keys are checked against
~/.ssh/known_hosts (and the files the ssh config names); an unknown host is
refused, never silently trusted, unlike Fabric's default. The same holds for
every ProxyJump hop (a bastion), with the same timeouts; every transport
sends keepalives.
"""
from __future__ import annotations

import errno
import io
import queue
import select
import shlex
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence, TypeVar

from ..errors import InputError, RemoteCommandError, RTError, UnreachableError
from .inventory import Host, Inventory

T = TypeVar("T")
PREWARM_JOIN_S = 2.0  # how long close() lets a background connect finish
PREWARM_HOLD_S = 1.0  # how long prewarm() waits for its dial to begin (imports and ssh config; never the network)


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
    """Per-host outcome of a parallel call (fan_out; snapshot.take_all: host name -> HostSnapshot), split
    the way Fabric's GroupResult is; both dicts in the order the hosts were given. The one group result."""

    succeeded: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, BaseException] = field(default_factory=dict)

    def fail(self, name: str, error: BaseException) -> None:
        """Count a host that answered as failed after all (its answer is of no use)."""
        self.succeeded.pop(name, None)
        self.failed[name] = error


class RemoteRunner:
    """Runs argument lists on inventory hosts over SSH (Fabric), or prints them in dry-run."""

    def __init__(self, inventory: Inventory, *, connect_timeout: float = 5.0, dry_run: bool = False,
                 echo: Callable[[str], None] | None = None) -> None:
        self.inventory = inventory
        self.connect_timeout = connect_timeout
        self.dry_run = dry_run
        self.echo = echo or (lambda line: print(line))
        self._connections: dict[str, Any] = {}
        self._prewarming: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}

    # -- connections -------------------------------------------------------
    def _fabric_config(self) -> Any:
        from fabric import Config

        if self.inventory.ssh_config:
            return Config(runtime_ssh_path=str(self.inventory.ssh_config))
        return Config()  # ~/.ssh/config and /etc/ssh/ssh_config, as ssh itself reads them

    def connection(self, host: Host, dialling: threading.Event | None = None) -> Any:
        """The host's open connection (opened now if it is not); `dialling` is set when the dial begins."""
        with self._lock:
            lock = self._host_locks.setdefault(host.name, threading.Lock())
        with lock:
            conn = self._connections.get(host.name)
            if conn is None:
                conn = self._open(host, dialling)
                self._connections[host.name] = conn
            return conn

    def prewarm(self, host: Host) -> None:
        """Open the host's connection in the background while the caller gets ready: the first real
        command finds it open. A failure is not kept: that command opens again and reports it. Once per host.

        Returns once the connection is being dialled, never later than `PREWARM_HOLD_S`: its imports (Fabric,
        paramiko) and the ssh config are CPU, and under one GIL they would otherwise share the processor with
        the caller's, delaying the dial; from the dial on, the handshake waits on the network and the caller
        runs beside it."""
        if any(t.name == f"prewarm-{host.name}" for t in self._prewarming):
            return
        dialling = threading.Event()

        def connect() -> None:
            try:
                self.connection(host, dialling)
            except Exception:  # noqa: BLE001 - reported by the command that needs the connection
                pass
            finally:
                dialling.set()

        thread = threading.Thread(target=connect, name=f"prewarm-{host.name}", daemon=True)
        self._prewarming.append(thread)
        thread.start()
        dialling.wait(PREWARM_HOLD_S)

    def _open(self, host: Host, dialling: threading.Event | None = None) -> Any:
        """The host's connection, opened: its ProxyJump hops first, each checked like the target."""
        config = self._fabric_config()
        conn = self._checked(host.ssh_host, host.ssh_user, host.ssh_port, config, seen=frozenset())
        if dialling is not None:
            dialling.set()
        hops: list[Any] = []
        gateway = conn.gateway
        while isinstance(gateway, _connection_class()):
            hops.insert(0, gateway)  # the first hop is the one connected to first
            gateway = gateway.gateway
        try:
            for i, hop in enumerate(hops):
                self._connect(hop, f"{host.name}: jump host {hop.original_host}", hop.original_host, hop=True,
                              via=hops[i - 1].original_host if i else None)
            self._connect(conn, host.name, host.ssh, via=hops[-1].original_host if hops else None)
        except BaseException:
            _close_chain(conn)
            raise
        return conn

    def _checked(self, name: str, user: str | None, port: int | None, config: Any, *, seen: frozenset,
                 gateway: Any = None) -> Any:
        """A Connection that refuses unknown host keys and answers within the connect timeout.

        Fabric would build a ProxyJump hop itself, with AutoAddPolicy and no timeout: a
        bastion's key would never be checked. So every hop is built here, the same way as
        the target: RejectPolicy, the same known_hosts files, the same timeouts, keepalive.
        """
        cls = _connection_class()
        if gateway is None:
            lookup = config.base_ssh_config.lookup(name)
            jump = str(lookup.get("proxyjump") or "").strip()
            if jump and jump.lower() != "none":
                chain: Any = None
                for spec in (s.strip() for s in jump.split(",")):
                    hop_user, hop_host, hop_port = _split_hop(spec)
                    if hop_host in seen | {name}:
                        chain = None  # a hop through itself (a wildcard Host block): connect directly, as Fabric does
                        break
                    chain = self._checked(hop_host, hop_user, hop_port, config, seen=seen | {name}, gateway=chain)
                gateway = chain if chain is not None else False
            elif "proxycommand" in lookup and str(lookup["proxycommand"]).lower() != "none":
                gateway = str(lookup["proxycommand"])  # a local command; the target's key is still checked
            else:
                gateway = False
        conn = cls(name, user=user, port=port, config=config, gateway=gateway,
                   connect_timeout=max(1, int(self.connect_timeout)),
                   # A host that accepts TCP but never speaks SSH must fail as fast as a closed one.
                   connect_kwargs={"banner_timeout": self.connect_timeout, "auth_timeout": self.connect_timeout})
        conn.connect_timeout = self.connect_timeout  # Fabric rounds it down to whole seconds
        conn.client.set_missing_host_key_policy(_reject_unknown_keys())
        for path in self._known_hosts_files(conn):
            if path.exists():
                conn.client.get_host_keys().load(str(path))
        return conn

    def _connect(self, conn: Any, who: str, name: str, *, hop: bool = False, via: str | None = None) -> None:
        """Open one connection of a chain; every failure is one line naming `who` and the fix."""
        import paramiko

        target = f"{conn.user}@{conn.host}:{conn.port}"
        where = f"{who} ({target})" + (f" via jump host {via}" if via else "")
        what = "the jump host" if hop else "the host"
        try:
            conn.open()
        except (socket.timeout, TimeoutError) as exc:
            raise UnreachableError(f"{where}: no SSH answer within {self.connect_timeout:g}s",
                                   f"check that {name} is up and its address in ~/.ssh/config" if hop else
                                   f"check that it is up (inv vm.status) or start it (inv vm.start {who})") from exc
        except paramiko.ssh_exception.NoValidConnectionsError as exc:  # every address refused or unroutable
            refused = any(e.errno == errno.ECONNREFUSED for e in exc.errors.values())
            raise UnreachableError(f"{where}: {'connection refused' if refused else 'no route to host'}",
                                   f"check {name}'s sshd and port in ~/.ssh/config" if hop else
                                   f"start it (inv vm.start {who}) or check its sshd and port") from exc
        except paramiko.ssh_exception.AuthenticationException as exc:
            raise UnreachableError(f"{where}: SSH authentication failed",
                                   f"add your key to {what} (ssh-copy-id {name}) or set IdentityFile in ~/.ssh/config"
                                   ) from exc
        except UnknownHostKey as exc:
            raise UnreachableError(f"{where}: host key unknown, refusing to connect",
                                   f"verify {what} and add its key: ssh {name} once, or ssh-keyscan") from exc
        except paramiko.ssh_exception.BadHostKeyException as exc:  # before SSHException: it is one
            raise UnreachableError(f"{where}: refusing to connect: {exc}",
                                   f"verify {what}; if it was rebuilt, drop the old key (ssh-keygen -R {conn.host})"
                                   ) from exc
        except paramiko.ssh_exception.ChannelException as exc:
            raise UnreachableError(f"{where}: jump host {via} could not reach it: {exc.text or exc}",
                                   f"check that {who} is up and that {via} can reach {conn.host}:{conn.port}") from exc
        except paramiko.ssh_exception.SSHException as exc:
            failure = _bare_ssh_failure(exc)
            if failure == "silent":  # a hung sshd or machine: the port took the connection, nothing more
                raise UnreachableError(f"{where}: no SSH answer within {self.connect_timeout:g}s (the port took the "
                                       "connection, no sshd spoke)", f"check {what}'s sshd (inv vm.status)") from exc
            if failure == "channel timeout":
                raise UnreachableError(f"{where}: jump host {via} did not reach it within {self.connect_timeout:g}s",
                                       f"check that {who} is up and that {via} can reach {conn.host}:{conn.port}"
                                       ) from exc
            raise UnreachableError(f"{where}: SSH failed: {exc}", f"check {what}'s sshd") from exc
        except OSError as exc:
            raise UnreachableError(f"{where}: {exc.strerror or exc}",
                                   "check the address in hosts.yaml or ~/.ssh/config") from exc

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
        # A connect still under way (prewarm, e.g. when the plan was refused) ends first, bounded: a process
        # that exits with a thread inside paramiko's handshake can die of signal 6 at exit.
        for thread in self._prewarming:
            thread.join(timeout=PREWARM_JOIN_S)
        self._prewarming.clear()
        for conn in self._connections.values():
            _close_chain(conn)
        self._connections.clear()

    def forget(self, host: Host) -> None:
        """Drop a cached connection (after a VM restart its address may change)."""
        conn = self._connections.pop(host.name, None)
        if conn is not None:
            _close_chain(conn)

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
        if timeout is not None:
            out = self._run_bounded(host, argv, command, timeout, stream, stdin)
            return self._raise_unless_ok(argv, out) if check else out
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
        return self._raise_unless_ok(argv, out) if check else out

    @staticmethod
    def _raise_unless_ok(argv: Sequence[str], out: RunResult) -> RunResult:
        if not out.ok:
            detail = (out.stderr.strip() or out.stdout.strip()).splitlines()[-1:] or [""]
            raise RemoteCommandError(f"{out.host}: `{shlex.join(argv)[:120]}` exited {out.exit_status}: {detail[0]}",
                                     "see the message above", exit_status=out.exit_status,
                                     stdout=out.stdout, stderr=out.stderr)
        return out

    def _run_bounded(self, host: Host, argv: Sequence[str], command: str, timeout: float, stream: Any,
                     stdin: str | None) -> RunResult:
        """A command with a deadline kept here. Invoke's own timeout cannot end a command whose host
        stopped answering (it waits for an exit status that never comes): this one drops the
        connection at the deadline and says so."""
        started = Exec.start(self, host, command)
        if stdin:
            started.channel.sendall(stdin.encode())
        started.channel.shutdown_write()
        deadline = time.monotonic() + timeout
        while started.pump(min(1.0, max(0.0, deadline - time.monotonic())), stream):
            if time.monotonic() >= deadline:
                started.channel.close()
                self.forget(host)
                raise RemoteCommandError(f"{host.name}: `{argv[0]}` did not finish within {timeout:g}s",
                                         f"check the host (inv vm.status {host.name}) and retry")
        return started.result(host.name, command)

    def put_text(self, host: Host | str, text: str | bytes, remote_path: str, *, mode: int = 0o600) -> None:
        """Write a file on the host over SFTP (its content never on a command line), then set its mode."""

        host = self.inventory.get(host) if isinstance(host, str) else host
        if self.dry_run:
            self.echo(f"[{host.name}] write {remote_path} (mode {mode:o}, {len(text)} bytes)")
            return
        conn = self.connection(host)
        data = text.encode() if isinstance(text, str) else text
        sftp = conn.sftp()
        sftp.get_channel().settimeout(120)  # a host that stops answering mid-upload fails, never hangs
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

        A host not done by `deadline` seconds is reported failed with UnreachableError. The
        workers are daemon threads: one still waiting on a host that missed the deadline never
        holds the process at exit (a ThreadPoolExecutor's workers are joined there).
        """
        outcome = FanOut()
        if not hosts:
            return outcome
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for index in range(len(hosts)):
            todo.put(index)
        results: dict[int, tuple[bool, Any]] = {}
        settled = threading.Condition()
        over = threading.Event()  # past the deadline: start no other host

        def worker() -> None:
            while not over.is_set():
                try:
                    index = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    result: tuple[bool, Any] = (True, work(hosts[index]))
                except BaseException as exc:  # noqa: BLE001 - reported per host, as a pool would
                    result = (False, exc)
                with settled:
                    results[index] = result
                    settled.notify_all()

        for n in range(min(max_workers, len(hosts))):
            threading.Thread(target=worker, name=f"fan-out-{n}", daemon=True).start()
        end = None if deadline is None else time.monotonic() + deadline
        with settled:
            while len(results) < len(hosts):
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    break
                settled.wait(left)
            over.set()
            finished = dict(results)
        for index, host in enumerate(hosts):
            if index in finished:
                ok, value = finished[index]
                if ok:
                    outcome.succeeded[host.name] = value
                else:
                    outcome.failed[host.name] = value
            else:
                outcome.failed[host.name] = UnreachableError(f"{host.name}: no answer within {deadline:g}s",
                                                             "check the host (inv vm.status)")
        return outcome


KEEPALIVE_S = 15  # an SSH keepalive on every transport: a NAT or firewall never drops an idle job's log stream
_CONNECTION_CLASS: Any = None
_REJECT_POLICY: Any = None


def _connection_class() -> Any:
    """Fabric's Connection with two bounds it lacks: the channel through a jump host opens within
    the connect timeout, and every transport sends keepalives. Built on first use (Fabric is heavy)."""
    global _CONNECTION_CLASS
    if _CONNECTION_CLASS is None:
        from fabric import Connection

        _quiet_ssh_library()

        class CheckedConnection(Connection):
            def open(self) -> Any:
                if self.is_connected:
                    return None
                result = super().open()
                if self.transport is not None:
                    self.transport.set_keepalive(KEEPALIVE_S)
                return result

            def open_gateway(self) -> Any:
                if not isinstance(self.gateway, Connection):
                    return super().open_gateway()  # a ProxyCommand string
                self.gateway.open()
                return self.gateway.transport.open_channel(
                    kind="direct-tcpip", dest_addr=(self.host, int(self.port)), src_addr=("", 0),
                    timeout=self.connect_timeout)

        _CONNECTION_CLASS = CheckedConnection
    return _CONNECTION_CLASS


class UnknownHostKey(Exception):
    """A host whose key no known_hosts file holds: refused, never written down (unlike Fabric's default)."""

    def __init__(self, hostname: str) -> None:
        super().__init__(f"{hostname} is not in known_hosts")
        self.hostname = hostname


def _reject_unknown_keys() -> Any:
    """paramiko's RejectPolicy, whose refusal is an UnknownHostKey (paramiko's own is a bare SSHException).
    The class is built on first use, as Fabric's is (paramiko is heavy to import)."""
    global _REJECT_POLICY
    if _REJECT_POLICY is None:
        import paramiko

        class RejectUnknownKey(paramiko.RejectPolicy):
            def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
                raise UnknownHostKey(hostname)

        _REJECT_POLICY = RejectUnknownKey
    return _REJECT_POLICY()


def _bare_ssh_failure(exc: Exception) -> Literal["silent", "channel timeout"] | None:
    """Which known failure a bare paramiko SSHException is: "silent" (the port took the connection and no sshd
    spoke within the timeout), "channel timeout" (a jump host did not open the channel to the target in time).

    The banner read's failure keeps its cause (a timeout or EOF) as the exception's context. The other two
    cases paramiko (5.1, transport.py) raises as a plain SSHException whose message is all it gives:
    "No existing session" when start_client's wait ends before the banner did (the next step then fails),
    and "Timeout opening channel." from open_channel. This is the one place that reads an error's text."""
    from paramiko.ssh_exception import SSHException

    if type(exc) is not SSHException:
        return None  # a subclass says more by its type
    if isinstance(exc.__context__, (OSError, EOFError)):  # transport._check_banner: the read itself failed
        return "silent"
    text = str(exc)
    if text.startswith("No existing session"):
        return "silent"
    if text.startswith("Timeout opening channel"):
        return "channel timeout"
    return None


def _quiet_ssh_library() -> None:
    """paramiko logs every transport failure at ERROR (`Exception (client): ...`, then its traceback line by
    line) from its own thread; with no handler configured, Python's last-resort handler prints those to
    stderr beside the one line per host that the caller already says. Its records stop at its own logger
    (a caller that wants them can still give `paramiko` a handler of its own)."""
    import logging

    library = logging.getLogger("paramiko")
    library.addHandler(logging.NullHandler())
    library.propagate = False


def _split_hop(spec: str) -> tuple[str | None, str, int | None]:
    """One ProxyJump hop, `[user@]host[:port]` or `ssh://[user@]host[:port]` (IPv6 in brackets)."""
    from .inventory import split_ssh_target

    text = spec[len("ssh://"):] if spec.startswith("ssh://") else spec
    return split_ssh_target(text)


def _close_chain(conn: Any) -> None:
    """Close a connection and the jump hosts it went through."""
    while conn is not None and not isinstance(conn, (bool, str)):
        try:
            conn.close()
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        conn = getattr(conn, "gateway", None)


class Exec:
    """One command on an SSH channel of its own, its output read as it arrives (`pump`)."""

    def __init__(self, channel: Any) -> None:
        import codecs

        self.channel = channel
        self.out, self.err = b"", b""
        self._decode_out = codecs.getincrementaldecoder("utf-8")("replace")
        self._decode_err = codecs.getincrementaldecoder("utf-8")("replace")

    @classmethod
    def start(cls, runner: "RemoteRunner", host: Host, command: str) -> "Exec":
        transport = runner.connection(host).client.get_transport()
        try:
            channel = transport.open_session(timeout=runner.connect_timeout)
            channel.exec_command(command)
        except Exception as exc:  # noqa: BLE001 - paramiko raises several kinds for a dead transport
            runner.forget(host)
            raise UnreachableError(f"{host.name}: could not start a command: {exc}",
                                   f"check the host (inv vm.status {host.name}) and retry") from exc
        return cls(channel)

    def pump(self, wait: float, stream: Any = None) -> bool:
        """Move what has arrived into the buffers (and `stream`); False once the command ended and all
        is read. Paramiko handles a channel's messages in order: once the exit status is in, so is the output."""
        select.select([self.channel], [], [], wait)
        got = False
        while self.channel.recv_ready():
            data = self.channel.recv(65536)
            self.out += data
            got = True
            if stream is not None:
                stream.write(self._decode_out.decode(data))
        while self.channel.recv_stderr_ready():
            data = self.channel.recv_stderr(65536)
            self.err += data
            got = True
            if stream is not None:
                stream.write(self._decode_err.decode(data))
        if got and stream is not None:
            stream.flush()
        return got or not self.channel.exit_status_ready()

    def result(self, host: str, command: str) -> RunResult:
        status = self.channel.recv_exit_status()
        self.channel.close()
        return RunResult(host, command, status, self.out.decode(errors="replace"), self.err.decode(errors="replace"))


def describe(error: BaseException) -> str:
    return str(error) if isinstance(error, RTError) else f"{type(error).__name__}: {error}"
