"""The typed plan as a serverless job or endpoint: what `CreateJobRequest` / `CreateEndpointRequest` carry.

Built from the same compose service the fixed fleet runs (entrypoint, working_dir, environment) and
the job's argv rendered once by its typed job; nothing here parses argv back. Secrets are MysteryBox
*names* (resolved to ids by the client), never values. Nebius splits `spec.args` on whitespace and
keeps no quoting, so a word holding whitespace cannot travel: it is refused here, before anything starts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import InputError
from ..fleet.serverless_target import Compute, ServerlessTarget, resource_name
from ..jobs.catalog import MODEL_SERVER, given, serving
from ..jobs.upstream import Sources

if TYPE_CHECKING:
    from ..jobs.spec import JobSpec

CACHE_PATH = "/cache"  # upstream's serverless scripts: the shared filesystem and the caches on it
CACHE_ENV = {"UV_CACHE_DIR": "/cache/uv", "HF_HOME": "/cache/hf", "OPENPI_DATA_HOME": "/cache/openpi"}
BATCH_TIMEOUT_H = 4.0  # convert and stats (upstream's convert.sh)
IDLE_TIMEOUT_FLAG = "--idle_timeout_min"  # serve.sh adds 20 (only programs that take it: upstream.Sources)
IDLE_TIMEOUT_MIN = 20
AWS_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
UPSTREAM_REGION = "eu-north1"


@dataclass(frozen=True)
class ServerlessSpec:
    kind: str  # "job" or "endpoint"
    name: str  # metadata.name: the job id, lowercase with dashes
    parent_id: str
    image: str  # pinned by digest: repo@sha256:...
    container_command: str
    args: str  # ONE string; Nebius splits it on whitespace
    working_dir: str
    compute: Compute
    env: Mapping[str, str] = field(default_factory=dict)  # plain values
    secret_env: Mapping[str, str] = field(default_factory=dict)  # env name -> MysteryBox secret name
    volumes: tuple[tuple[str, str, bool], ...] = ()  # (filesystem id, container path, writable)
    ports: tuple[int, ...] = ()
    subnet_id: str = ""
    disk_gb: int = 0
    timeout_hours: float = 0.0  # jobs only
    labels: Mapping[str, str] = field(default_factory=dict)
    # Where the pull's credentials come from (never the values): "" (a public registry), "mysterybox:<secret
    # name>" or "docker-config:<registry host>" (registry_auth below says which applies)
    registry_auth: str = ""
    # endpoints: the MysteryBox secret (its AUTH_TOKEN) of Nebius's token proxy, for a server that checks no
    # token itself; "" when the server checks it (upstream's offboard servers, AUTH_TOKEN in its environment)
    proxy_token_secret: str = ""
    ready_path: str = MODEL_SERVER.path  # endpoints: what readiness GETs with the token (catalog.SERVING); 200 only

    def argv(self) -> list[str]:
        """What the container runs, as Nebius will split it."""
        return [self.container_command, *self.args.split()]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "parent_id": self.parent_id, "image": self.image,
                "container_command": self.container_command, "args": self.args, "working_dir": self.working_dir,
                "platform": self.compute.platform, "preset": self.compute.preset, "env": dict(self.env),
                "secret_env": dict(self.secret_env), "volumes": [list(v) for v in self.volumes],
                "ports": list(self.ports), "subnet_id": self.subnet_id, "disk_gb": self.disk_gb,
                "timeout_hours": self.timeout_hours, "labels": dict(self.labels), "registry_auth": self.registry_auth,
                "proxy_token_secret": self.proxy_token_secret, "ready_path": self.ready_path}


# Registries a serverless job or endpoint pulls from without credentials: Docker Hub's public repositories,
# as upstream's workflows/nebius pull positro/* with no registry credentials (../shared/upstream/SERVERLESS.md
# §4). Any other registry is treated as private: the SDK's JobSpec/EndpointSpec.registry_credentials is
# "Registry credentials for private Docker registry" (a MysteryBox secret version with REGISTRY_USERNAME and
# REGISTRY_PASSWORD, or username/password), and Nebius' endpoint page says "If you use a private registry,
# ... Add registry and provide the details" (https://docs.nebius.com/serverless/endpoints/manage). No page
# found says a job pulls the project's own Container Registry (cr.<region>.nebius.cloud) without them, and
# that registry's own page asks for a static key (https://docs.nebius.com/container-registry/authentication):
# ASSUMED private too (README, Serverless).
PUBLIC_REGISTRIES = ("docker.io",)


def registry_auth(image: str, target: ServerlessTarget) -> str:
    """Where the pull of `image` takes its credentials from: "" for a public registry, else the target's
    MysteryBox secret when it names one, else the docker config entry of the image's registry."""
    from ..images.registry import registry_host

    host = registry_host(image)
    if host in PUBLIC_REGISTRIES:
        return ""
    if target.registry_credentials_secret:
        return f"mysterybox:{target.registry_credentials_secret}"
    return f"docker-config:{host}"


