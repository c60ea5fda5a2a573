"""Nebius AI Jobs, AI Endpoints and MysteryBox through the official SDK (`nebius.api.nebius.ai.v1`).

The one place SDK messages are built and SDK errors are translated into the core's typed errors
(quota, capacity, a name already taken, not found, API down). Every call has a time limit.
"""
from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..errors import ProviderError
from ..fleet.providers import nebius_errors
from ..fleet.providers.base import ProviderTimeout
from ..fleet.serverless_target import ServerlessTarget
from ..records import timestamps
from .spec import ServerlessSpec

CALL_S = 20.0  # one API call; the SDK retries inside it
OPERATION_S = 120.0  # a create/stop/delete operation
JOB_FINAL = {"COMPLETED", "FAILED", "CANCELLED", "ERROR"}  # ERROR too: upstream's loops wait for ever on it
ENDPOINT_FINAL = {"STOPPED", "ERROR"}
EXIT_RE = re.compile(r"exit(?:ed)?(?: with)? code (-?\d+)", re.IGNORECASE)
# Our columns (those of container jobs) for the services' states.
JOB_STATES = {"PROVISIONING": "provisioning", "STARTING": "starting", "IMAGE_PULLING": "starting",
              "RUNNING": "running", "CANCELLING": "running", "DELETING": "exited", "COMPLETED": "exited",
              "FAILED": "exited", "CANCELLED": "exited", "ERROR": "dead", "STATE_UNSPECIFIED": "created"}
ENDPOINT_STATES = {"PROVISIONING": "provisioning", "STARTING": "starting", "IMAGE_PULLING": "starting",
                   "RUNNING": "running", "STOPPING": "running", "STOPPED": "stopped", "DELETING": "exited",
                   "ERROR": "dead", "STATE_UNSPECIFIED": "created"}


class OperationOutlived(ProviderTimeout):
    """The request was taken, but its operation had not finished when the wait ran out."""


@dataclass(frozen=True)
class Resource:
    """A job or endpoint as the API reports it, in our words."""
    kind: str  # job / endpoint
    id: str
    name: str
    state: str  # the API's word: RUNNING, COMPLETED, ...
    labels: dict[str, str] = field(default_factory=dict)
    image: str = ""
    args: str = ""
    preset: str = ""
    platform: str = ""
    created: str = ""  # ISO UTC
    started: str = ""
    finished: str = ""
    detail: str = ""  # state_details.message
    exit_code: int | None = None  # jobs that ended
    urls: tuple[str, ...] = ()  # endpoints: public endpoints as listed (https and bare IP:port)

    @property
    def final(self) -> bool:
        return self.state in (JOB_FINAL if self.kind == "job" else ENDPOINT_FINAL)

    @property
    def end_code(self) -> int:
        """A resource that reached a final state, as an exit code: a job's own; 0 for a stopped endpoint."""
        return self.exit_code if self.exit_code is not None else (0 if self.state == "STOPPED" else 1)

    @property
    def column_state(self) -> str:
        return (JOB_STATES if self.kind == "job" else ENDPOINT_STATES).get(self.state, self.state.lower())

    @property
    def https_url(self) -> str:
        """The managed TLS URL; never a bare IP:port entry (the token would travel in clear)."""
        return next((u for u in self.urls if u.startswith("https://")), "")


SERVERLESS_FIXES = nebius_errors.Fixes(
    quota="raise the quota (console: Administration -> Quotas) or stop other jobs and endpoints "
          "(inv jobs.list --host cloud), then retry",
    capacity="retry in a few minutes, pick another preset in hosts.yaml, or run it on a fixed host (--host NAME)",
    not_found="check the id or name: inv jobs.list --host cloud")


def translate(error: BaseException, target: str, action: str) -> ProviderError:
    """An SDK or gRPC failure as one typed error with its fix (nebius_errors: by typed details)."""
    return nebius_errors.translate(error, target, action, SERVERLESS_FIXES)


def _iso(ts: Any) -> str:
    if not ts:
        return ""
    if isinstance(ts, dt.datetime):
        return timestamps.utc(ts)
    return str(ts)


def exit_code_of(state: str, detail: str) -> int | None:
    """A job's exit code from its final state: 0 when COMPLETED, the container's code when the
    service names it, else 1; None while it runs. CANCELLED is 143 (a SIGTERM'd container).

    Where the code comes from: the SDK (0.6.29) has no exit-code field (JobStatus and
    JobInstanceStatus: state, state_details{code, message, service_error}, times, endpoints), and no
    Nebius page found says how a container's exit is reported. ASSUMED (README, Serverless): the
    container's code in `state_details.message` as "... exit(ed) (with) code N" (EXIT_RE), the form
    the sandbox's stand-in uses; any other FAILED/ERROR reads as 1, never as success."""
    if state == "COMPLETED":
        return 0
    if state == "CANCELLED":
        return 143
    if state in ("FAILED", "ERROR"):
        found = EXIT_RE.search(detail or "")
        return int(found.group(1)) if found and int(found.group(1)) != 0 else 1
    return None


