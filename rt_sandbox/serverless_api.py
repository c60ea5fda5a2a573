"""The gRPC face of the Serverless stand-in: handlers for the SDK's ai.v1 and mysterybox.v1 services.

Built from the installed SDK's service descriptors and message classes, like the compute stand-in's
(rt_sandbox/nebius_standin.py); the behaviour lives in rt_sandbox/nebius_serverless.py.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

from . import serverless_io as io
from .nebius_records import Resource, abort_typed
from .nebius_serverless import Failure, ServerlessState

UTC = dt.timezone.utc
_CODES = {6: "ALREADY_EXISTS", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION", 13: "INTERNAL"}


def service(client: Any, methods: dict[str, Callable]) -> Any:
    """A generic gRPC handler for `client`'s service, request classes from its registry."""
    import grpc

    descriptor, registry = client.get_descriptor(), client.__registry__
    handlers = {}
    for method, fn in methods.items():
        request_class = registry.message_class(descriptor.methods_by_name[method].input_type.full_name)
        handlers[method] = grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=request_class.FromString,
            response_serializer=lambda msg: msg.SerializeToString())
    return grpc.method_handlers_generic_handler(client.__service_name__, handlers)


def _when(stamp: float | None) -> Any:
    return dt.datetime.fromtimestamp(stamp, UTC) if stamp else None


