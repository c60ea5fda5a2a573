"""`inv doctor`: every "Common Issues" item of the runbook as a check that names the fix.

Each check returns a CheckResult (ok / warn / fail, what is wrong, the exact
command that fixes it). All checks run at once in a bounded pool of daemon
threads with a deadline per check, so one dead host costs one connect timeout,
and results come back in a fixed order (local checks, then host by host).

The environment is passed in (default os.environ) so tests can replace it
instead of mutating the process environment.
"""
from __future__ import annotations

import os
import queue
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .errors import RTError
from .inventory import Host, Inventory

OK, WARN, FAIL = "ok", "warn", "fail"
SMI_QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,memory.used,utilization.gpu",
             "--format=csv,noheader,nounits"]
# One `docker ps` per host feeds both the GPU and the port check.
PS_FORMAT = ('{{.Names}}\t{{.Ports}}\t{{.Label "rt.job"}}\t{{.Label "rt.gpu_mem_mb"}}\t{{.Label "rt.service"}}'
             '\t{{.Label "rt.kind"}}')
PORT_RE = re.compile(r"(?:^|[\s,])\[?[0-9a-fA-F:.]*\]?:(\d+)(?:-(\d+))?->[\d-]+/(?:tcp|udp)")


@dataclass(frozen=True)
class CheckResult:
    check: str  # e.g. "ssh", "gpu_memory"
    target: str  # "local", a host name, or a bucket
    status: str  # ok | warn | fail
    summary: str  # what was found, or what is wrong
    fix: str = ""  # the exact command (or step) that fixes it
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DoctorSettings:
    ports: tuple[int, ...] = (8000, 9000)
    buckets: tuple[str, ...] = ("interim", "checkpoints")
    gpu_need_mb: int = 6144  # a GR00T server holds about 6 GB
    needs_h100: bool = False  # the job about to run only goes to H100 hosts (e.g. groot-train)
    timeout: float = 20.0  # per check, from the moment it starts
    connect_timeout: float = 5.0
    workers: int = 8


@dataclass(frozen=True)
class Check:
    name: str
    target: str
    run: Callable[[], tuple[str, str, str]]  # -> (status, summary, fix)


# -- known log patterns (issues that are code bugs, not machine state) ---------
@dataclass(frozen=True)
class LogPattern:
    name: str
    regex: re.Pattern[str]
    meaning: str
    fix: str


LOG_PATTERNS: tuple[LogPattern, ...] = (
    LogPattern("parquet-object-array", re.compile(r"ValueError: setting an array element with a sequence"),
               "dataset conversion wrote a column of per-row arrays as an object array",
               "in positronic/dataset/vector.py convert the object array with np.stack() to a 2-D array, "
               "rebuild (inv images.push) and rerun the conversion"),
    LogPattern("cuda-oom", re.compile(r"CUDA out of memory|CUDA error: out of memory|OutOfMemoryError"),
               "the GPU had too little free memory (a GR00T server needs about 6 GB)",
               "inv doctor --host HOST to see what holds the GPU, then inv jobs.stop JOB or pick another host"),
    LogPattern("port-allocated", re.compile(r"port is already allocated|address already in use", re.IGNORECASE),
               "another container already publishes the server's port",
               "inv doctor --host HOST names the container; stop it (inv serve.stop JOB) or use --port"),
    LogPattern("gladloadgl", re.compile(r"gladLoadGL|GLFW.*(?:DISPLAY|X11)|Failed to initialize GLFW"),
               "MuJoCo tried to open a window on a machine without a display",
               "export MUJOCO_GL=egl (inv infer.sim without --gui sets it)"),
)


def explain_log(text: str) -> list[LogPattern]:
    """The known problems whose signature appears in a job's log, in table order."""
    return [p for p in LOG_PATTERNS if p.regex.search(text)]


# -- local checks --------------------------------------------------------------
def check_docker_engine(env: Mapping[str, str], timeout: float) -> tuple[str, str, str]:
    import docker

    where = env.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        client = docker.from_env(environment=dict(env), timeout=max(1, int(timeout)))
        version = client.version().get("Version", "?")
        client.close()
    except Exception as exc:  # the SDK raises DockerException, requests errors, OSError...
        fix = "sudo systemctl start docker (or: sudo dockerd &)"
        if env.get("DOCKER_HOST"):
            fix = f"start the engine behind DOCKER_HOST={env['DOCKER_HOST']}, or unset DOCKER_HOST to use the default socket"
        return FAIL, f"no Docker engine answers at {where}: {_short(exc)}", fix
    return OK, f"engine {version} answers at {where}", ""


