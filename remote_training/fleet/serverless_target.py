"""A serverless target in hosts.yaml, validated like every host; the inventory reads it, so it is in fleet/.

    hosts:
      cloud:
        aliases: [serverless]
        provider:
          type: nebius-serverless
          parent_id: project-e00...              # required: where jobs and endpoints live
          subnet_id: vpcsubnet-e00...            # optional: the project's default subnet otherwise
          gpu: {platform: gpu-h100-sxm, preset: 1gpu-16vcpu-200gb}
          cpu: {platform: cpu-e2, preset: 8vcpu-32gb}     # conversion and stats, as upstream runs them
          disk_gb: 750                            # training jobs' disk
          cache_filesystem_id: computefilesystem-e00...   # mounted at /cache (uv, HF, openpi caches)
          secrets: {WANDB_API_KEY: positronic-serverless-wandb-api-key, ...}   # env name -> MysteryBox name
          auth_token_secret: positronic-serverless-inference-token            # endpoints' bearer token
          registry_credentials_secret: team-registry-creds   # private images: REGISTRY_USERNAME/_PASSWORD in MysteryBox
          env: {AWS_DEFAULT_REGION: eu-north1}    # plain values every job gets
          logs_url: https://...                   # Nebius Observability's Loki API
          logs_bucket: sp_serverless              # the LogQL __bucket__ serverless lines are in
          logs_job_label: job_id                  # the label holding a job's id (endpoint_id: logs_endpoint_label)
          logs_grace_s: 10                        # how long a follow reads on after the job ended (ingestion lag)
          logs_token_env: NEBIUS_OBSERVABILITY_TOKEN     # or logs_token_file: ~/.nebius/logs-token
          ca_file: ...                            # extra CA for the HTTPS URLs (the sandbox's own)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from .provider_kinds import NEBIUS_SERVERLESS

REQUIRED = {"parent_id", "gpu"}
OPTIONAL = {"subnet_id", "cpu", "disk_gb", "cache_filesystem_id", "secrets", "auth_token_secret",
            "registry_credentials_secret", "env", "logs_url",
            "logs_bucket", "logs_job_label", "logs_endpoint_label", "logs_grace_s",
            "logs_token_env", "logs_token_file", "ca_file", "profile", "job_timeout_hours", "gpu_memory_gb"}
TARGET_KEYS = {"aliases", "provider", "gpu", "gpu_memory_gb", "tags"}
DEFAULT_CPU = {"platform": "cpu-e2", "preset": "8vcpu-32gb"}  # upstream's convert.sh
DEFAULT_AUTH_SECRET = "positronic-serverless-inference-token"  # upstream's common.sh
# Nebius's docs name no logs bucket nor labels for Serverless (README, Serverless: assumed); settings.
LOGS_DEFAULTS = {"logs_bucket": "sp_serverless", "logs_job_label": "job_id", "logs_endpoint_label": "endpoint_id"}
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")  # Nebius ids and names: project-e00..., lowercase, dashes
WORD_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
LABEL_RE = re.compile(r"[^a-z0-9-]")  # what a Nebius resource name may not hold

Bad = Callable[[str, str, str], None]  # (where, message, fix)


@dataclass(frozen=True)
class Compute:
    platform: str
    preset: str

    @property
    def label(self) -> str:
        return f"{self.platform}/{self.preset}"


@dataclass(frozen=True)
class ServerlessTarget:
    name: str
    parent_id: str
    gpu: Compute
    cpu: Compute = Compute(**DEFAULT_CPU)
    aliases: tuple[str, ...] = ()
    subnet_id: str = ""
    disk_gb: int = 0  # 0: the platform's default disk
    cache_filesystem_id: str = ""
    secrets: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # env name -> secret name
    auth_token_secret: str = DEFAULT_AUTH_SECRET
    registry_credentials_secret: str = ""  # "": a private registry's credentials come from the docker config
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    logs_url: str = ""
    logs_bucket: str = LOGS_DEFAULTS["logs_bucket"]
    logs_job_label: str = LOGS_DEFAULTS["logs_job_label"]
    logs_endpoint_label: str = LOGS_DEFAULTS["logs_endpoint_label"]
    logs_grace_s: float = 10.0
    logs_token_env: str = "NEBIUS_OBSERVABILITY_TOKEN"
    logs_token_file: str = ""
    ca_file: str = ""
    profile: str = ""
    job_timeout_hours: float = 24.0
    gpu_memory_gb: float = 80.0
    tags: tuple[str, ...] = ()

    kind = NEBIUS_SERVERLESS

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def gpu_name(self) -> str:
        return "H100" if "h100" in self.gpu.platform else self.gpu.platform

    def logs_token(self) -> str:
        """The Observability token: the file named by logs_token_file, else the logs_token_env variable."""
        import os

        if self.logs_token_file:
            try:
                return Path(self.logs_token_file).expanduser().read_text().strip()
            except OSError:
                return ""
        return os.environ.get(self.logs_token_env, "").strip()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": list(self.aliases), "ssh": "", "gpu": self.gpu_name,
                "gpu_memory_gb": self.gpu_memory_gb, "provider": NEBIUS_SERVERLESS,
                "provider_options": {"parent_id": self.parent_id, "gpu": self.gpu.label, "cpu": self.cpu.label,
                                     "subnet_id": self.subnet_id, "cache_filesystem_id": self.cache_filesystem_id,
                                     "secrets": dict(self.secrets), "auth_token_secret": self.auth_token_secret},
                "compose": "", "workdir": "", "tags": list(self.tags)}


def resource_name(job_id: str) -> str:
    """A job id as a Nebius resource name: lowercase alphanumerics and dashes (upstream turns `_` into `-`)."""
    return LABEL_RE.sub("-", job_id.lower()).strip("-")[:63]


def _compute(bad: Bad, where: str, raw: Any) -> Compute | None:
    if not isinstance(raw, dict) or set(raw) != {"platform", "preset"} or not all(
            isinstance(v, str) and WORD_RE.match(v) for v in raw.values()):
        bad(where, f"must be {{platform, preset}}, got {raw!r}", "write e.g. {platform: gpu-h100-sxm, preset: "
            "1gpu-16vcpu-200gb} (nebius compute platform list)")
        return None
    return Compute(raw["platform"], raw["preset"])


def _mapping(bad: Bad, where: str, raw: Any, value_ok: Callable[[Any], bool], fix: str) -> dict[str, str] | None:
    raw = raw or {}
    if not isinstance(raw, dict) or not all(isinstance(k, str) and ENV_NAME_RE.match(k) and value_ok(v)
                                            for k, v in raw.items()):
        bad(where, f"must map environment variable names to values, got {raw!r}", fix)
        return None
    return {k: str(v) for k, v in raw.items()}


def parse_target(bad: Bad, name: str, raw: dict[str, Any], aliases: tuple[str, ...], tags: tuple[str, ...],
                 base: Path) -> ServerlessTarget | None:
    """A ServerlessTarget from a hosts.yaml entry, or None after reporting every problem through `bad`.
    Relative files (ca_file, logs_token_file) are taken from `base`, the folder of hosts.yaml."""
    where = f"host {name!r}"
    for key in sorted(raw.keys() - TARGET_KEYS):
        fix = "a serverless target has no SSH: remove it" if key in ("ssh", "compose", "workdir") else \
            f"remove it; allowed: {', '.join(sorted(TARGET_KEYS))}"
        bad(f"{where}, key {key!r}", "not a key of a serverless target", fix)
    options = {k: v for k, v in raw["provider"].items() if k != "type"}
    for key in sorted(REQUIRED - options.keys()):
        bad(f"{where}.provider.{key}", f"missing for provider {NEBIUS_SERVERLESS!r}", f"add {key}: ...")
    for key in sorted(options.keys() - REQUIRED - OPTIONAL):
        bad(f"{where}.provider.{key}", f"unknown key for provider {NEBIUS_SERVERLESS!r}",
            f"remove it; allowed: {', '.join(sorted(REQUIRED | OPTIONAL))}")
    ok = not (REQUIRED - options.keys()) and not (options.keys() - REQUIRED - OPTIONAL)
    for key in ("parent_id", "subnet_id", "cache_filesystem_id", "auth_token_secret", "registry_credentials_secret"):
        value = options.get(key)
        if value is not None and not (isinstance(value, str) and ID_RE.match(value)):
            bad(f"{where}.provider.{key}", f"{value!r} is not a Nebius id or name",
                "copy it from the console or `nebius ... list` (lowercase letters, digits, dashes)")
            ok = False
    gpu = _compute(bad, f"{where}.provider.gpu", options.get("gpu")) if "gpu" in options else None
    cpu = _compute(bad, f"{where}.provider.cpu", options["cpu"]) if "cpu" in options else Compute(**DEFAULT_CPU)
    secrets = _mapping(bad, f"{where}.provider.secrets", options.get("secrets"),
                       lambda v: isinstance(v, str) and bool(ID_RE.match(v)),
                       "write secrets: {WANDB_API_KEY: <MysteryBox secret name>} (names, never values)")
    env = _mapping(bad, f"{where}.provider.env", options.get("env"), lambda v: isinstance(v, (str, int, float)),
                   "write env: {AWS_DEFAULT_REGION: eu-north1} (plain values; secrets go under secrets:)")
    numbers = {}
    for key, default in (("disk_gb", 0), ("job_timeout_hours", 24.0), ("gpu_memory_gb", 80.0), ("logs_grace_s", 10.0)):
        value = options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (
                key not in ("disk_gb", "logs_grace_s") and not value):
            bad(f"{where}.provider.{key}", f"bad value {value!r}",
                f"give a positive number, e.g. {key}: {default or 750}")
            ok = False
        numbers[key] = value
    strings = {}
    for key in ("logs_url", "logs_bucket", "logs_job_label", "logs_endpoint_label", "logs_token_env",
                "logs_token_file", "ca_file", "profile"):
        value = options.get(key, "")
        if not isinstance(value, str):
            bad(f"{where}.provider.{key}", f"must be text, got {value!r}", f"write {key}: ...")
            ok = False
        strings[key] = value or ""
    for key in LOGS_DEFAULTS:  # they go into a LogQL selector: label names and a bucket name only
        if strings[key] and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", strings[key]):
            bad(f"{where}.provider.{key}", f"{strings[key]!r} is not a Loki label or bucket name",
                f"letters, digits and _, e.g. {key}: {LOGS_DEFAULTS[key]}")
            ok = False
    for key in ("ca_file", "logs_token_file"):
        if strings[key]:
            path = Path(strings[key]).expanduser()
            strings[key] = str(path if path.is_absolute() else base / path)
    if strings["logs_url"] and not strings["logs_url"].startswith(("http://127.", "http://localhost", "https://")):
        bad(f"{where}.provider.logs_url", f"{strings['logs_url']!r}: the Observability token would travel in clear",
            "use the https:// URL of the logs API")
        ok = False
    if not ok or gpu is None or cpu is None or secrets is None or env is None:
        return None
    return ServerlessTarget(
        name=name, parent_id=options["parent_id"], gpu=gpu, cpu=cpu, aliases=aliases,
        subnet_id=options.get("subnet_id", ""), disk_gb=int(numbers["disk_gb"]),
        cache_filesystem_id=options.get("cache_filesystem_id", ""), secrets=MappingProxyType(secrets),
        auth_token_secret=options.get("auth_token_secret", DEFAULT_AUTH_SECRET), env=MappingProxyType(env),
        registry_credentials_secret=options.get("registry_credentials_secret", ""),
        logs_url=strings["logs_url"].rstrip("/"),
        **{key: strings[key] or default for key, default in LOGS_DEFAULTS.items()},
        logs_grace_s=float(numbers["logs_grace_s"]),
        logs_token_env=strings["logs_token_env"] or "NEBIUS_OBSERVABILITY_TOKEN",
        logs_token_file=strings["logs_token_file"], ca_file=strings["ca_file"], profile=strings["profile"],
        job_timeout_hours=float(numbers["job_timeout_hours"]), gpu_memory_gb=float(numbers["gpu_memory_gb"]),
        tags=tags)
