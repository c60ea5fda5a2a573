"""Checks of the cloud services: S3 (a launch's list and head per bucket) and Nebius auth (one API call)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import RTError
from ..fleet.inventory import Host, Inventory
from ..fleet.provider_kinds import NEBIUS
from .base import FAIL, OK, WARN, Verdict, short


def s3_endpoint(inventory: Inventory, env: Mapping[str, str]) -> str | None:
    """Inventory `s3: {endpoint:}` (or endpoint_url) first, then AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; else
    boto3's config files."""
    return inventory.s3_endpoint or env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None


def s3_client(inventory: Inventory, env: Mapping[str, str], timeout: float) -> Any:
    """The product's S3 client (storage.client) for this environment, bounded by `timeout`."""
    from ..records import storage

    return storage.client(s3_endpoint(inventory, env), environ=env, timeout=timeout)


def check_s3_bucket(inventory: Inventory, env: Mapping[str, str], bucket: str, timeout: float) -> Verdict:
    """The calls a launch makes, through the client a launch makes (storage.client: s3_lite for an
    explicit endpoint with static keys, else botocore; the same endpoint and region order): a
    one-key listing and a head of one object. Not HeadBucket: Nebius' storage.object-editor role grants
    ListObjectsV2, HeadObject, GetObject and PutObject but not HeadBucket
    (https://docs.nebius.com/object-storage/supported-actions), so asking it would fail a setup that works."""
    from ..errors import InputError
    from ..records import storage

    endpoint = s3_endpoint(inventory, env) or "the endpoint in ~/.aws/config (or AWS's default)"
    set_endpoint = "set s3: {endpoint: URL} in hosts.yaml or export AWS_ENDPOINT_URL=URL"
    try:
        client = s3_client(inventory, env, timeout)
        storage._call(client.list_objects_v2, f"listing s3://{bucket}/", Bucket=bucket, Prefix="", MaxKeys=1)
        storage.object_exists(client, f"s3://{bucket}/run.json")  # a 404 is an answer: read rights are enough
    except InputError:  # NoSuchBucket
        return FAIL, f"bucket {bucket!r} does not exist at {endpoint}", \
            f"aws s3 mb s3://{bucket} (or fix doctor.buckets / {set_endpoint})"
    except storage.NoCredentials:
        return (FAIL, "no S3 credentials found (env, ~/.aws/credentials, profile)",
                "aws configure (or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
    except storage.AccessDenied as exc:
        return FAIL, f"S3 refused the credentials for bucket {bucket!r} ({exc.message})", \
            "use a key that may list and read the bucket (Nebius: the storage.object-editor role)"
    except storage.StorageUnreachable as exc:
        return FAIL, f"S3 endpoint {endpoint} does not answer: S3 unreachable ({exc.detail})", set_endpoint
    except RTError as exc:
        return FAIL, f"S3 at {endpoint}: {exc.message}", set_endpoint
    except Exception as exc:  # e.g. a malformed endpoint URL
        return FAIL, f"S3 at {endpoint}: {short(exc)}", set_endpoint
    return OK, f"bucket {bucket} listed and read at {endpoint}", ""


def check_nebius(inventory: Inventory, hosts: Sequence[Host], env: Mapping[str, str],
                 timeout: float) -> Verdict:
    """Credentials present locally, then ONE API call (Get of the first Nebius VM) through the real SDK."""
    nebius_hosts = [h for h in hosts if h.provider.type == NEBIUS]
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
    from ..fleet.providers import provider_for
    from ..fleet.providers.nebius_errors import NoAnswer

    host = nebius_hosts[0]
    where = settings.get("endpoint") or settings.get("domain") or "the Nebius API"
    try:
        status = provider_for(host, inventory).state(timeout=timeout)
    except RTError as exc:
        fix = exc.fix or "inv vm.login"
        loopback = str(settings.get("endpoint", "")).startswith(("127.", "localhost", "[::1]"))
        if loopback and isinstance(exc, NoAnswer):  # the sandbox's stand-in is not running
            fix = f"inv sandbox.up (it starts the API stand-in), or {fix}"
        return FAIL, exc.message, fix
    return OK, f"{where} answers: {host.name} is {status.state.value}", ""


def _nebius_credentials_missing(settings: Mapping[str, Any], host: Host,
                                env: Mapping[str, str]) -> Verdict | None:
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
    from ..config_files import read_yaml

    try:
        data = read_yaml(config.read_text()) or {}
        profiles = data.get("profiles") or {}
        name = (host.provider.options.get("profile") or settings.get("profile") or env.get("NEBIUS_PROFILE")
                or data.get("default") or (next(iter(profiles)) if len(profiles) == 1 else None))
        profile = profiles.get(name) if name else None
    except Exception as exc:
        return FAIL, f"{config} is unreadable: {short(exc)}", "inv vm.login"
    if not isinstance(profile, dict):
        return FAIL, f"no usable Nebius CLI profile in {config}", "inv vm.login (or: nebius profile activate NAME)"
    if profile.get("auth-type") == "federation" and not (home / ".nebius" / "credentials.yaml").is_file():
        return FAIL, f"profile {name!r} logs in through a browser and holds no cached token", "inv vm.login"
    return None


def check_serverless(inventory: Inventory, target: Any) -> Verdict:
    """A serverless target: the API answers, every secret it names exists in MysteryBox (by name, as a job
    will look it up), and the logs API has a token; a launch would fail on any of these after its checks."""
    from ..fleet.providers.nebius_errors import NotFound
    from ..serverless.launch import client_for

    api = client_for(target, inventory)
    names = sorted({*target.secrets.values(), target.auth_token_secret,
                    *([target.registry_credentials_secret] if target.registry_credentials_secret else [])})
    missing = []
    for name in names:
        try:
            api.secret_id(name)
        except NotFound:
            missing.append(name)
        except RTError as exc:  # the API itself failed: that is the verdict
            return FAIL, exc.message, exc.fix or "check nebius.endpoint in hosts.yaml"
    if missing:
        return FAIL, f"MysteryBox has no secret {', '.join(missing)} in {target.parent_id}", \
            "create it: nebius mysterybox secret create --parent-id ... --name NAME --secret-version-payload ..."
    if target.logs_url and not target.logs_token():
        where = target.logs_token_file or f"${target.logs_token_env}"
        return WARN, f"no Observability token in {where}: jobs.logs cannot read serverless logs", \
            "nebius iam static-key issue --service=OBSERVABILITY ..., and put the token there"
    pulls = (f"private images pulled with MysteryBox secret {target.registry_credentials_secret}"
             if target.registry_credentials_secret else
             "private images pulled with the docker config's login for their registry (docker login HOST)")
    return OK, (f"{len(names)} secrets found in {target.parent_id}; {pulls}; Docker Hub's public images need none"
                + ("" if target.logs_url else "; no logs_url set")), ""
