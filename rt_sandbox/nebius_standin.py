"""A Nebius compute API stand-in on loopback, for the sandbox and the tests.

It is a real gRPC server that speaks `nebius.compute.v1.InstanceService`
(Get, List, Start, Stop) and `nebius.common.v1.OperationService` (Get, List)
with the message classes and service descriptors of the installed `nebius`
SDK, so the code under test talks to it through the real SDK client, exactly
as it would talk to the cloud. Only the server side is a stand-in.

Start and Stop change the instance's state through STARTING/STOPPING (a short
delay) and call a power hook; in the sandbox the hook really starts or stops
that host (its sshd and its Docker engine: containers are gone after a stop).

Behaviour switches live in a JSON control file beside the state, read on every
call, so a test (or a person) can flip them while the server runs:
  {"capacity_error": true | ["<instance id>", ...],   # Start fails: no GPU free (typed: not_enough_resources)
   "new_address_on_restart": true}                    # Start hands out a new address

Run: python -m rt_sandbox.nebius_standin --state-dir DIR [--port 0]
     [--sandbox-root ROOT] [--delay 1.0]
     [--serverless [--serverless-docker-host URL] [--serverless-delay 1.0] [--logs-port 0]]
It writes DIR/port once it listens and DIR/state.json on every change. `--serverless` adds the
Serverless AI Jobs/Endpoints, MysteryBox and logs stand-in on the same port
(rt_sandbox/nebius_serverless.py documents it).
"""
from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import signal
import threading
import time
from concurrent import futures
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from .nebius_records import InstanceRecord, OperationRecord, rich_status

INSTANCE_SERVICE = "nebius.compute.v1.InstanceService"
OPERATION_SERVICE = "nebius.common.v1.OperationService"
PROFILE_SERVICE = "nebius.iam.v1.ProfileService"  # whoami: lets `inv vm.login` be checked too

# (instance name, current address, want a new address) -> the address it really got
PowerOn = Callable[[str, str, bool], str]
PowerOff = Callable[[str], None]
Probe = Callable[[str], bool]  # is the machine really up? (someone may power it outside the API)
Where = Callable[[str], set]  # the addresses the machine holds now


def other_address(address: str) -> str:
    """The address a restarted host moves to: last octet +100, or back (10.213.0.11 <-> 10.213.0.111)."""
    head, _, last = address.rpartition(".")
    if not last.isdigit():
        return address
    n = int(last)
    return f"{head}.{n - 100 if n >= 110 else n + 100}"


def _fake_power_on(name: str, address: str, new_address: bool) -> str:
    """Without a sandbox: only the address changes, nothing starts."""
    return other_address(address) if new_address else address