def s3_region(endpoint: str | None) -> str:
    """The region of a Nebius Object Storage endpoint (https://storage.<region>.nebius.cloud), else
    upstream's own: workflows/nebius/common.sh passes AWS_DEFAULT_REGION=eu-north1 with every create."""
    found = re.match(r"^https?://storage\.([a-z0-9-]+)\.nebius\.cloud(:\d+)?/?$", endpoint or "")
    return found.group(1) if found else UPSTREAM_REGION


def build(spec: JobSpec, service: Any, target: ServerlessTarget, image: str, *, s3_endpoint: str | None,
          source_root: Path | None = None) -> ServerlessSpec:
    """The serverless form of a JobSpec (`spec`) whose compose service is `service`; InputError naming
    every word that cannot travel in spec.args. `source_root`: the checkout, whose code says whether
    the program takes --idle_timeout_min."""
    entry = list(service.entrypoint)
    if not entry:
        raise InputError(f"{service.name} has no entrypoint in the compose file: nothing to run serverless",
                         "run it on a fixed host (--host NAME)")
    words = [*entry[1:], *spec.args]
    serve = spec.kind == "serve"
    serves = serving(service.program)
    sources = Sources(source_root) if source_root is not None else None
    if serve and sources and not any(w.split("=", 1)[0] == IDLE_TIMEOUT_FLAG for w in words) \
            and sources.takes_parameter(service.program, IDLE_TIMEOUT_FLAG.lstrip("-")):
        words.append(f"{IDLE_TIMEOUT_FLAG}={IDLE_TIMEOUT_MIN}")  # no scale-to-zero: the server exits when idle
    if serve and serves.tls_flag and not given(spec.args, serves.tls_flag) \
            and (sources is None or sources.takes_parameter(service.program, serves.tls_flag)):
        words.append(f"--{serves.tls_flag}=False")  # plain HTTP behind Nebius's TLS ingress (its HTTP port)
    bad = [w for w in words if not w or any(ch.isspace() for ch in w)]
    if bad:
        shown = ", ".join(repr(w) for w in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise InputError(f"{shown}: Nebius splits a serverless job's arguments on whitespace, so an argument "
                         "holding a space (or an empty one) cannot reach the program intact",
                         "pass a value without spaces, or run this job on a fixed host (--host NAME)")
    env = dict(service.environment)
    env["AWS_DEFAULT_REGION"] = s3_region(s3_endpoint)  # upstream's common.sh sets it on every create
    env.update(target.env)
    env.update(spec.env)
    if s3_endpoint:
        env["AWS_ENDPOINT_URL"] = s3_endpoint
    volumes: tuple[tuple[str, str, bool], ...] = ()
    if target.cache_filesystem_id:
        env.update(CACHE_ENV)
        volumes = ((target.cache_filesystem_id, CACHE_PATH, True),)
    secret_env = {k: v for k, v in target.secrets.items() if k in AWS_SECRETS or spec.kind == "train"}
    if serve and serves.checks_token:
        secret_env["AUTH_TOKEN"] = target.auth_token_secret  # the server checks it itself (upstream's way)
    batch = spec.kind in ("convert", "stats")
    labels = {"rt-service": resource_name(spec.service), "rt-kind": spec.kind, "rt-user": resource_name(spec.user),
              "rt-era": resource_name(spec.era or "unknown"), "rt-job": resource_name(spec.job_id)}
    return ServerlessSpec(
        kind="endpoint" if serve else "job", name=resource_name(spec.job_id), parent_id=target.parent_id,
        image=image, container_command=entry[0], args=" ".join(words), working_dir=service.working_dir,
        compute=target.cpu if batch else target.gpu, env=env, secret_env=secret_env, volumes=volumes,
        ports=(spec.container_port,) if serve and spec.container_port else (), subnet_id=target.subnet_id,
        disk_gb=target.disk_gb if spec.kind == "train" else 0,
        timeout_hours=0.0 if serve else (BATCH_TIMEOUT_H if batch else target.job_timeout_hours), labels=labels,
        registry_auth=registry_auth(image, target),
        proxy_token_secret=target.auth_token_secret if serve and not serves.checks_token else "",
        ready_path=serves.path)
