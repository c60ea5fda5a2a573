"""The Serverless stand-in's containers: run, find, watch and log them on a Docker engine.

A mixin of nebius_serverless.ServerlessState (which documents the behaviour): it needs the state's
`dir`, `docker_host`, `lock`, `tokens`, `save()` and `log()`.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from typing import TYPE_CHECKING, Any

from . import serverless_io as io

if TYPE_CHECKING:
    from .nebius_records import Resource

LABEL = "rt-serverless.id"
INTERNAL = 13


class Failure(Exception):
    """A step could not go on: the resource goes to ERROR with this code and message."""

    def __init__(self, code: str, message: str, rpc: int = INTERNAL, kind: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.rpc = code, message, rpc
        self.kind = kind  # the typed detail the API sends with it (nebius_standin.service_error)


def _docker_ns(stamp: str) -> int:
    """Docker's RFC3339Nano timestamp -> ns since the epoch."""
    whole, _, frac = stamp.rstrip("Z").partition(".")
    base = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.timezone.utc)
    return int(base.timestamp()) * 10 ** 9 + int((frac + "000000000")[:9])


class Containers:
    """Docker work for each resource (`rec` is a nebius_records.Resource)."""

    def docker(self) -> Any:
        """One client per thread (docker-py's session is not promised to be thread-safe)."""
        local = self.__dict__.setdefault("_local", threading.local())
        client = getattr(local, "client", None)
        if client is None:
            import docker

            client = (docker.DockerClient(base_url=self.docker_host, timeout=60) if self.docker_host
                      else docker.from_env(timeout=60))
            local.client = client
        return client

    def _find(self, rec: Resource) -> Any:
        found = self.docker().containers.list(all=True, filters={"label": f"{LABEL}={rec.id}"})
        return found[0] if found else None

    def _cleanup_container(self, rec: Resource) -> None:
        try:
            for box in self.docker().containers.list(all=True, filters={"label": f"{LABEL}={rec.id}"}):
                box.remove(force=True)
        except Exception as exc:
            self.log(f"{rec.kind} {rec.id}: could not remove its container: {exc}")

    def spec(self, rec: Resource) -> Any:
        import base64

        from nebius.api.nebius.ai.v1 import EndpointSpec, JobSpec

        return (JobSpec if rec.kind == "job" else EndpointSpec).FromString(base64.b64decode(rec.spec_b64))

    def _environment(self, rec: Resource) -> dict[str, str]:
        spec, env = self.spec(rec), {}
        for var in spec.environment_variables:
            ref = var.mysterybox_secret
            if ref is not None and ref.secret_id:
                try:
                    env[var.name] = io.secret_value(self.dir, ref.secret_id, ref.version_id, var.name)
                except KeyError as exc:
                    raise Failure("SecretNotFound", f"environment variable {var.name}: {exc.args[0]}") from None
            else:
                env[var.name] = var.value
        if rec.kind == "endpoint":
            self.tokens[rec.id] = self._auth_token(spec)
        return env

    def _auth_token(self, spec: Any) -> str | None:
        if spec.auth_token:
            return spec.auth_token
        ref = spec.auth_token_mysterybox_secret
        if ref is not None and ref.secret_id:
            try:
                return io.secret_value(self.dir, ref.secret_id, ref.version_id, "AUTH_TOKEN")
            except KeyError as exc:
                raise Failure("SecretNotFound", f"auth token: {exc.args[0]}") from None
        return None

    def _run_container(self, rec: Resource, spec: Any) -> None:
        volumes = {}
        for vol in spec.volumes:
            if "://" in vol.source:
                raise Failure("Unsupported", f"volume {vol.source}: the stand-in mounts filesystems only, "
                                             f"not object storage")
            read_only = vol.mode is not None and vol.mode.name == "READ_ONLY"
            volumes[f"rt-serverless-{vol.source}"] = {"bind": vol.container_path, "mode": "ro" if read_only else "rw"}
        ports = {}
        if rec.kind == "endpoint":
            wanted = [p.container_port for p in spec.ports if p.container_port] or [8000]
            ports = {f"{wanted[0]}/tcp": ("127.0.0.1", None)}
        import docker.errors

        try:
            self._create_and_start(rec, spec, volumes, ports)
        except docker.errors.APIError as exc:  # e.g. the command is not in the image
            raise Failure("ContainerStartFailed", f"the container did not start: {exc.explanation or exc}") from None

    def _create_and_start(self, rec: Resource, spec: Any, volumes: dict, ports: dict) -> None:
        self.docker().containers.run(
            spec.image, command=spec.args.split() or None,
            entrypoint=[spec.container_command] if spec.container_command else None,
            working_dir=spec.working_dir or None, environment=self._environment(rec), volumes=volumes,
            ports=ports, name=f"rt-serverless-{rec.id}", detach=True,
            labels={LABEL: rec.id, "rt-serverless.kind": rec.kind, "rt-serverless.state-dir": str(self.dir)})

    def _note_port(self, rec: Resource, box: Any) -> None:
        for bindings in (box.attrs.get("NetworkSettings", {}).get("Ports") or {}).values():
            for binding in bindings or []:
                with self.lock:
                    rec.host_port = int(binding["HostPort"])
                    self.save()
                return

    @staticmethod
    def _container_time(box: Any, what: str) -> float:
        """The container's own StartedAt/FinishedAt: right even when it ran while the stand-in was down."""
        try:
            return _docker_ns(box.attrs["State"][what]) / 1e9
        except (KeyError, ValueError):
            return time.time()

    def _capture(self, rec: Resource, box: Any) -> None:
        """Lines newer than rec.log_ns, pushed to the Loki API (they outlive the container); kept for the
        next look while that API is not up or does not take them."""
        if not self.loki_url:
            return
        try:
            since = {"since": rec.log_ns // 10 ** 9 - 1} if rec.log_ns > 2 * 10 ** 9 else {}  # docker: since > 0
            raw = box.logs(stdout=True, stderr=True, timestamps=True, **since)
        except Exception:
            return
        fresh = []
        for line in raw.decode(errors="replace").splitlines():
            stamp, _, text = line.partition(" ")
            try:
                ns = _docker_ns(stamp)
            except ValueError:
                continue
            if ns > rec.log_ns:
                fresh.append((ns, text))
        if fresh:
            labels = {"__bucket__": io.LOG_BUCKET, io.LOG_ID_LABEL[rec.kind]: rec.id, "name": rec.name,
                      "parent_id": rec.parent_id}
            try:
                for at in range(0, len(fresh), 5000):
                    io.push(self.loki_url, labels, fresh[at:at + 5000])
            except OSError:
                return  # Loki de-duplicates a batch sent twice: the next look sends them all again
            with self.lock:
                rec.log_ns = fresh[-1][0]
                self.save()