class StandinState:
    """Instances and operations, persisted as JSON so a restarted server keeps them."""

    def __init__(self, state_dir: Path, *, delay: float = 1.0, power_on: PowerOn | None = None,
                 power_off: PowerOff | None = None, probe: Probe | None = None, where: Where | None = None) -> None:
        self.dir = state_dir
        self.probe, self.where = probe, where
        self.dir.mkdir(parents=True, exist_ok=True)
        self.delay = delay
        self.power_on = power_on or _fake_power_on
        self.power_off = power_off or (lambda name: None)
        self.lock = threading.RLock()
        self.instances: dict[str, InstanceRecord] = {}
        self.operations: dict[str, OperationRecord] = {}
        self._ids = itertools.count(1)
        self._load()

    # -- files ---------------------------------------------------------------
    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    @property
    def control_file(self) -> Path:
        return self.dir / "control.json"

    def _load(self) -> None:
        if self.state_file.exists():
            data = json.loads(self.state_file.read_text())
            self.instances = {i["id"]: InstanceRecord(**i) for i in data.get("instances", [])}
            for op in data.get("operations", []):
                self.operations[op["id"]] = OperationRecord(**op)
            for record in self.instances.values():  # a transition cut short with no operation to carry it on:
                if record.state in ("STARTING", "STOPPING") and not self._pending(record.id):
                    record.state = "STOPPED"  # call it STOPPED; the probe corrects it

    def _pending(self, instance_id: str) -> OperationRecord | None:
        return next((op for op in self.operations.values() if op.resource_id == instance_id and op.finished is None
                     and op.id.startswith("computeoperation-")), None)

    def resume(self) -> None:
        """After a restart: carry on the starts and stops that were under way (their operations are kept,
        so a client waiting on one sees it finish, as with the real API)."""
        for inst in list(self.instances.values()):
            op = self._pending(inst.id)
            if op is not None and inst.state == "STARTING":
                threading.Thread(target=self._power_on, args=(inst, op, False), daemon=True).start()
            elif op is not None and inst.state == "STOPPING":
                threading.Thread(target=self._power_off, args=(inst, op), daemon=True).start()
            elif op is not None:  # killed between taking the request and acting on it
                self._finish(op, 13, "interrupted by a restart of the API; nothing was done: retry")

    def save(self) -> None:
        with self.lock:
            compute = [asdict(op) for op in list(self.operations.values()) if op.id.startswith("computeoperation-")]
            data = {"instances": [asdict(i) for i in self.instances.values()], "operations": compute[-200:]}
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2))
            tmp.replace(self.state_file)

    def control(self) -> dict[str, Any]:
        try:
            return json.loads(self.control_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def add_instance(self, instance_id: str, name: str, address: str, state: str = "RUNNING") -> None:
        with self.lock:
            self.instances[instance_id] = InstanceRecord(instance_id, name, address, state, base_address=address)
            self.save()

    def refresh(self, inst: InstanceRecord) -> InstanceRecord:
        """Follow power changes made outside the API (a test stopping a sandbox host directly)."""
        if self.probe is None or inst.state not in ("RUNNING", "STOPPED"):
            return inst
        try:
            up = self.probe(inst.name)
        except Exception:
            return inst  # cannot tell: keep what the API last did
        if up != (inst.state == "RUNNING"):
            inst.state = "RUNNING" if up else "STOPPED"
            if up:
                inst.address = inst.base_address or inst.address
            self.save()
        if up and self.where is not None:  # power-cycled behind our back between two calls
            try:
                held = self.where(inst.name)
            except Exception:
                held = set()
            if held and inst.address not in held:
                inst.address = inst.base_address if inst.base_address in held else sorted(held)[0]
                self.save()
        return inst

    # -- operations ----------------------------------------------------------
    def _new_operation(self, instance_id: str, what: str) -> OperationRecord:
        op = OperationRecord(f"computeoperation-{os.getpid()}-{next(self._ids)}", instance_id, what)
        self.operations[op.id] = op  # saved with what the request does next (_finish, or the new state)
        return op

    def _finish(self, op: OperationRecord, code: int = 0, message: str = "", kind: str = "") -> None:
        """The operation's end, saved with whatever the caller changed first (kept across a restart)."""
        op.code, op.message, op.kind, op.finished = code, message, kind, time.time()
        self.save()

    def start(self, instance_id: str) -> OperationRecord:
        with self.lock:
            inst = self.refresh(self._instance(instance_id))
            op = self._new_operation(instance_id, f"start instance {instance_id}")
            if inst.state in ("RUNNING", "STARTING"):
                self._finish(op)  # idempotent: already (becoming) what was asked
                return op
            if inst.state == "STOPPING":
                self._finish(op, 9, f"instance {instance_id} is STOPPING; start it once it is STOPPED")
                return op
            wanted = self.control().get("capacity_error")
            if wanted is True or (isinstance(wanted, list) and instance_id in wanted):
                self._finish(op, 8, f"not enough resources: gpu-h100-sxm requested 1: no capacity in the "
                                    f"zone for instance {instance_id}; a stopped instance without a "
                                    f"reservation released its GPU", kind="not_enough_resources")
                return op
            inst.state = "STARTING"
            self.save()
        new_address = bool(self.control().get("new_address_on_restart"))
        threading.Thread(target=self._power_on, args=(inst, op, new_address), daemon=True).start()
        return op

    def stop(self, instance_id: str) -> OperationRecord:
        with self.lock:
            inst = self.refresh(self._instance(instance_id))
            op = self._new_operation(instance_id, f"stop instance {instance_id}")
            if inst.state in ("STOPPED", "STOPPING"):
                self._finish(op)
                return op
            if inst.state == "STARTING":
                self._finish(op, 9, f"instance {instance_id} is STARTING; stop it once it is RUNNING")
                return op
            inst.state = "STOPPING"
            self.save()
        threading.Thread(target=self._power_off, args=(inst, op), daemon=True).start()
        return op

    def _power_on(self, inst: InstanceRecord, op: OperationRecord, new_address: bool) -> None:
        time.sleep(self.delay)
        try:
            address = self.power_on(inst.name, inst.address, new_address)
        except Exception as exc:  # the host did not come up: the instance is in ERROR, as in the cloud
            with self.lock:
                inst.state = "ERROR"
                self._finish(op, 13, f"instance {inst.id} failed to start: {exc}")
            return
        with self.lock:
            inst.address, inst.state = address, "RUNNING"
            inst.restarts += 1
            self._finish(op)

    def _power_off(self, inst: InstanceRecord, op: OperationRecord) -> None:
        time.sleep(self.delay)
        try:
            self.power_off(inst.name)
        except Exception as exc:
            with self.lock:
                inst.state = "ERROR"
                self._finish(op, 13, f"instance {inst.id} failed to stop: {exc}")
            return
        with self.lock:
            inst.state, inst.stopped_at = "STOPPED", time.time()
            self._finish(op)

    def _instance(self, instance_id: str) -> InstanceRecord:
        inst = self.instances.get(instance_id)
        if inst is None:
            raise KeyError(instance_id)
        return inst


class StandinServer:
    """The gRPC server: handlers built from the SDK's own descriptors and message classes."""

    def __init__(self, state: StandinState, port: int = 0, host: str = "127.0.0.1",
                 extra_handlers: tuple = ()) -> None:
        import grpc

        self.state = state
        # no SO_REUSEPORT: a second stand-in on the same port must fail, not share the traffic
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=[("grpc.so_reuseport", 0)])
        self.server.add_generic_rpc_handlers((
            self._service(INSTANCE_SERVICE, {"Get": self.get, "List": self.list, "Start": self.start,
                                             "Stop": self.stop}),
            self._service(OPERATION_SERVICE, {"Get": self.get_operation, "List": self.list_operations}),
            self._service(PROFILE_SERVICE, {"Get": self.whoami}),
            *extra_handlers,  # more services on the same port (the SDK sends every service to one address)
        ))
        self.port = self.server.add_insecure_port(f"{host}:{port}")
        if not self.port:
            raise OSError(f"cannot listen on {host}:{port} (in use?)")
        self.address = f"{host}:{self.port}"

    @staticmethod
    def _service(name: str, methods: dict[str, Callable]) -> Any:
        import grpc
        from nebius.api.nebius.common.v1 import OperationServiceClient
        from nebius.api.nebius.compute.v1 import InstanceServiceClient
        from nebius.api.nebius.iam.v1 import ProfileServiceClient

        client = {INSTANCE_SERVICE: InstanceServiceClient, OPERATION_SERVICE: OperationServiceClient,
                  PROFILE_SERVICE: ProfileServiceClient}[name]
        descriptor, registry = client.get_descriptor(), client.__registry__
        handlers = {}
        for method, fn in methods.items():
            m = descriptor.methods_by_name[method]
            request_class = registry.message_class(m.input_type.full_name)
            handlers[method] = grpc.unary_unary_rpc_method_handler(
                fn, request_deserializer=request_class.FromString,
                response_serializer=lambda msg: msg.SerializeToString())
        return grpc.method_handlers_generic_handler(name, handlers)

    def start_serving(self) -> "StandinServer":
        self.server.start()
        return self

    def shutdown(self) -> None:
        self.server.stop(grace=0.5).wait()

    # -- messages ----------------------------------------------------------------
    def _instance_message(self, inst: InstanceRecord) -> Any:
        from nebius.api.nebius.common.v1 import ResourceMetadata
        from nebius.api.nebius.compute.v1 import (
            Instance,
            InstanceSpec,
            InstanceStatus,
            NetworkInterfaceStatus,
            PublicIPAddressStatus,
        )

        state = getattr(InstanceStatus.InstanceState, inst.state)
        nic = NetworkInterfaceStatus(index=0, name="eth0", ip_address=None,
                                     public_ip_address=PublicIPAddressStatus(address=f"{inst.address}/32"))
        return Instance(
            metadata=ResourceMetadata(id=inst.id, parent_id=inst.parent_id, name=inst.name),
            spec=InstanceSpec(stopped=inst.state in ("STOPPED", "STOPPING")),
            status=InstanceStatus(state=state, network_interfaces=[nic] if inst.state == "RUNNING" else []),
        )

    @staticmethod
    def _operation_message(op: OperationRecord) -> Any:
        from nebius.api.nebius.common.v1 import Operation

        utc = dt.timezone.utc
        msg = Operation(id=op.id, description=op.description, resource_id=op.resource_id,
                        created_by="sandbox", created_at=dt.datetime.fromtimestamp(op.created, utc))
        if op.finished is not None:
            msg.finished_at = dt.datetime.fromtimestamp(op.finished, utc)
            service = "nebius.ai.v1" if op.id.startswith("aioperation-") else "nebius.compute.v1"
            msg.status = rich_status(op.code or 0, op.message, op.kind, service)
        return msg

    def _not_found(self, context: Any, what: str) -> None:
        import grpc

        context.abort(grpc.StatusCode.NOT_FOUND, f"{what} not found")

    # -- handlers ----------------------------------------------------------------
    def get(self, request: Any, context: Any) -> Any:
        with self.state.lock:
            inst = self.state.instances.get(request.id)
            if inst is None:
                self._not_found(context, f"instance {request.id}")
            return self._instance_message(self.state.refresh(inst))

    def list(self, request: Any, context: Any) -> Any:
        from nebius.api.nebius.compute.v1 import ListInstancesResponse

        with self.state.lock:
            items = [self._instance_message(self.state.refresh(i)) for i in self.state.instances.values()
                     if not request.parent_id or i.parent_id == request.parent_id]
        return ListInstancesResponse(items=items)

    def start(self, request: Any, context: Any) -> Any:
        return self._act(self.state.start, request, context)

    def stop(self, request: Any, context: Any) -> Any:
        return self._act(self.state.stop, request, context)

    def _act(self, action: Callable[[str], OperationRecord], request: Any, context: Any) -> Any:
        try:
            op = action(request.id)
        except KeyError:
            self._not_found(context, f"instance {request.id}")
        return self._operation_message(op)

    def whoami(self, request: Any, context: Any) -> Any:
        from nebius.api.nebius.iam.v1 import GetProfileResponse, UserProfile

        return GetProfileResponse(user_profile=UserProfile(id="useraccount-sandbox"))

    def get_operation(self, request: Any, context: Any) -> Any:
        with self.state.lock:
            op = self.state.operations.get(request.id)
            if op is None:
                self._not_found(context, f"operation {request.id}")
            return self._operation_message(op)

    def list_operations(self, request: Any, context: Any) -> Any:
        from nebius.api.nebius.common.v1 import ListOperationsResponse

        with self.state.lock:
            ops = [self._operation_message(o) for o in self.state.operations.values()
                   if not request.resource_id or o.resource_id == request.resource_id]
        return ListOperationsResponse(operations=ops)


