"""What the Nebius API stand-ins keep and answer with: the compute instances and operations
(rt_sandbox/nebius_standin.py), the Serverless jobs and endpoints (rt_sandbox/nebius_serverless.py), and the
typed errors both send. It imports none of the stand-ins' modules, so each of them can import it."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PARENT = "project-sandbox"


@dataclass
class InstanceRecord:
    id: str
    name: str
    address: str
    state: str = "RUNNING"  # STOPPED, STARTING, RUNNING, STOPPING, ERROR
    parent_id: str = DEFAULT_PARENT
    restarts: int = 0
    base_address: str = ""  # where the machine answers after a power cycle nobody asked us for
    stopped_at: float = 0.0  # when a Stop through the API finished (sandbox.up leaves it off a while)


@dataclass
class OperationRecord:
    id: str
    resource_id: str
    description: str
    created: float = field(default_factory=time.time)
    finished: float | None = None
    code: int | None = None  # google.rpc.Code once done: 0 OK, 8 RESOURCE_EXHAUSTED, 13 INTERNAL
    message: str = ""
    kind: str = ""  # the typed detail of a failure (service_error): quota_failure, not_enough_resources, ...


# Nebius APIs put a typed `nebius.common.v1.ServiceError` in google.rpc.Status.details (the SDK parses it
# into RequestError/OperationError.status.service_errors: nebius/aio/service_error.py); the `details` one-of
# names its kind. Quota and capacity are not worth retrying at once (retry_type NOTHING, assumed); rate
# limiting is (CALL: the SDK itself retries it inside the call's time limit, then the project does).
RETRY = {"quota_failure": "NOTHING", "not_enough_resources": "NOTHING", "too_many_requests": "CALL"}


def service_error(kind: str, message: str, service: str) -> Any:
    """A ServiceError of one of the kinds above, carrying `message` in its typed detail."""
    import nebius.api.nebius.common.v1 as common

    detail: dict[str, Any] = {
        "quota_failure": lambda: dict(quota_failure=common.QuotaFailure(violations=[common.QuotaFailure__Violation(
            quota="ai.jobs.gpu" if service.startswith("nebius.ai") else "compute.instance.gpu", message=message,
            limit="0", requested="1")])),
        "not_enough_resources": lambda: dict(not_enough_resources=common.NotEnoughResources(violations=[
            common.NotEnoughResources__Violation(resource_type="gpu-h100-sxm", message=message, requested="1")])),
        "too_many_requests": lambda: dict(too_many_requests=common.TooManyRequests(violation=message)),
    }[kind]()
    return common.ServiceError(service=service, code=kind, retry_type=getattr(common.ServiceError.RetryType,
                                                                             RETRY[kind]), **detail)


def rich_status(code: int, message: str, kind: str = "", service: str = "") -> Any:
    """google.rpc.Status with the typed ServiceError packed in its details when `kind` is given."""
    from nebius.api.google.protobuf import Any as AnyMessage
    from nebius.api.google.rpc import Status

    details = [AnyMessage(type_url="type.googleapis.com/nebius.common.v1.ServiceError",
                          value=service_error(kind, message, service).SerializeToString())] if kind else []
    return Status(code=code, message=message, details=details)


def abort_typed(context: Any, code: int, message: str, kind: str, service: str) -> None:
    """End a call with `code` and the typed detail, as gRPC's rich status does (grpc-status-details-bin)."""
    import grpc

    status = rich_status(code, message, kind, service)
    context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
    context.abort(next(c for c in grpc.StatusCode if c.value[0] == code), message)


# -- Serverless AI jobs and endpoints (nebius_serverless.ServerlessState) ------------------------------------
JOB_ENDED = {"COMPLETED", "FAILED", "CANCELLED", "ERROR"}


@dataclass
class Resource:
    id: str
    kind: str  # job | endpoint
    name: str
    parent_id: str
    spec_b64: str  # the spec as the client sent it (serialized), returned by Get
    labels: dict = field(default_factory=dict)
    state: str = "PROVISIONING"
    details_code: str = ""
    details_message: str = ""
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    proxy_port: int = 0
    host_port: int = 0
    log_ns: int = 0  # the newest captured log line: the capture goes on from here
    version: int = 1
    pending_ops: list = field(default_factory=list)  # [{"id": ..., "until": [states]}]
