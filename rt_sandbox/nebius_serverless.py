"""A loopback stand-in of Nebius Serverless: AI Jobs, AI Endpoints, MysteryBox and the job logs.

It extends the compute stand-in's gRPC server (rt_sandbox/nebius_standin.py, `--serverless`):
the SDK routes every service to one address, so the same port serves
`nebius.ai.v1.JobService` (Create, Get, GetByName, List, Cancel, Delete),
`nebius.ai.v1.EndpointService` (Create, Get, GetByName, List, Start, Stop, Delete),
`nebius.mysterybox.v1.SecretService.GetByName` and `PayloadService.GetByKey`, with the SDK's own
descriptors and message classes. Mutating calls return a `nebius.common.v1.Operation` kept in the
compute stand-in's operation store: the ai.v1 clients poll `nebius.common.v1.OperationService`
(their `operation_service()`), so `op.sync_wait()` / `await op.wait()` work unchanged.

Each job and endpoint REALLY runs as a container on a Docker engine (`--serverless-docker-host`,
default: the local engine): `spec.image` is pulled from its registry; entrypoint
`spec.container_command`, command `spec.args.split()` (Nebius splits the one string on
whitespace), `spec.working_dir`, env from `spec.environment_variables` (`value`, or
`mysterybox_secret` -> the payload entry whose key is the variable's name, else the first entry),
volumes whose `source` is a filesystem id -> docker volume `rt-serverless-<id>` at `container_path`
(READ_ONLY -> ro). S3 volume sources are refused (ERROR). An endpoint publishes its first
`spec.ports[].container_port` (8000 when none) on 127.0.0.1. platform/preset/disk/timeout are
accepted and ignored. Containers are named `rt-serverless-<resource id>` and labelled `rt-serverless.id`,
`rt-serverless.kind`, `rt-serverless.state-dir`; a job's container is removed once it has ended.

States (delay `--serverless-delay`, default 1 s, per step):
  job:      PROVISIONING -> STARTING -> IMAGE_PULLING -> RUNNING -> COMPLETED (exit 0) | FAILED;
            Cancel -> CANCELLING -> CANCELLED; Delete -> DELETING -> gone; internal failure -> ERROR.
  endpoint: PROVISIONING -> STARTING -> IMAGE_PULLING -> RUNNING; Stop -> STOPPING -> STOPPED
            (container removed, URL kept); Start -> PROVISIONING ... RUNNING (same URL);
            Delete -> DELETING -> gone; the container exiting by itself -> ERROR.
The Create (and Start) operation finishes when the resource leaves PROVISIONING; Cancel/Stop/Delete
operations when CANCELLED/STOPPED/gone. Cancel of an ended job and Stop of a stopped endpoint are
no-ops that succeed. A name already used in the parent -> ALREADY_EXISTS; unknown id/name -> NOT_FOUND.

EXIT CODE: the SDK's JobStatus / JobInstanceStatus have no exit-code field. When a job's container
has exited (COMPLETED or FAILED, and an endpoint's ERROR from its own exit),
`status.state_details` is `code="ContainerExited"`, `message="container exited with code <N>"`.
Other details codes: "ImagePullFailed", "NotEnoughResources", "SecretNotFound", "Unsupported",
"ContainerStartFailed" (e.g. the command is not in the image), "ContainerLost", "InternalError",
"Cancelled", "Stopped"; `message` says why. `status.started_at` is the container's start,
`finished_at` its finish (CANCELLED: when the cancel was done).

ENDPOINT URL: each endpoint owns a TLS proxy on 127.0.0.1:<port> (chosen at Create, kept across
Stop/Start and stand-in restarts; certificate from `<state-dir>/tls/ca.pem`). As Nebius' managed
`https://port8000-<tunnel-id>.tunnel...` URL (../shared/upstream/SERVERLESS.md §8: survives stop/start,
retired by delete, a re-created endpoint of the same name gets a new one), a deleted endpoint's port is
never handed out again (`retired_ports` in serverless.json). The host name form cannot be modelled on
loopback (no DNS here): the URL is `https://127.0.0.1:<port>`.
`status.public_endpoints` = ["https://127.0.0.1:<proxy port>", "127.0.0.1:<published port>"]
(the bare one only while a container runs; use only the https one). The proxy answers 503 while
the endpoint is not RUNNING, 502 while nothing listens in the container, 401 when the spec sets
`auth_token`/`auth_token_mysterybox_secret` and the request lacks `Authorization: Bearer <token>`
(every request: a checked one goes on with `Connection: close`, a WebSocket upgrade once); otherwise it
forwards raw bytes both ways.

LOGS: Nebius Observability serves logs through a Loki-compatible API; its LogQL page
(https://docs.nebius.com/observability/logs/query-language) says every query must select a
`__bucket__` and lists sp_serial, sp_mlflow, sp_postgres, sp_cloudapps and default, none for
Serverless; nor do the docs found say how a job's lines are labelled. So the stand-in picks
(serverless_io.LOG_BUCKET / LOG_ID_LABEL; the project's target has them as settings, same defaults):
  {__bucket__="sp_serverless", job_id="aijob-..."}          for a job
  {__bucket__="sp_serverless", endpoint_id="aiendpoint-..."} for an endpoint
plus `name` and `parent_id` labels on each stream (one stream per resource, stdout and stderr
merged). The containers' output (Docker's own timestamps) is POSTed to the Loki push API
(`/loki/api/v1/push`, JSON) every 0.3 s while they run and once more when they end, as a log
shipper does; `GET /loki/api/v1/query_range` follows Loki's documented rules (serverless_io says
which), `Authorization: Bearer <non-empty>` required (401), a query without `__bucket__` returns no
entries (as Nebius says), anything but `{label="value", ...}` -> 400. Pushed lines are kept in
`<state-dir>/loki/` and outlive the containers and the stand-in.

CONTROL (`<state-dir>/control.json`, read on every call):
  "serverless_quota_error": true      Create fails at once: RESOURCE_EXHAUSTED, quota_failure
  "serverless_capacity_error": true   Create's operation ends RESOURCE_EXHAUSTED "not enough resources
                                      ..." and the resource goes to ERROR (NotEnoughResources)
  "serverless_fail_image_pull": true  the pull fails: ERROR (ImagePullFailed)
PRIVATE IMAGES: an image from any registry but Docker Hub needs `spec.registry_credentials` (username and
password, or a MysteryBox secret version holding REGISTRY_USERNAME and REGISTRY_PASSWORD), else the pull
fails: ERROR (ImagePullFailed, "pull access denied"); `<state-dir>/registry_auth.json` {host: {username,
password}} makes the stand-in check them (the sandbox's registry itself takes any).
  "serverless_create_delay": S        PROVISIONING (and so the Create operation) lasts S seconds longer
  "serverless_rate_limit": N          the next N Creates fail at once: RESOURCE_EXHAUSTED "too many requests"
                                      (N counts down in control.json)
Failures carry Nebius's typed detail (a `nebius.common.v1.ServiceError` in the status details, which the
SDK parses into `status.service_errors`): quota -> quota_failure, capacity -> not_enough_resources,
rate limiting -> too_many_requests (rt_sandbox/nebius_records.service_error).

INTERFACE: `python -m rt_sandbox.nebius_standin --state-dir DIR --serverless [--serverless-docker-host
URL] [--serverless-delay S] [--logs-port P]` (the sandbox: `ensure_sandbox_standin(..., serverless=True)`,
Loki on 9557); in-process: `ServerlessState(dir, standin_state.operations, delay=, docker_host=)`,
`serverless_api.ServerlessApi(state, StandinServer._operation_message).handlers()` as the
StandinServer's `extra_handlers`, then `state.resume()` and `serverless_io.LokiServer(dir, port)`.
`seed_secret(state_dir, parent_id, name, payload) -> id`; `sandbox_serverless_settings(root) -> dict`.
Modules: this one (state machine), serverless_docker (containers), serverless_api (gRPC),
serverless_io (MysteryBox file, TLS, proxy, Loki, sandbox settings).

STATE DIR: serverless.json (jobs, endpoints, their operations, proxy ports, log offsets; written on
every change), mysterybox.json (serverless_io.seed_secret), tls/{ca,server}.pem + server.key,
loki/<stream>.jsonl + <stream>.labels.json, logs_port. A restarted stand-in re-attaches to its
containers by label and carries on. No secret value is written to the stand-in's own log.
"""
from __future__ import annotations