def sandbox_power(root: Path) -> tuple[PowerOn, PowerOff, Probe]:
    """Power hooks that really start and stop a sandbox host (its sshd and dockerd).

    A new address is a real one: the host's network namespace gets it and its
    sshd answers there (fleet.start_host(address=...)).
    """
    from rt_sandbox import fleet

    def on(name: str, address: str, new_address: bool) -> str:
        wanted = other_address(address) if new_address else address
        fleet.start_host(root, name, address=wanted)
        return wanted

    def off(name: str) -> None:
        fleet.stop_host(root, name)

    def probe(name: str) -> bool:
        return fleet.host_is_up(root, name)

    return on, off, probe


def sandbox_addresses(name: str) -> set:
    """The IPv4 addresses a sandbox host's eth0 holds now."""
    import subprocess

    from rt_sandbox.layout import host_specs

    spec = next(s for s in host_specs(40) if s.name == name)
    shown = subprocess.run(["ip", "-n", spec.netns, "-o", "-4", "addr", "show", "dev", "eth0"],
                           capture_output=True, text=True, timeout=10).stdout.split()
    return {w.split("/")[0] for w in shown if "/" in w and w[0].isdigit()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Nebius compute API stand-in (loopback only)")
    parser.add_argument("--state-dir", required=True, type=Path, help="where state.json, control.json, port live")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds spent in STARTING/STOPPING")
    parser.add_argument("--sandbox-root", type=Path, help="project root whose sandbox hosts Start/Stop power")
    parser.add_argument("--serverless", action="store_true", help="also serve Serverless jobs/endpoints, "
                        "MysteryBox and the Loki logs API (rt_sandbox/nebius_serverless.py)")
    parser.add_argument("--serverless-docker-host", help="Docker engine that runs them (default: the local one)")
    parser.add_argument("--serverless-delay", type=float, default=1.0, help="seconds per serverless state step")
    parser.add_argument("--logs-port", type=int, default=0, help="Loki API port on 127.0.0.1 (0: any; "
                        "written to DIR/logs_port)")
    args = parser.parse_args(argv)
    hooks = sandbox_power(args.sandbox_root) if args.sandbox_root else (None, None, None)
    state = StandinState(args.state_dir, delay=args.delay, power_on=hooks[0], power_off=hooks[1], probe=hooks[2],
                         where=sandbox_addresses if args.sandbox_root else None)
    serverless = logs = None
    extra: tuple = ()
    if args.serverless:
        from rt_sandbox.nebius_serverless import ServerlessState
        from rt_sandbox.serverless_api import ServerlessApi
        from rt_sandbox.serverless_io import LokiServer

        serverless = ServerlessState(args.state_dir, state.operations, delay=args.serverless_delay,
                                     docker_host=args.serverless_docker_host,
                                     log=lambda line: print(line, flush=True))
        extra = tuple(ServerlessApi(serverless, StandinServer._operation_message).handlers())
    server = StandinServer(state, args.port, extra_handlers=extra).start_serving()
    state.resume()  # starts and stops a killed server left under way
    if serverless is not None:
        logs = LokiServer(args.state_dir, args.logs_port)
        serverless.loki_url = f"http://127.0.0.1:{logs.port}"
        serverless.resume()  # proxies back on their ports, containers re-attached
        (args.state_dir / "logs_port").write_text(str(logs.port))
    (args.state_dir / "port").write_text(str(server.port))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    server.shutdown()
    if serverless is not None:
        logs.close()
        serverless.close()  # containers keep running: a restarted stand-in takes them over
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