def docker_contexts(env: Mapping[str, str]) -> dict[str, str]:
    """Context name -> docker endpoint, read from the CLI's own store (no docker CLI call)."""
    import json

    config_dir = Path(env.get("DOCKER_CONFIG") or Path(env.get("HOME", "~")) / ".docker").expanduser()
    found: dict[str, str] = {}
    for meta in sorted((config_dir / "contexts" / "meta").glob("*/meta.json")):
        try:
            data = json.loads(meta.read_text())
            found[data["Name"]] = data.get("Endpoints", {}).get("docker", {}).get("Host", "")
        except (OSError, ValueError, KeyError, AttributeError):
            continue  # a damaged entry is the docker CLI's business
    return found


def check_docker_context(host: Host, contexts: Mapping[str, str]) -> tuple[str, str, str]:
    from .docker_contexts import endpoint_for  # the same endpoint `inv vm.contexts` writes

    want = endpoint_for(host)
    create = f"inv vm.contexts (or: docker context create {host.name} --docker host={want})"
    have = contexts.get(host.name)
    if have is None:
        return WARN, f"no docker context {host.name!r}, so `docker --context {host.name} ps` fails", create
    if have.rstrip("/") != want:
        return (FAIL, f"docker context {host.name!r} points at {have or 'nothing'}, the inventory says {want}",
                f"inv vm.contexts --force (or: docker context update {host.name} --docker host={want})")
    return OK, f"context {host.name} -> {want}", ""


def check_display(env: Mapping[str, str]) -> tuple[str, str, str]:
    display = env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")
    gl = (env.get("MUJOCO_GL") or "").lower()
    if display:
        return OK, f"display {display} (MUJOCO_GL={gl or 'unset'})", ""
    if gl in ("egl", "osmesa"):
        return OK, f"headless, MUJOCO_GL={gl}", ""
    if gl:
        return (FAIL, f"no DISPLAY but MUJOCO_GL={gl}: the inference client will fail in gladLoadGL",
                "export MUJOCO_GL=egl")
    return (WARN, "no DISPLAY and MUJOCO_GL unset: a bare inference client fails in gladLoadGL "
            "(inv infer.sim sets it itself)", "export MUJOCO_GL=egl")


def s3_endpoint(inventory: Inventory, env: Mapping[str, str]) -> str | None:
    """Inventory `s3: {endpoint:}` (or endpoint_url) first, then AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; else boto3's config files."""
    s3 = inventory.extra.get("s3") or {}
    if isinstance(s3, Mapping) and (s3.get("endpoint") or s3.get("endpoint_url")):
        return str(s3.get("endpoint") or s3.get("endpoint_url"))
    return env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def s3_client(inventory: Inventory, env: Mapping[str, str], timeout: float) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.Session(profile_name=env.get("AWS_PROFILE") or None)
    core = session._session  # botocore session: point it at the injected files, never at cloud metadata
    for var, key in (("AWS_SHARED_CREDENTIALS_FILE", "credentials_file"), ("AWS_CONFIG_FILE", "config_file")):
        if env.get(var):
            core.set_config_variable(key, env[var])
    resolver = core.get_component("credential_provider")
    for method in ("iam-role", "container-role"):  # these call link-local addresses: not ours to touch
        try:
            resolver.remove(method)
        except Exception:
            pass
    creds: dict[str, str] = {}
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        creds = {"aws_access_key_id": env["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"]}
        if env.get("AWS_SESSION_TOKEN"):
            creds["aws_session_token"] = env["AWS_SESSION_TOKEN"]
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or session.region_name or "us-east-1"
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1})
    return session.client("s3", endpoint_url=s3_endpoint(inventory, env), region_name=region, config=config,
                          **creds)