import json
import secrets as pysecrets
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from . import serverless_io as io
from .nebius_records import JOB_ENDED, OperationRecord, Resource
from .serverless_docker import Containers, Failure
from .serverless_io import sandbox_serverless_settings, seed_secret  # noqa: F401 (public interface)

OK, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, INTERNAL = 0, 9, 8, 13


def _new_id(prefix: str) -> str:
    return f"{prefix}-{pysecrets.token_hex(7)}"


class ServerlessState(Containers):
    """Jobs, endpoints and their operations; one driver thread per resource walks its states."""

    def __init__(self, state_dir: Path, operations: dict, *, delay: float = 1.0,
                 docker_host: str | None = None, op_record: Callable[..., Any] | None = None,
                 log: Callable[[str], None] = print) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.operations = operations  # shared with the compute stand-in: one OperationService
        self.op_record = op_record or OperationRecord
        self.delay, self.docker_host, self.log = delay, docker_host, log
        self.lock = threading.RLock()
        self.items: dict[str, Resource] = {}
        self.drivers: dict[str, threading.Thread] = {}
        self.proxies: dict[str, io.EndpointProxy] = {}
        self.tokens: dict[str, str | None] = {}  # endpoint id -> the bearer token its proxy demands
        self.loki_url = ""  # the Loki push API the containers' output goes to (set once it serves)
        self.retired_ports: set[int] = set()  # URLs of deleted endpoints: never handed out again
        _, self.cert, self.key = io.ensure_tls(self.dir)
        self._load()

    # -- files ---------------------------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.dir / "serverless.json"

    def control(self) -> dict[str, Any]:
        try:
            return json.loads((self.dir / "control.json").read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def _take_rate_limit(self, control: dict[str, Any]) -> bool:
        """True while control.json's serverless_rate_limit counts creates still to refuse (one fewer each)."""
        left = control.get("serverless_rate_limit")
        if not isinstance(left, int) or isinstance(left, bool) or left <= 0:
            return False
        with self.lock:
            (self.dir / "control.json").write_text(json.dumps({**control, "serverless_rate_limit": left - 1}))
        return True

    def _load(self) -> None:
        try:
            data = json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return
        for op in data.get("operations", []):
            self.operations[op["id"]] = self.op_record(**op)
        self.items = {r["id"]: Resource(**r) for r in data.get("resources", [])}
        self.retired_ports = set(data.get("retired_ports", []))

    def resume(self) -> None:
        """After a (re)start: proxies back on their ports, drivers for every unfinished resource."""
        with self.lock:
            for rec in self.items.values():
                if rec.kind == "endpoint":
                    self._open_proxy(rec)
                self._spawn(rec)

    def save(self) -> None:
        with self.lock:
            mine = {o["id"] for r in self.items.values() for o in r.pending_ops}
            # list(): the compute stand-in adds its operations under its own lock
            mine |= {k for k in list(self.operations) if k.startswith("aioperation-")}
            data = {"resources": [asdict(r) for r in self.items.values()],
                    "operations": [asdict(self.operations[k]) for k in sorted(mine) if k in self.operations],
                    "retired_ports": sorted(self.retired_ports)}
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=1))
            tmp.replace(self.state_file)

    # -- operations ------------------------------------------------------------------------------
    def new_op(self, rec: Resource, what: str, until: list[str] | None) -> Any:
        """An operation on `rec`; finished when rec reaches a state in `until` (None: now, OK)."""
        op = self.op_record(_new_id("aioperation"), rec.id, f"{what} {rec.kind} {rec.id}")
        self.operations[op.id] = op
        if until is None:
            self._finish(op.id, OK, "")
        else:
            rec.pending_ops.append({"id": op.id, "until": until})
        return op

    def _finish(self, op_id: str, code: int, message: str, kind: str = "") -> None:
        op = self.operations.get(op_id)
        if op is not None and op.finished is None:
            op.code, op.message, op.kind, op.finished = code, message, kind, time.time()

    def _set(self, rec: Resource, state: str, *, expect: str | None = None, code: str = "", message: str = "",
             rpc: int = INTERNAL, kind: str = "") -> bool:
        """Move rec to `state` (only from `expect` when given); finish the operations waiting for it."""
        with self.lock:
            if rec.id not in self.items or (expect is not None and rec.state != expect):
                return False
            rec.state, rec.updated, rec.version = state, time.time(), rec.version + 1
            if code or state in ("PROVISIONING", "RUNNING"):
                rec.details_code, rec.details_message = code, message
            for pending in list(rec.pending_ops):
                if state == "ERROR":
                    self._finish(pending["id"], rpc, message, kind)
                elif state in pending["until"]:
                    self._finish(pending["id"], OK, "")
                else:
                    continue
                rec.pending_ops.remove(pending)
            self.save()
            self.log(f"{rec.kind} {rec.id} ({rec.name}): {state}" + (f" [{code}] {message}" if code else ""))
            return True

    # -- the API's actions ------------------------------------------------------------------------
    def create(self, kind: str, metadata: Any, spec: Any) -> Any:
        control = self.control()
        if self._take_rate_limit(control):
            raise Failure("TooManyRequests", f"too many requests: create {kind} is rate-limited "
                                             f"(serverless_rate_limit in control.json)", RESOURCE_EXHAUSTED,
                          kind="too_many_requests")
        if control.get("serverless_quota_error"):
            raise Failure("QuotaExceeded", f"quota exceeded: the project's {kind} quota is used up "
                                           f"(serverless_quota_error in control.json)", RESOURCE_EXHAUSTED,
                          kind="quota_failure")
        with self.lock:
            parent = metadata.parent_id or io.SANDBOX_PARENT
            if any(r.kind == kind and r.parent_id == parent and r.name == metadata.name for r in self.items.values()):
                raise Failure("AlreadyExists", f"{kind} named {metadata.name!r} already exists in {parent}", 6)
            import base64

            rec = Resource(_new_id("aijob" if kind == "job" else "aiendpoint"), kind, metadata.name, parent,
                           base64.b64encode(spec.SerializeToString()).decode(), labels=dict(metadata.labels or {}))
            self.items[rec.id] = rec
            op = self.new_op(rec, "create", ["STARTING"])
            if kind == "endpoint":
                self._open_proxy(rec)
            self.save()
            self.log(f"{kind} {rec.id} ({rec.name}): created")
            self._spawn(rec)
            return op

    def act(self, rid: str, action: str) -> Any:
        """cancel / delete (jobs), start / stop / delete (endpoints)."""
        with self.lock:
            rec = self.items.get(rid)
            if rec is None:
                raise KeyError(rid)
            state = rec.state
            if action == "delete":
                op = self.new_op(rec, "delete", ["__gone__"])
                self._set(rec, "DELETING")
            elif action == "cancel":
                if state in JOB_ENDED or state == "CANCELLING":
                    op = self.new_op(rec, "cancel", None if state != "CANCELLING" else ["CANCELLED"])
                else:
                    op = self.new_op(rec, "cancel", ["CANCELLED"])
                    self._set(rec, "CANCELLING")
            elif action == "stop":
                if state in ("STOPPED", "STOPPING"):
                    op = self.new_op(rec, "stop", None if state == "STOPPED" else ["STOPPED"])
                elif state == "DELETING":
                    op = self._refused(rec, "stop")
                else:
                    op = self.new_op(rec, "stop", ["STOPPED"])
                    self._set(rec, "STOPPING")
            elif action == "start":
                if state in ("STOPPED", "ERROR"):
                    op = self.new_op(rec, "start", ["STARTING"])
                    rec.started_at = rec.finished_at = rec.exit_code = None
                    self._set(rec, "PROVISIONING")
                elif state in ("STOPPING", "DELETING"):
                    op = self._refused(rec, "start")
                else:
                    op = self.new_op(rec, "start", None)
            else:
                raise ValueError(action)
            self.save()
            self._spawn(rec)
            return op

    def _refused(self, rec: Resource, what: str) -> Any:
        op = self.new_op(rec, what, [])
        self._finish(op.id, FAILED_PRECONDITION, f"{rec.kind} {rec.id} is {rec.state}; {what} it later")
        rec.pending_ops = [p for p in rec.pending_ops if p["id"] != op.id]
        return op

    # -- the driver ------------------------------------------------------------------------------
    def _spawn(self, rec: Resource) -> None:
        with self.lock:
            alive = self.drivers.get(rec.id)
            if alive is not None and alive.is_alive():
                return  # it reads the new state on its next step
            thread = threading.Thread(target=self._drive, args=(rec.id,), daemon=True, name=f"drive-{rec.id}")
            self.drivers[rec.id] = thread
            thread.start()

    def _drive(self, rid: str) -> None:
        steps = {"PROVISIONING": self._provision, "STARTING": self._starting, "IMAGE_PULLING": self._pull,
                 "RUNNING": self._running, "CANCELLING": self._halt, "STOPPING": self._halt,
                 "DELETING": self._delete}
        while True:
            with self.lock:
                rec = self.items.get(rid)
                step = steps.get(rec.state) if rec is not None else None
                if step is None:
                    self.drivers.pop(rid, None)
                    return
                state = rec.state
            try:
                step(rec)
            except Failure as exc:
                self._set(rec, "ERROR", expect=state, code=exc.code, message=exc.message, rpc=exc.rpc, kind=exc.kind)
                self._cleanup_container(rec)
            except Exception as exc:  # a bug or the engine gone: visible as ERROR, never a silent stall
                self._set(rec, "ERROR", expect=state, code="InternalError", message=f"stand-in: {exc!r}")
                self._cleanup_container(rec)

    def _sleep(self, rec: Resource, state: str, seconds: float) -> bool:
        """Wait, but give up at once when someone moved rec elsewhere (cancel, stop, delete)."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            if rec.state != state:
                return False
            time.sleep(min(0.05, max(until - time.monotonic(), 0)))
        return rec.state == state

    def _provision(self, rec: Resource) -> None:
        slow = self.control().get("serverless_create_delay", 0)
        if not self._sleep(rec, "PROVISIONING", self.delay + (slow if isinstance(slow, (int, float)) else 0)):
            return
        if self.control().get("serverless_capacity_error"):
            raise Failure("NotEnoughResources", f"not enough resources: no capacity for the {rec.kind}'s "
                                                f"platform and preset in the region (serverless_capacity_error)",
                          RESOURCE_EXHAUSTED, kind="not_enough_resources")
        self._set(rec, "STARTING", expect="PROVISIONING")

    def _starting(self, rec: Resource) -> None:
        if self._sleep(rec, "STARTING", self.delay):
            self._environment(rec)  # a missing secret fails here, before the pull
            self._set(rec, "IMAGE_PULLING", expect="STARTING")

    def _pull(self, rec: Resource) -> None:
        if self._find(rec) is None:
            spec = self.spec(rec)
            if self.control().get("serverless_fail_image_pull"):
                raise Failure("ImagePullFailed", f"failed to pull image {spec.image}: "
                                                 f"serverless_fail_image_pull in control.json")
            self._check_pull_credentials(spec)
            try:
                self.docker().images.pull(spec.image)
            except Exception as exc:
                raise Failure("ImagePullFailed", f"failed to pull image {spec.image}: {exc}") from None
            if rec.state != "IMAGE_PULLING":
                return
            self._run_container(rec, spec)
        with self.lock:
            rec.started_at = time.time()  # replaced by the container's own StartedAt on the first look
        self._set(rec, "RUNNING", expect="IMAGE_PULLING")

    def _check_pull_credentials(self, spec: Any) -> None:
        """A private registry is pulled from only with spec.registry_credentials (SDK: "Registry credentials
        for private Docker registry"; a MysteryBox version must hold REGISTRY_USERNAME and REGISTRY_PASSWORD);
        Docker Hub's public repositories need none. When <state-dir>/registry_auth.json lists the host,
        the credentials must match it (the sandbox's registry takes any, so this is where they are checked)."""
        first, _, rest = spec.image.partition("/")
        host = first if rest and ("." in first or ":" in first or first == "localhost") else "docker.io"
        if host == "docker.io":
            return
        creds = spec.registry_credentials
        user, password = creds.username, creds.password
        if creds.mysterybox_secret_version:
            found = next((x for x in io.load_secrets(self.dir)
                          if io.version_id(x["id"]) == creds.mysterybox_secret_version), None)
            payload = (found or {}).get("payload") or {}
            user, password = payload.get("REGISTRY_USERNAME", ""), payload.get("REGISTRY_PASSWORD", "")
            if not (user and password):
                raise Failure("ImagePullFailed", f"registry credentials {creds.mysterybox_secret_version}: no secret "
                                                 f"version with REGISTRY_USERNAME and REGISTRY_PASSWORD")
        if not (user and password):
            raise Failure("ImagePullFailed", f"failed to pull image {spec.image}: pull access denied, {host} is a "
                                             f"private registry and spec.registry_credentials is not set")
        try:
            expected = json.loads((self.dir / "registry_auth.json").read_text()).get(host)
        except (FileNotFoundError, ValueError):
            expected = None
        if expected and (user, password) != (expected.get("username"), expected.get("password")):
            raise Failure("ImagePullFailed", f"failed to pull image {spec.image}: {host} refused the credentials "
                                             f"of user {user}")

    def _running(self, rec: Resource) -> None:
        while rec.state == "RUNNING":
            box = self._find(rec)
            if box is None:
                raise Failure("ContainerLost", "the container is gone (removed outside the API)")
            self._capture(rec, box)
            started = self._container_time(box, "StartedAt")
            if rec.started_at is None or abs(rec.started_at - started) > 0.001:
                with self.lock:
                    rec.started_at = started
                    self.save()
            if box.status in ("exited", "dead"):
                code = int(box.attrs["State"].get("ExitCode", -1))
                with self.lock:
                    # docker may stamp a very short run's start after its finish: keep the order
                    rec.exit_code = code
                    rec.finished_at = max(self._container_time(box, "FinishedAt"), rec.started_at or 0)
                details = dict(code="ContainerExited", message=f"container exited with code {code}")
                self._cleanup_container(rec)  # gone before the end is said: a reader of the end finds no container
                if rec.kind == "job":
                    self._set(rec, "COMPLETED" if code == 0 else "FAILED", expect="RUNNING", **details)
                else:
                    self._set(rec, "ERROR", expect="RUNNING", **details)
                return
            if rec.kind == "endpoint" and not rec.host_port:
                self._note_port(rec, box)
            time.sleep(0.3)

    def _halt(self, rec: Resource) -> None:
        state = rec.state
        self._sleep(rec, state, self.delay / 2)
        box = self._find(rec)
        if box is not None:
            try:
                box.stop(timeout=5)
                box.reload()
            except Exception:
                pass
            self._capture(rec, box)
        self._cleanup_container(rec)
        with self.lock:
            rec.host_port = 0
            if state == "CANCELLING":
                rec.finished_at = time.time()
        if state == "CANCELLING":
            self._set(rec, "CANCELLED", expect=state, code="Cancelled", message="cancelled through the API")
        else:
            self._set(rec, "STOPPED", expect=state, code="Stopped", message="stopped through the API")

    def _delete(self, rec: Resource) -> None:
        self._sleep(rec, "DELETING", self.delay / 2)
        box = self._find(rec)
        if box is not None:
            self._capture(rec, box)
        self._cleanup_container(rec)
        proxy = self.proxies.pop(rec.id, None)
        if proxy is not None:
            proxy.close()  # before the operation ends: a client that saw it done finds the URL gone
        if rec.proxy_port:
            self.retired_ports.add(rec.proxy_port)  # as Nebius retires a deleted endpoint's tunnel URL
        with self.lock:
            for pending in rec.pending_ops:
                self._finish(pending["id"], OK, "")
            self.items.pop(rec.id, None)
            self.tokens.pop(rec.id, None)
            self.save()
        self.log(f"{rec.kind} {rec.id} ({rec.name}): deleted")

    # -- endpoints' proxies ------------------------------------------------------------------------
    def _open_proxy(self, rec: Resource) -> None:
        if rec.id in self.proxies:
            return

        def route() -> io.Route:
            token = self.tokens.get(rec.id)
            if rec.id not in self.tokens and rec.state == "RUNNING":  # after a restart of the stand-in
                try:
                    token = self.tokens[rec.id] = self._auth_token(self.spec(rec))
                except Failure:
                    token = pysecrets.token_hex(16)  # the secret is gone: nobody gets in
            return io.Route(rec.state == "RUNNING", rec.host_port or None, token)

        proxy = io.EndpointProxy(rec.proxy_port, self.cert, self.key, route)
        while not rec.proxy_port and proxy.port in self.retired_ports:  # a re-created endpoint gets a new URL
            fresh = io.EndpointProxy(0, self.cert, self.key, route)
            proxy.close()
            proxy = fresh
        rec.proxy_port = proxy.port
        self.proxies[rec.id] = proxy

    def close(self) -> None:
        with self.lock:
            proxies, self.proxies = list(self.proxies.values()), {}
        for proxy in proxies:
            proxy.close()


def remove_containers(state_dir: Path, docker_host: str | None = None) -> int:
    """Remove every container the stand-in on `state_dir` started (for a sandbox teardown); how many."""
    import docker

    client = docker.DockerClient(base_url=docker_host, timeout=60) if docker_host else docker.from_env(timeout=60)
    try:
        found = client.containers.list(all=True, filters={"label": f"rt-serverless.state-dir={Path(state_dir)}"})
        for box in found:
            box.remove(force=True)
        return len(found)
    finally:
        client.close()
