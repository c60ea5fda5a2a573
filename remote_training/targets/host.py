"""Fixed hosts as a Target: jobs are compose containers, found by their labels over SSH (jobs/monitor.py),
started by one launch command (jobs/compose.py) held at its gate (jobs/gate.py) while the checks run:
`HostStart` is a fixed host's start, from the opened command to a server's port and the log's end."""
from __future__ import annotations

import builtins
import socket
import ssl
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Mapping, Sequence

from ..errors import InputError, JobFailed, RTError
from ..fleet.inventory import Host
from ..fleet.remote import RemoteRunner, quote_command
from ..jobs import compose, monitor
from ..jobs.catalog import MODEL_SERVER, Readiness
from ..jobs.gate import Gate, open_gate
from ..jobs.spec import Guard, LaunchResult
from ..progress import Phase, silent
from .base import Found, Server, Start, Target

MODEL_SERVER_READY = Readiness("http", MODEL_SERVER.path)


class FixedHosts(Target):
    """The fixed hosts a command names (every one of the inventory without --host), over one SSH runner."""

    def __init__(self, runner: RemoteRunner, hosts: Sequence[Host]) -> None:
        self.runner = runner
        self.hosts = list(hosts)
        self.names = [h.name for h in self.hosts]

    def _found(self, job: Any) -> Found:
        return Found(job, self, port=job.port or "")

    def provision(self, name: str, *, auto_start: bool, dry_run: bool, echo: Callable[[str], None]) -> None:
        """A VM that does not answer and that its provider says is stopped is started here (it costs money from
        then on: `auto_start` is vm.auto_start); a static host, or one that answers, is left as it is. The
        answer is the connection `prewarm` opened; the provider is asked only when there is none."""
        host = self.runner.inventory.get(name)
        if host.provider.type == "static":
            return
        try:
            self.runner.connection(host)
            return
        except (RTError, OSError):
            self.runner.forget(host)
        from ..fleet.providers import provider_for

        try:
            power = provider_for(host, self.runner.inventory).state().state.value.lower()
        except RTError:
            return  # the provider cannot say: the checks report the host as they find it
        if power != "stopped":
            return  # running but silent, or on its way: the checks say so
        if dry_run:
            echo(f"provision: {name} is stopped: a real launch starts it here, before the checks")
        elif auto_start:
            from ..fleet.lifecycle import ensure_running

            ensure_running(self.runner, host, auto_start=True)  # the runner's inventory gets its new address
            echo(f"provision: {name} was stopped and has been started")

    def open(self, placed: Any, *, dry_run: bool, job_env: Mapping[str, str], checks: bool,
             create_timeout: float, progress: Phase = silent) -> Start:
        return HostStart(self.runner, placed, job_env, gated=checks and not dry_run)

    def prewarm(self, name: str) -> None:
        if not self.runner.dry_run:
            self.runner.prewarm(self.runner.inventory.get(name))

    def list(self) -> tuple[builtins.list[Found], Mapping[str, BaseException]]:
        jobs, group = monitor.list_jobs(self.runner, self.hosts)
        return [self._found(j) for j in jobs], group.failed

    def find(self, ref: str) -> Found | None:
        job = monitor.match_job(self.runner, self.hosts, ref)
        return self._found(job) if job else None

    def logs(self, found: Found, *, tail: int | None = None, follow: bool = False, stream: Any = None,
             secrets: builtins.list[str] | None = None) -> str:
        return monitor.logs(self.runner, found.job, tail=tail, follow=follow, stream=stream, secrets=secrets)

    def wait(self, found: Found, timeout: float | None = None) -> tuple[int, str | None]:
        ended = monitor.finished_at(self.runner, found.job)  # None while it runs: its end is when the wait sees it
        return monitor.wait(self.runner, found.job, timeout=timeout), ended

    def stop(self, found: Found, *, pause: bool = False, dry_run: bool = False) -> str | None:
        monitor.stop(self.runner, found.job)  # in dry-run the runner prints the command instead
        return None if dry_run else f"stopped {found.job.job_id} on {found.job.host}"

    def servers_up(self, name: str) -> builtins.list[Found]:
        host = self.runner.inventory.get(name)
        return [self._found(j) for j in monitor.host_jobs(self.runner, host) if j.kind == "serve" and j.running]

    def require_server(self, found: Found) -> None:
        if found.job.kind != "serve":
            raise InputError(f"{found.job.job_id} is a {found.job.kind} job, not a server", "use inv jobs.stop")

    def server(self, found: Found, policy: str | None) -> Server:
        job = found.job
        if job.kind != "serve" or not job.port:
            raise InputError(f"{job.job_id} is not a server job", "point --server at a serve.* job or host:port")
        if not job.running:
            raise InputError(f"server {job.job_id} is not running ({job.state})", "start it again with inv serve.*")
        address = self.runner.connection(self.runner.inventory.get(job.host)).host
        if not (policy or job.client):
            raise InputError(f"server {job.job_id} carries no client policy (started by an older version)",
                             "pass --policy")
        return Server(job.host, address, job.port, policy or job.client, {})


def answers(address: str, port: int, ready: Readiness = MODEL_SERVER_READY) -> bool:
    """The server itself answers `ready`'s GET: an HTTP reply, or an open, silent socket (a ZeroMQ server).
    Over https the TLS handshake comes first, its certificate unchecked (the viewer's is self-signed by design).

    A bare TCP connect is not enough: a userland port proxy accepts before the server listens,
    then closes without a byte (and so fails a TLS handshake).
    """
    request = f"GET {ready.path} HTTP/1.0\r\nHost: {address}:{port}\r\n\r\n".encode()
    try:
        with socket.create_connection((address, port), timeout=2) as raw:
            conn = _unverified_tls().wrap_socket(raw, server_hostname=address) if ready.scheme == "https" else raw
            conn.sendall(request)
            conn.settimeout(2)
            try:
                return bool(conn.recv(1))
            except socket.timeout:
                return True
    except OSError:  # ssl.SSLError included: nothing that speaks TLS listens yet
        return False