class ServerlessApi:
    def __init__(self, state: ServerlessState, operation_message: Callable[[Any], Any]) -> None:
        self.state = state
        self.operation_message = operation_message  # the compute stand-in's: one operation format

    def handlers(self) -> list[Any]:
        from nebius.api.nebius.ai.v1 import EndpointServiceClient, JobServiceClient
        from nebius.api.nebius.mysterybox.v1 import PayloadServiceClient, SecretServiceClient

        def kind(name: str) -> Callable:
            return lambda fn: (lambda request, context: fn(name, request, context))

        job, endpoint = kind("job"), kind("endpoint")
        return [
            service(JobServiceClient, {
                "Create": job(self.create), "Get": job(self.get), "GetByName": job(self.get_by_name),
                "List": job(self.list), "Cancel": job(self.action("cancel")), "Delete": job(self.action("delete"))}),
            service(EndpointServiceClient, {
                "Create": endpoint(self.create), "Get": endpoint(self.get), "GetByName": endpoint(self.get_by_name),
                "List": endpoint(self.list), "Start": endpoint(self.action("start")),
                "Stop": endpoint(self.action("stop")), "Delete": endpoint(self.action("delete"))}),
            service(SecretServiceClient, {"GetByName": self.secret_by_name}),
            service(PayloadServiceClient, {"GetByKey": self.payload_by_key}),
        ]

    # -- messages ------------------------------------------------------------------------------
    def message(self, rec: Resource) -> Any:
        from nebius.api.nebius.ai.v1 import (
            Endpoint,
            EndpointStateDetails,
            EndpointStatus,
            Job,
            JobStateDetails,
            JobStatus,
        )
        from nebius.api.nebius.common.v1 import ResourceMetadata

        spec = self.state.spec(rec)
        if rec.kind == "endpoint" and spec.auth_token:
            spec.auth_token = "**HIDDEN**"  # a sensitive field: the API never gives it back
        meta = ResourceMetadata(id=rec.id, parent_id=rec.parent_id, name=rec.name, labels=rec.labels,
                                resource_version=rec.version, created_at=_when(rec.created),
                                updated_at=_when(rec.updated))
        if rec.kind == "job":
            status = JobStatus(state=getattr(JobStatus.State, rec.state),
                               state_details=JobStateDetails(code=rec.details_code, message=rec.details_message))
            if rec.started_at:
                status.started_at = _when(rec.started_at)
            if rec.finished_at:
                status.finished_at = _when(rec.finished_at)
            return Job(metadata=meta, spec=spec, status=status)
        public = [f"https://127.0.0.1:{rec.proxy_port}"] if rec.proxy_port else []
        if rec.host_port and rec.state == "RUNNING":
            public.append(f"127.0.0.1:{rec.host_port}")  # as the real API: a bare ip:port beside the URL
        status = EndpointStatus(state=getattr(EndpointStatus.State, rec.state), public_endpoints=public,
                                state_details=EndpointStateDetails(code=rec.details_code,
                                                                   message=rec.details_message))
        return Endpoint(metadata=meta, spec=spec, status=status)

    @staticmethod
    def _abort(context: Any, code: str, message: str) -> None:
        import grpc

        context.abort(getattr(grpc.StatusCode, code), message)

    def _record(self, kind: str, rid: str, context: Any) -> Resource:
        rec = self.state.items.get(rid)
        if rec is None or rec.kind != kind:
            self._abort(context, "NOT_FOUND", f"{kind} {rid} not found")
        return rec

    # -- handlers --------------------------------------------------------------------------------
    def create(self, kind: str, request: Any, context: Any) -> Any:
        if not request.metadata.name:
            self._abort(context, "INVALID_ARGUMENT", "metadata.name is required")
        if not request.spec.image:
            self._abort(context, "INVALID_ARGUMENT", "spec.image is required")
        try:
            op = self.state.create(kind, request.metadata, request.spec)
        except Failure as exc:
            if exc.kind:
                abort_typed(context, exc.rpc, exc.message, exc.kind, "nebius.ai.v1")
            self._abort(context, _CODES.get(exc.rpc, "INTERNAL"), exc.message)
        return self.operation_message(op)

    def get(self, kind: str, request: Any, context: Any) -> Any:
        with self.state.lock:
            return self.message(self._record(kind, request.id, context))

    def get_by_name(self, kind: str, request: Any, context: Any) -> Any:
        with self.state.lock:
            parent = request.parent_id or io.SANDBOX_PARENT
            for rec in self.state.items.values():
                if rec.kind == kind and rec.parent_id == parent and rec.name == request.name:
                    return self.message(rec)
        self._abort(context, "NOT_FOUND", f"{kind} named {request.name!r} not found in {parent}")

    def list(self, kind: str, request: Any, context: Any) -> Any:
        from nebius.api.nebius.ai.v1 import ListEndpointsResponse, ListJobsResponse

        with self.state.lock:
            items = sorted((r for r in self.state.items.values() if r.kind == kind
                            and (not request.parent_id or r.parent_id == request.parent_id)), key=lambda r: r.created)
            start = int(request.page_token or 0)
            size = request.page_size or 1000
            page, rest = items[start:start + size], items[start + size:]
            messages = [self.message(r) for r in page]
        token = str(start + size) if rest else ""
        response = ListJobsResponse if kind == "job" else ListEndpointsResponse
        return response(items=messages, next_page_token=token)

    def action(self, what: str) -> Callable:
        def handle(kind: str, request: Any, context: Any) -> Any:
            self._record(kind, request.id, context)
            try:
                op = self.state.act(request.id, what)
            except KeyError:
                self._abort(context, "NOT_FOUND", f"{kind} {request.id} not found")
            return self.operation_message(op)
        return handle

    def secret_by_name(self, request: Any, context: Any) -> Any:
        from nebius.api.nebius.common.v1 import ResourceMetadata
        from nebius.api.nebius.mysterybox.v1 import Secret, SecretSpec, SecretStatus

        found = io.find_secret(self.state.dir, parent_id=request.parent_id, name=request.name)
        if found is None:
            self._abort(context, "NOT_FOUND", f"secret {request.name!r} not found in {request.parent_id}")
        return Secret(metadata=ResourceMetadata(id=found["id"], parent_id=found["parent_id"], name=found["name"]),
                      spec=SecretSpec(primary_version_id=io.version_id(found["id"])),
                      status=SecretStatus(state=SecretStatus.State.ACTIVE))

    def payload_by_key(self, request: Any, context: Any) -> Any:
        from nebius.api.nebius.mysterybox.v1 import Payload, SecretPayloadEntry

        found = io.find_secret(self.state.dir, request.secret_id)
        payload = (found or {}).get("payload") or {}
        if found is None or request.key not in payload or (
                request.version_id and request.version_id != io.version_id(found["id"])):
            self._abort(context, "NOT_FOUND", f"secret {request.secret_id} has no key {request.key!r}")
        return SecretPayloadEntry(version_id=io.version_id(found["id"]),
                                  data=Payload(key=request.key, string_value=payload[request.key]))