def check_s3_bucket(inventory: Inventory, env: Mapping[str, str], bucket: str, timeout: float) -> tuple[str, str, str]:
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    endpoint = s3_endpoint(inventory, env) or "the endpoint in ~/.aws/config (or AWS's default)"
    set_endpoint = "set s3: {endpoint: URL} in hosts.yaml or export AWS_ENDPOINT_URL=URL"
    try:
        client = s3_client(inventory, env, timeout)
        client.head_bucket(Bucket=bucket)  # the one cheap request
    except NoCredentialsError:
        return (FAIL, "no S3 credentials found (env, ~/.aws/credentials, profile)",
                "aws configure (or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    except EndpointConnectionError as exc:
        return FAIL, f"S3 endpoint {endpoint} does not answer: {_short(exc)}", set_endpoint
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket"):
            return FAIL, f"bucket {bucket!r} does not exist at {endpoint}", \
                f"aws s3 mb s3://{bucket} (or fix doctor.buckets / {set_endpoint})"
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return FAIL, f"S3 refused the credentials for bucket {bucket!r} ({code})", \
                "aws configure with a key that may read the bucket"
        return FAIL, f"S3 error for bucket {bucket!r}: {code or _short(exc)}", set_endpoint
    except Exception as exc:  # e.g. a malformed endpoint URL, a read timeout
        return FAIL, f"S3 at {endpoint}: {_short(exc)}", set_endpoint
    return OK, f"bucket {bucket} reachable at {endpoint}", ""


def check_nebius(inventory: Inventory, hosts: Sequence[Host], env: Mapping[str, str],
                 timeout: float) -> tuple[str, str, str]:
    """Credentials present locally, then ONE API call (Get of the first Nebius VM) through the real SDK."""
    nebius_hosts = [h for h in hosts if h.provider.type == "nebius"]
    if not nebius_hosts:
        return OK, "no Nebius VM among the selected hosts", ""
    try:
        import nebius  # noqa: F401
    except ImportError:
        return FAIL, "the nebius SDK is not installed", "pip install -r requirements.txt"
    settings = dict(inventory.extra.get("nebius") or {})
    missing = _nebius_credentials_missing(settings, nebius_hosts[0], env)
    if missing:
        return missing  # never let the SDK start a browser login from inside a check
    from .providers import provider_for

    host = nebius_hosts[0]
    where = settings.get("endpoint") or settings.get("domain") or "the Nebius API"
    try:
        status = provider_for(host, inventory).state(timeout=timeout)
    except RTError as exc:
        fix = exc.fix or "inv vm.login"
        loopback = str(settings.get("endpoint", "")).startswith(("127.", "localhost", "[::1]"))
        if loopback and "answer" in exc.message:  # the sandbox's stand-in is not running
            fix = f"inv sandbox.up (it starts the API stand-in), or {fix}"
        return FAIL, exc.message, fix
    return OK, f"{where} answers: {host.name} is {status.state.value}", ""


def _nebius_credentials_missing(settings: Mapping[str, Any], host: Host,
                                env: Mapping[str, str]) -> tuple[str, str, str] | None:
    if str(settings.get("auth", "")).lower() == "none" or env.get("NEBIUS_IAM_TOKEN"):
        return None  # the stand-in takes no credentials; an env token outranks every file
    files = [("credentials_file", settings.get("credentials_file")),
             ("service_account.private_key_file", (settings.get("service_account") or {}).get("private_key_file"))]
    for key, value in files:
        if value:
            path = Path(str(value)).expanduser()
            if not path.is_file():
                return FAIL, f"nebius.{key} {path} does not exist", f"inv vm.login, or fix nebius.{key} in hosts.yaml"
            return None
    home = Path(env.get("HOME", "~")).expanduser()
    config = home / ".nebius" / "config.yaml"
    if not config.is_file():
        return FAIL, f"Nebius is not set up: no {config}", "inv vm.login"
    try:
        import yaml

        data = yaml.safe_load(config.read_text()) or {}
        profiles = data.get("profiles") or {}
        name = (host.provider.options.get("profile") or settings.get("profile") or env.get("NEBIUS_PROFILE")
                or data.get("default") or (next(iter(profiles)) if len(profiles) == 1 else None))
        profile = profiles.get(name) if name else None
    except Exception as exc:
        return FAIL, f"{config} is unreadable: {_short(exc)}", "inv vm.login"
    if not isinstance(profile, dict):
        return FAIL, f"no usable Nebius CLI profile in {config}", "inv vm.login (or: nebius profile activate NAME)"
    if profile.get("auth-type") == "federation" and not (home / ".nebius" / "credentials.yaml").is_file():
        return FAIL, f"profile {name!r} logs in through a browser and holds no cached token", "inv vm.login"
    return None


# -- host checks (over SSH) ------------------------------------------------------
@dataclass
class HostProbe:
    """What the host checks share: one connect attempt and one `docker ps` per host."""

    runner: Any
    host: Host
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _connected: BaseException | bool | None = None
    _containers: list[dict[str, Any]] | BaseException | None = None

    def connect(self) -> None:
        with self._lock:
            if self._connected is None:
                try:
                    self.runner.connection(self.host)
                    self._connected = True
                except BaseException as exc:
                    self._connected = exc
        if isinstance(self._connected, BaseException):
            raise self._connected

    def containers(self) -> list[dict[str, Any]]:
        self.connect()
        with self._lock:
            if self._containers is None:
                try:
                    out = self.runner.run(self.host, ["docker", "ps", "--format", PS_FORMAT], mutating=False,
                                          timeout=30).stdout
                    self._containers = [parse_ps_line(line) for line in out.splitlines() if line.strip()]
                except BaseException as exc:
                    self._containers = exc
        if isinstance(self._containers, BaseException):
            raise self._containers
        return self._containers


def parse_ps_line(line: str) -> dict[str, Any]:
    name, ports, job, mem, service, kind = (line.split("\t") + [""] * 6)[:6]
    published = {p for first, last in PORT_RE.findall(ports) for p in range(int(first), int(last or first) + 1)}
    return {"name": name, "ports": sorted(published), "job": job,
            "gpu_mem_mb": int(mem) if mem.isdigit() else 0, "service": service, "kind": kind}


def parse_smi(text: str) -> list[dict[str, Any]]:
    """nvidia-smi CSV (name, total MiB, used MiB, util %) -> one dict per GPU; bad lines are skipped."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4:
            continue
        try:
            total, used, util = float(parts[1]), float(parts[2]), float(parts[3])
        except ValueError:
            continue
        gpus.append({"name": parts[0], "total_mb": int(total), "used_mb": int(used), "util": int(util),
                     "free_mb": int(total - used)})
    return gpus


def check_ssh(probe: HostProbe) -> tuple[str, str, str]:
    try:
        probe.connect()
    except RTError as exc:
        fix = exc.fix or "check the host"
        if probe.host.provider.type != "static" and "vm.start" not in fix:
            fix = f"inv vm.start {probe.host.name}"
        return FAIL, exc.message, fix
    return OK, f"SSH answers ({probe.host.ssh})", ""


def _unreachable(probe: HostProbe) -> tuple[str, str, str] | None:
    """A host that does not answer is reported once, by the ssh check; the others only point there."""
    status, _, fix = check_ssh(probe)
    if status == FAIL:
        return WARN, "not checked: the host does not answer SSH (see the ssh check)", fix
    return None


def check_gpu_memory(probe: HostProbe, need_mb: int, needs_h100: bool = False) -> tuple[str, str, str]:
    host = probe.host
    if needs_h100 and "h100" not in host.gpu.lower():
        return OK, f"not checked: the job needs an H100 and this is a {host.gpu}, so it never goes here", ""
    skipped = _unreachable(probe)
    if skipped:
        return skipped
    result = probe.runner.run(host, SMI_QUERY, mutating=False, check=False, timeout=30)
    gpus = parse_smi(result.stdout)
    if not result.ok or not gpus:
        return (FAIL, f"nvidia-smi failed on {host.name}: {(result.stderr or result.stdout).strip()[:120] or 'no GPU rows'}",
                f"ssh {host.ssh} nvidia-smi  # check the driver")
    best = max(gpus, key=lambda g: g["free_mb"])
    seen = f"{best['name']}: {best['free_mb']} of {best['total_mb']} MiB free, {best['util']}% busy"
    if best["free_mb"] >= need_mb:
        return OK, f"{seen}; {need_mb} MiB needed", ""
    holders = [c for c in probe.containers() if c["gpu_mem_mb"]]
    named = ", ".join(f"{c['name']} ({c['gpu_mem_mb']} MiB)" for c in holders) or "processes outside our jobs"
    fix = (" && ".join(_stop_command(host, c) for c in holders) if holders
           else f"ssh {host.ssh} nvidia-smi  # find the process") + " (or run on another host: --host auto)"
    return FAIL, f"{seen}; {need_mb} MiB needed; held by {named}", fix


def _stop_command(host: Host, container: Mapping[str, Any]) -> str:
    if container.get("job"):
        serving = container.get("kind") == "serve" or container.get("service", "").endswith("-server")
        verb = "serve.stop" if serving else "jobs.stop"
        return f"inv {verb} {container['job']}"
    return f"docker --context {host.name} stop {container['name']}"


def check_ports(probe: HostProbe, ports: Sequence[int]) -> tuple[str, str, str]:
    skipped = _unreachable(probe)
    if skipped:
        return skipped
    held = [(p, c) for p in ports for c in probe.containers() if p in c["ports"]]
    if not held:
        return OK, f"ports {', '.join(map(str, ports))} free", ""
    what = "; ".join(f"{p} held by {c['name']}" + (f" (job {c['job']})" if c["job"] else "") for p, c in held)
    fix = " && ".join(dict.fromkeys(_stop_command(probe.host, c) for _, c in held))
    # Our own server on its port is normal; a foreign container there is the runbook's "port already allocated".
    status = WARN if all(c["job"] for _, c in held) else FAIL
    return status, what, fix


# -- running them all -------------------------------------------------------------
def plan_checks(inventory: Inventory, hosts: Sequence[Host], runner: Any, settings: DoctorSettings,
                env: Mapping[str, str]) -> list[Check]:
    """Every check, in the order results are shown."""
    checks = [
        Check("docker_engine", "local", lambda: check_docker_engine(env, settings.connect_timeout)),
        Check("display", "local", lambda: check_display(env)),
        Check("nebius_auth", "local", lambda: check_nebius(inventory, hosts, env, settings.connect_timeout)),
    ]
    checks += [Check("s3", b, lambda b=b: check_s3_bucket(inventory, env, b, settings.connect_timeout))
               for b in settings.buckets]
    contexts = docker_contexts(env)
    for host in hosts:
        probe = HostProbe(runner, host)
        checks += [
            Check("ssh", host.name, lambda p=probe: check_ssh(p)),
            Check("gpu_memory", host.name, lambda p=probe: check_gpu_memory(p, settings.gpu_need_mb, settings.needs_h100)),
            Check("ports", host.name, lambda p=probe: check_ports(p, settings.ports)),
            Check("docker_context", host.name, lambda h=host: check_docker_context(h, contexts)),
        ]
    return checks


def run_checks(checks: Sequence[Check], *, workers: int = 8, timeout: float = 20.0) -> list[CheckResult]:
    """Run checks in `workers` daemon threads; one still running `timeout` s after it started fails."""
    jobs: queue.Queue[int] = queue.Queue()
    for i in range(len(checks)):
        jobs.put(i)
    started: dict[int, float] = {}
    results: dict[int, CheckResult] = {}
    lock = threading.Condition()

    def worker() -> None:
        while True:
            try:
                i = jobs.get_nowait()
            except queue.Empty:
                return
            check = checks[i]
            t0 = time.monotonic()
            with lock:
                started[i] = t0
            try:
                status, summary, fix = check.run()
            except RTError as exc:
                status, summary, fix = FAIL, exc.message, exc.fix or ""
            except Exception as exc:  # a check must never take the others down
                status, summary, fix = FAIL, f"check crashed: {_short(exc)}", "report this as a bug"
            with lock:
                results.setdefault(i, CheckResult(check.name, check.target, status, summary, fix,
                                                  round(time.monotonic() - t0, 3)))
                lock.notify_all()

    for _ in range(max(1, min(workers, len(checks)))):
        threading.Thread(target=worker, daemon=True).start()  # daemon: a hung check never blocks exit
    with lock:
        while len(results) < len(checks):
            now = time.monotonic()
            for i, t0 in started.items():
                if i not in results and now - t0 >= timeout:
                    c = checks[i]
                    results[i] = CheckResult(c.name, c.target, FAIL, f"no answer within {timeout:g}s",
                                             "rerun with a larger --timeout, or check that target", round(now - t0, 3))
            lock.wait(0.1)
    return [results[i] for i in range(len(checks))]


def diagnose(inventory: Inventory, host_names: Sequence[str] | None = None, *, runner: Any = None,
             settings: DoctorSettings | None = None, env: Mapping[str, str] | None = None) -> list[CheckResult]:
    """The whole doctor: plan the checks for the selected hosts and run them in parallel."""
    settings = settings or DoctorSettings()
    env = os.environ if env is None else env
    hosts = inventory.select(list(host_names) if host_names else None)
    own_runner = runner is None
    if own_runner:
        from .remote import RemoteRunner

        runner = RemoteRunner(inventory, connect_timeout=settings.connect_timeout)
    try:
        return run_checks(plan_checks(inventory, hosts, runner, settings, env),
                          workers=settings.workers, timeout=settings.timeout)
    finally:
        if own_runner:
            threading.Thread(target=runner.close, daemon=True).start()  # a stuck close must not hang us


def failed(results: Sequence[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.status == FAIL]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