def _unverified_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class HostStart(Start):
    """A fixed host's start: the launch command opened on the host (at its current address: after `provision`)
    and held at its gate while the checks run, which read the host's probe from it; `go` lets it run."""

    ready_poll_s = 0.5

    def __init__(self, runner: RemoteRunner, placed: Any, job_env: Mapping[str, str], *, gated: bool,
                 echo: Callable[[str], None] = print) -> None:
        self.runner, self.placed, self.spec, self.echo = runner, placed, placed.spec, echo
        self.job_id, self.serves = self.spec.job_id, placed.plan.program.kind == "serve"
        self.host: Host = runner.inventory.get(self.spec.host)
        self.where = self.host.name
        self.began = time.monotonic()
        self.env = {k: v for k, v in job_env.items() if v is not None}
        self.env_text = compose.env_file_text(self.env) if self.env else None  # bad names fail before anything
        self.argv = compose.command(placed.plan.project, self.host, self.spec, sorted(self.env))
        self.project_dir = placed.plan.project.remote_dir(self.host.workdir)
        self.checks = 0
        self.opening: Future[Gate | None] | None = None
        if runner.dry_run:
            self.echo(f"# {self.job_id}: {placed.plan.service.name} ({placed.plan.era_label}) on {self.where} "
                      f"({self.host.ssh}), image {self.spec.image or '(none pushed yet)'}")
        elif gated:  # the checks need the host's probe: the launch command takes it and waits for their verdict
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gate")
            self.opening = pool.submit(open_gate, runner, self.host, compose.LAUNCH_SCRIPT, self.argv[4:])
            pool.shutdown(wait=False)
            self.probed = self._probe

    def _gate(self) -> Gate | None:
        return self.opening.result() if self.opening else None

    def _probe(self) -> tuple[str, int] | None:
        gate = self._gate()
        return gate.probe if gate else None

    def abort(self) -> None:
        gate = self._gate()
        if gate:
            gate.abort()

    def _commands(self) -> list[str]:
        commands = [quote_command(self.argv)]
        if self.env:  # values never printed, only names
            commands.insert(0, f"(the next command reads {', '.join(sorted(self.env))} on its stdin; values not shown)")
        return commands

    def show(self) -> LaunchResult:
        commands = self._commands()
        compose.ship_note(self.placed.plan.project, self.project_dir, commands)
        for line in commands:
            self.runner.echo(f"[{self.where}] {line}")
        return LaunchResult(self.job_id, self.where, "", self.project_dir, False, tuple(commands), 0.0, True)

    def go(self, guard: Guard) -> LaunchResult:
        if self.spec.replace:
            compose.replace_running(self.runner, self.host, self.spec.service)
        out, shipped = compose.run_launch(self.runner, self.host, self.placed.plan.project, self.project_dir,
                                          self.argv, self.env_text, self._gate())
        compose.raise_unless_started(self.runner, self.host, self.spec, out)
        container = (out.stdout.strip().splitlines() or [self.job_id])[-1]
        return LaunchResult(self.job_id, self.where, container, self.project_dir, shipped, tuple(self._commands()),
                            time.monotonic() - self.began)

    def confirm(self, result: LaunchResult) -> str:
        shipped = "project sent" if result.shipped else "project unchanged"
        return f"started {self.job_id} on {self.where} ({shipped}, {result.seconds:.1f}s)"

    def _job(self) -> Any:
        return monitor.find_job(self.runner, [self.host], self.job_id)

    def ask_ready(self, progress: Phase, secrets: builtins.list[str]) -> str | None:
        """The port answers; every fourth ask (about 2 s) also whether the server exited."""
        address, port = self.runner.connection(self.host).host, self.spec.port
        ready = self.placed.plan.ready or MODEL_SERVER_READY
        if self.checks == 0:
            progress(f"waiting for {self.spec.service} to answer on {ready.url(address, port)}")
        if answers(address, port, ready):
            return (f"{self.placed.plan.service.name} answers on {ready.where(address, port)} (job {self.job_id}; "
                    f"stop: inv serve.stop {self.job_id})")
        self.checks += 1
        if self.checks % 4 == 0:
            mine = next((j for j in monitor.host_jobs(self.runner, self.host) if j.job_id == self.job_id), None)
            if mine is None or not mine.running:
                code = mine.exit_code if mine else -1
                tail = monitor.logs(self.runner, mine, tail=5, secrets=secrets) if mine else ""
                raise JobFailed(f"{self.spec.service} {self.job_id} on {self.where} exited {code} before its port "
                                f"{port} answered: {tail.strip().splitlines()[-1:] or ''}",
                                f"inv jobs.logs {self.job_id}", exit_code=code or 1)
        return None

    def not_ready(self, timeout: float) -> JobFailed:
        address = self.runner.connection(self.host).host
        return JobFailed(f"{self.spec.service} {self.job_id} did not answer on {address}:{self.spec.port} within "
                         f"{timeout:g}s", f"inv jobs.logs {self.job_id}; stop it with inv serve.stop {self.job_id}")

    def log_to_end(self, result: LaunchResult, secrets: builtins.list[str]) -> int:
        job = self._job()
        monitor.logs(self.runner, job, follow=True, stream=sys.stdout, secrets=secrets)
        return monitor.wait(self.runner, job)