class Serverless:
    """One target's jobs and endpoints. `settings`: the inventory's `nebius:` section (endpoint, auth)."""

    def __init__(self, target: ServerlessTarget, settings: dict[str, Any]) -> None:
        self.target = target
        self.settings = dict(settings)
        self._secrets: dict[str, Any] = {}

    # -- plumbing -------------------------------------------------------------------------------
    def _sdk(self) -> Any:
        from ..fleet.providers.nebius import shared_sdk

        return shared_sdk(self.settings, self.target.profile or None)

    def _call(self, action: str, make: Callable[[], Any]) -> Any:
        return nebius_errors.call(make, lambda exc: translate(exc, self.target.name, action))

    def _jobs(self) -> Any:
        from nebius.api.nebius.ai.v1 import JobServiceClient

        return JobServiceClient(self._sdk())

    def _endpoints(self) -> Any:
        from nebius.api.nebius.ai.v1 import EndpointServiceClient

        return EndpointServiceClient(self._sdk())

    def _operate(self, action: str, request: Callable[[], Any], timeout: float = OPERATION_S) -> str:
        """Send a mutating request, wait for its operation; the resource id."""
        op = self._call(action, lambda: request().wait())
        try:
            self._call(action, lambda: nebius_errors.wait_operation(op, timeout))
        except ProviderError as exc:
            if isinstance(exc.__cause__, TimeoutError):  # the API answers; the operation is just slow
                raise OperationOutlived(f"{self.target.name}: the {action} was still under way after {timeout:g}s "
                                        f"(operation {op.id})", "see where it stands: inv jobs.list --host "
                                        f"{self.target.name}") from exc
            raise
        return str(getattr(op, "resource_id", "") or "")

    # -- secrets ----------------------------------------------------------------------------------
    def _secret(self, name: str) -> Any:
        if name not in self._secrets:
            from nebius.api.nebius.mysterybox.v1 import GetSecretByNameRequest, SecretServiceClient

            client = SecretServiceClient(self._sdk())
            self._secrets[name] = self._call(f"lookup of secret {name}", lambda: client.get_by_name(
                GetSecretByNameRequest(parent_id=self.target.parent_id, name=name), timeout=CALL_S).wait())
        return self._secrets[name]

    def secret_id(self, name: str) -> str:
        """A MysteryBox secret's id from its name (the SDK takes ids; hosts.yaml names)."""
        return self._secret(name).metadata.id

    def secret_version(self, name: str) -> str:
        """A MysteryBox secret's primary version id (what RegistryCredentials.mysterybox_secret_version takes)."""
        return self._secret(name).spec.primary_version_id

    def _registry_credentials(self, spec: ServerlessSpec, cls: Any) -> Any:
        """The pull's credentials as the SDK message, from the source spec.registry_auth names; None when public."""
        source, _, where = spec.registry_auth.partition(":")
        if source == "mysterybox":
            return cls(mysterybox_secret_version=self.secret_version(where))
        if source == "docker-config":
            from ..images.registry import docker_credentials

            found = docker_credentials(where)
            if not found:
                raise ProviderError(f"{self.target.name}: {spec.image.split('@')[0]} is in the private registry "
                                    f"{where}, and no credentials for it were found to hand to Nebius",
                                    f"docker login {where}, or name a MysteryBox secret (REGISTRY_USERNAME, "
                                    "REGISTRY_PASSWORD) as provider.registry_credentials_secret in hosts.yaml")
            return cls(username=found[0], password=found[1])
        return None

    def prepare(self, spec: ServerlessSpec) -> None:
        """Everything create needs before the call: the SDK made and its messages imported, each secret's
        id looked up (at once). Runs while the launch's checks run (launch.py)."""
        from concurrent.futures import ThreadPoolExecutor

        import nebius.api.nebius.ai.v1  # noqa: F401  (the message classes: most of the SDK's import time)

        names = sorted(set(spec.secret_env.values()) | ({spec.registry_auth.split(":", 1)[1]}
                                                         if spec.registry_auth.startswith("mysterybox:") else set())
                       | ({spec.proxy_token_secret} if spec.proxy_token_secret else set()))
        self._sdk()
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            list(pool.map(self.secret_id, names))

    def secret_value(self, name: str, key: str) -> str:
        """A secret's payload entry (the endpoint token, for the local client's environment only)."""
        from nebius.api.nebius.mysterybox.v1 import GetPayloadByKeyRequest, PayloadServiceClient

        client = PayloadServiceClient(self._sdk())
        secret_id = self.secret_id(name)
        payload = self._call(f"read of secret {name}", lambda: client.get_by_key(
            GetPayloadByKeyRequest(secret_id=secret_id, key=key), timeout=CALL_S).wait())
        data = getattr(payload, "data", None)
        return str(getattr(data, "string_value", "") or "")

    # -- create -----------------------------------------------------------------------------------
    def _spec_fields(self, spec: ServerlessSpec, prefix: Any) -> dict[str, Any]:
        """The fields JobSpec and EndpointSpec share, as SDK messages (`prefix`: JobSpec or EndpointSpec)."""
        import nebius.api.nebius.ai.v1 as ai

        kind = "Job" if prefix is ai.JobSpec else "Endpoint"
        env_cls = getattr(ai, f"{kind}Spec__EnvironmentVariable")
        ref_cls = getattr(ai, f"{kind}Spec__MysteryBoxSecretRef")
        volume_cls, mode = getattr(ai, f"{kind}Spec__VolumeMount"), getattr(ai, f"{kind}Spec__VolumeMount__Mode")
        env = [env_cls(name=k, value=v) for k, v in sorted(spec.env.items())]
        env += [env_cls(name=k, mysterybox_secret=ref_cls(secret_id=self.secret_id(v)))
                for k, v in sorted(spec.secret_env.items())]
        fields: dict[str, Any] = dict(
            image=spec.image, container_command=spec.container_command, args=spec.args,
            working_dir=spec.working_dir, platform=spec.compute.platform, preset=spec.compute.preset,
            environment_variables=env,
            volumes=[volume_cls(source=src, container_path=path, mode=mode.READ_WRITE if rw else mode.READ_ONLY)
                     for src, path, rw in spec.volumes])
        if spec.subnet_id:
            fields["subnet_id"] = spec.subnet_id
        if spec.disk_gb:
            from nebius.api.nebius.compute.v1 import DiskSpec__DiskType  # the type JobSpec.DiskSpec.type is

            disk_cls = getattr(ai, f"{kind}Spec__DiskSpec")
            fields["disk"] = disk_cls(type=DiskSpec__DiskType.NETWORK_SSD, size_bytes=spec.disk_gb * 2**30)
        credentials = self._registry_credentials(spec, getattr(ai, f"{kind}Spec__RegistryCredentials"))
        if credentials is not None:
            fields["registry_credentials"] = credentials
        if spec.ports:
            port_cls, proto = getattr(ai, f"{kind}Spec__Port"), getattr(ai, f"{kind}Spec__Port__Protocol")
            fields["ports"] = [port_cls(container_port=p, protocol=proto.HTTP) for p in spec.ports]
        if spec.proxy_token_secret:
            # Nebius's token proxy in front of the endpoint's one HTTP port (the SDK's EndpointSpec.auth_token:
            # "can only be enabled if the endpoint exposes one and only one HTTP port"; the secret's payload
            # holds AUTH_TOKEN). The SDK's DevlabSpec docstring of the same field: "The proxy rejects requests
            # without an Authorization: Bearer <token> header that contains the matching token."
            fields["auth_token_mysterybox_secret"] = ref_cls(secret_id=self.secret_id(spec.proxy_token_secret))
        return fields

    def create(self, spec: ServerlessSpec, timeout: float = OPERATION_S) -> str:
        """Create the job or endpoint and wait (`timeout` s) until the API accepted it; its id."""
        import nebius.api.nebius.ai.v1 as ai
        from nebius.api.nebius.common.v1 import ResourceMetadata

        metadata = ResourceMetadata(parent_id=spec.parent_id, name=spec.name, labels=dict(spec.labels))
        request: Any  # CreateJobRequest or CreateEndpointRequest
        if spec.kind == "job":
            fields = self._spec_fields(spec, ai.JobSpec)
            if spec.timeout_hours:
                fields["timeout"] = dt.timedelta(hours=spec.timeout_hours)
            request = ai.CreateJobRequest(metadata=metadata, spec=ai.JobSpec(**fields))
            client = self._jobs()
        else:
            request = ai.CreateEndpointRequest(metadata=metadata,
                                               spec=ai.EndpointSpec(**self._spec_fields(spec, ai.EndpointSpec)))
            client = self._endpoints()
        resource_id = self._operate(f"create of {spec.kind} {spec.name}",
                                    lambda: client.create(request, timeout=CALL_S), timeout)
        if not resource_id:
            return self.get_by_name(spec.kind, spec.name).id
        return resource_id

    # -- read ---------------------------------------------------------------------------------------
    def _resource(self, kind: str, item: Any) -> Resource:
        status, spec = item.status, item.spec
        state = getattr(status.state, "name", str(status.state))
        details = getattr(status, "state_details", None)
        detail = str(getattr(details, "message", "") or "") if details is not None else ""
        return Resource(
            kind=kind, id=item.metadata.id, name=item.metadata.name, state=state,
            labels=dict(item.metadata.labels or {}), image=spec.image, args=spec.args, preset=spec.preset,
            platform=spec.platform, created=_iso(item.metadata.created_at),
            started=_iso(getattr(status, "started_at", None)), finished=_iso(getattr(status, "finished_at", None)),
            detail=detail, exit_code=exit_code_of(state, detail) if kind == "job" else None,
            urls=tuple(status.public_endpoints or ()))

    def get(self, kind: str, resource_id: str) -> Resource:
        import nebius.api.nebius.ai.v1 as ai

        if kind == "job":
            item = self._call("status",
                              lambda: self._jobs().get(ai.GetJobRequest(id=resource_id), timeout=CALL_S).wait())
        else:
            item = self._call("status", lambda: self._endpoints().get(ai.GetEndpointRequest(id=resource_id),
                                                                       timeout=CALL_S).wait())
        return self._resource(kind, item)

    def get_by_name(self, kind: str, name: str) -> Resource:
        import nebius.api.nebius.ai.v1 as ai

        if kind == "job":
            item = self._call("lookup", lambda: self._jobs().get_by_name(
                ai.GetJobByNameRequest(parent_id=self.target.parent_id, name=name), timeout=CALL_S).wait())
        else:
            item = self._call("lookup", lambda: self._endpoints().get_by_name(
                ai.GetEndpointByNameRequest(parent_id=self.target.parent_id, name=name), timeout=CALL_S).wait())
        return self._resource(kind, item)

    def list(self, kind: str) -> list[Resource]:
        """Every job (or endpoint) of the project, all pages."""
        import nebius.api.nebius.ai.v1 as ai

        def page_after(token: str) -> Any:
            if kind == "job":
                return self._call("list", lambda: self._jobs().list(ai.ListJobsRequest(
                    parent_id=self.target.parent_id, page_size=100, page_token=token), timeout=CALL_S).wait())
            return self._call("list", lambda: self._endpoints().list(ai.ListEndpointsRequest(
                parent_id=self.target.parent_id, page_size=100, page_token=token), timeout=CALL_S).wait())

        out: list[Resource] = []
        token = ""
        for _ in range(100):  # 100 pages of 100: a bound, not a limit anyone meets
            page = page_after(token)
            out += [self._resource(kind, item) for item in page.items]
            token = page.next_page_token
            if not token:
                break
        return out

    # -- act --------------------------------------------------------------------------------------------
    def cancel_job(self, resource_id: str) -> None:
        import nebius.api.nebius.ai.v1 as ai

        self._operate("cancel", lambda: self._jobs().cancel(ai.CancelJobRequest(id=resource_id), timeout=CALL_S))

    def endpoint_action(self, action: str, resource_id: str) -> None:
        """stop (keeps the URL), start, or delete (retires it) an endpoint."""
        import nebius.api.nebius.ai.v1 as ai

        request = {"stop": ai.StopEndpointRequest, "start": ai.StartEndpointRequest,
                   "delete": ai.DeleteEndpointRequest}[action](id=resource_id)
        method = getattr(self._endpoints(), action)
        self._operate(f"{action} of endpoint {resource_id}", lambda: method(request, timeout=CALL_S))

    def wait_state(self, kind: str, resource_id: str, done: Callable[[Resource], bool], timeout: float | None,
                   interval: float = 1.0, on_change: Callable[[Resource], None] | None = None) -> Resource:
        """Poll until `done(resource)`; ProviderError after `timeout` seconds (None: no limit but each call's)."""
        end = None if timeout is None else time.monotonic() + timeout
        last = ""
        while True:
            now = self.get(kind, resource_id)
            if on_change and now.state != last:
                on_change(now)
                last = now.state
            if done(now):
                return now
            if end is not None and time.monotonic() >= end:
                raise ProviderError(f"{self.target.name}: {kind} {now.name} is still {now.state} after {timeout:g}s",
                                    f"look at it: inv jobs.logs {now.name}")
            time.sleep(interval)

