"""S3 checks that cost one request each: does a path exist, which checkpoint is latest,
does an output already hold a run; plus a run's record (run.json), claimed before its launch.

The client (`client`) is made only when needed (keeps `inv --list` fast): s3_lite's for an explicit
endpoint with static keys, else botocore's. Endpoint and credentials come from the AWS chain
(AWS_ENDPOINT_URL, ~/.aws/config, env, ~/.aws/credentials); `endpoint` (hosts.yaml's s3.endpoint_url)
overrides the endpoint only.
Never lists a whole bucket: every listing has a Prefix, and existence checks ask for one key.
"""
from __future__ import annotations

import copy
import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from ..errors import InputError, RTError
from ..validate import split_s3

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
STEP_RE = re.compile(r"^(\d+)$")


MISSING_CODES = ("404", "NoSuchKey", "NotFound")  # a HEAD's 404 carries its status as its code (botocore)
# A conditional write lost: If-Match on a changed ETag is refused with 412, and a write racing another with 409,
# after which S3 says to read the ETag again and retry (update_run's loop does):
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
CONFLICT_CODES = ("412", "PreconditionFailed", "ConditionalRequestConflict")
DENIED_CODES = ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch")


class StorageError(RTError):
    """S3 answered with an error, or could not be reached. `code`: S3's error code (botocore's
    response["Error"]["Code"], a HEAD's status), "" when S3 gave none."""

    def __init__(self, message: str, fix: str | None = None, *, code: str = "") -> None:
        super().__init__(message, fix)
        self.code = code

    @property
    def missing(self) -> bool:
        """The key (or object) is not there: an answer, not a failure."""
        return self.code in MISSING_CODES

    @property
    def conflict(self) -> bool:
        """A conditional write found the object changed (or present)."""
        return self.code in CONFLICT_CODES


class StorageUnreachable(StorageError):
    """No answer from the S3 endpoint (refused, timed out, reset). `detail`: what the client said."""

    def __init__(self, message: str, fix: str | None = None, *, detail: str = "") -> None:
        super().__init__(message, fix)
        self.detail = detail


class NoCredentials(StorageError):
    """The AWS credential chain found no keys."""


class AccessDenied(StorageError):
    """S3 refused the credentials or the bucket policy refused the call (`code` says which)."""


def client(endpoint: str | None = None, region: str | None = None, *, environ: Mapping[str, str] | None = None,
           timeout: float | None = None) -> Any:
    """An S3 client: s3_lite's for an explicit endpoint with static keys (no botocore import: the
    launch's S3 checks wait on it), else one from botocore's own session, with the whole credential
    chain and endpoint settings as boto3's, without boto3's transfer layer, which no call here uses.
    `environ`/`timeout`: see botocore_client (the doctor's: its environment, its time limit)."""
    from . import s3_lite

    lite = s3_lite.for_endpoint(endpoint, os.environ if environ is None else environ, timeout)
    if lite is not None:
        if region:
            lite.region = region
        return lite
    return botocore_client(endpoint, region, environ=environ, timeout=timeout)


def botocore_client(endpoint: str | None = None, region: str | None = None, *,
                    environ: Mapping[str, str] | None = None, timeout: float | None = None) -> Any:
    """botocore's S3 client: every credential source and setting the AWS chain knows.

    `environ` (the doctor's): the AWS variables it names (profile, credential and config files, keys,
    region) stand in for the process's, and the chain skips the instance and container metadata
    services (link-local addresses a check must not reach). `timeout`: connect and read bound in s,
    one attempt (default 5 s and 20 s, two attempts)."""
    import botocore.session
    from botocore.config import Config

    bounds = ({"connect_timeout": timeout, "read_timeout": timeout, "retries": {"max_attempts": 1}} if timeout else
              {"connect_timeout": 5, "read_timeout": 20, "retries": {"max_attempts": 2, "mode": "standard"}})
    if environ is None:
        session = botocore.session.get_session()
        return session.create_client("s3", endpoint_url=endpoint or None, region_name=region, config=Config(**bounds))
    session = botocore.session.Session(profile=environ.get("AWS_PROFILE") or None)
    for var, key in (("AWS_SHARED_CREDENTIALS_FILE", "credentials_file"), ("AWS_CONFIG_FILE", "config_file")):
        if environ.get(var):
            session.set_config_variable(key, environ[var])
    resolver = session.get_component("credential_provider")
    for method in ("iam-role", "container-role"):  # botocore's names of the metadata providers
        resolver.remove(method)  # (a name it does not hold is ignored)
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        session.set_credentials(environ["AWS_ACCESS_KEY_ID"], environ["AWS_SECRET_ACCESS_KEY"],
                                environ.get("AWS_SESSION_TOKEN") or None)
    region = (region or environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
              or session.get_config_variable("region") or "us-east-1")
    return session.create_client("s3", endpoint_url=endpoint or None, region_name=region, config=Config(**bounds))


def _call(fn: Any, what: str, **kwargs: Any) -> Any:
    from .s3_lite import S3Error, S3Unreachable

    unreachable = "check the S3 endpoint (AWS_ENDPOINT_URL) and network"
    try:
        return fn(**kwargs)
    except S3Error as exc:
        raise _translate(exc, what, kwargs.get("Bucket")) from None
    except S3Unreachable as exc:
        raise StorageUnreachable(f"{what}: S3 unreachable ({exc})", unreachable, detail=str(exc)) from None
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError  # raised by botocore's client

        if isinstance(exc, NoCredentialsError):
            raise NoCredentials(f"{what}: no S3 credentials found",
                               "configure ~/.aws/credentials or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
        if isinstance(exc, ClientError):
            raise _translate(exc, what, kwargs.get("Bucket")) from None
        if isinstance(exc, BotoCoreError):
            raise StorageUnreachable(f"{what}: S3 unreachable ({exc})", unreachable, detail=str(exc)) from None
        raise


def _translate(exc: Any, what: str, bucket: str | None) -> RTError:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "NoSuchBucket":
        return InputError(f"{what}: bucket {bucket!r} does not exist", "check the bucket name in the s3:// URL")
    if code in DENIED_CODES:
        return AccessDenied(f"{what}: access denied ({code})", "check your S3 credentials and bucket policy", code=code)
    return StorageError(f"{what}: S3 error {code or exc}", "check the endpoint and retry", code=code)


def _prefix(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


def exists(s3: Any, url: str) -> bool:
    """Anything under the URL as a folder (one request: MaxKeys=1), else the URL as one object (head)."""
    bucket, key = split_s3(url)
    prefix = _prefix(key)
    answer = _call(s3.list_objects_v2, f"checking {url}", Bucket=bucket, Prefix=prefix, MaxKeys=1)
    if answer.get("Contents"):
        return True
    return bool(key) and not key.endswith("/") and object_exists(s3, url)


def object_exists(s3: Any, url: str) -> bool:
    """Exactly one key (head_object)."""
    bucket, key = split_s3(url)
    try:
        _call(s3.head_object, f"checking {url}", Bucket=bucket, Key=key)
        return True
    except StorageError as exc:
        if exc.missing:
            return False
        raise


def subfolders(s3: Any, url: str) -> list[str]:
    """Names of the folders directly under url (Delimiter='/': one level, no recursion)."""
    bucket, key = split_s3(url)
    prefix = _prefix(key)
    names: list[str] = []
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "Delimiter": "/"}
        if token:
            kwargs["ContinuationToken"] = token
        answer = _call(s3.list_objects_v2, f"listing {url}", **kwargs)
        names += [p["Prefix"][len(prefix):].rstrip("/") for p in answer.get("CommonPrefixes", [])]
        if not answer.get("IsTruncated"):
            return names
        token = answer.get("NextContinuationToken")


@dataclass(frozen=True)
class Checkpoint:
    url: str  # the checkpoint folder, ending in '/'
    step: int
    name: str  # folder name as written: checkpoint-<step> or <step>


def latest_checkpoint(s3: Any, checkpoints_dir: str, layout: str = "groot") -> Checkpoint | None:
    """The highest-step checkpoint under a run folder (REFERENCE.md layouts).

    groot:   <dir>/checkpoint-<step>/
    openpi:  <dir>/<step>/            (dir = <output>/<config_name>/<exp_name>)
    lerobot: <dir>/checkpoints/<step>/pretrained_model/
    """
    base = _prefix(checkpoints_dir)
    if layout == "lerobot":
        base += "checkpoints/"
        pattern = STEP_RE
    elif layout == "openpi":
        pattern = STEP_RE
    elif layout == "groot":
        pattern = CHECKPOINT_RE
    else:
        raise ValueError(f"unknown checkpoint layout {layout!r}")
    steps = [(int(m[1]), name) for name in subfolders(s3, base) if (m := pattern.match(name))]
    if not steps:
        return None
    step, name = max(steps)
    url = f"{base}{name}/" + ("pretrained_model/" if layout == "lerobot" else "")
    return Checkpoint(url, step, name)


# -- a run's record (run.json): claimed before the launch, updated in place -------------------
RUN_RECORD_VERSION = 1


class ClaimTaken(StorageError):
    """Another launch claimed the run folder first."""


def read_run(s3: Any, url: str) -> tuple[dict[str, Any] | None, str | None]:
    """(record, ETag) of a run.json, or (None, None) when there is none. Records of the older flat
    form (one launch) read as a record of that one launch."""
    bucket, key = split_s3(url)
    try:
        answer = _call(s3.get_object, f"reading {url}", Bucket=bucket, Key=key)
    except StorageError as exc:
        if exc.missing:
            return None, None
        raise
    data = json.loads(answer["Body"].read() or b"{}")
    if isinstance(data, dict) and "launches" not in data:
        data = {"version": RUN_RECORD_VERSION, "launches": [data]}
    return data, answer.get("ETag")


def _put_run(s3: Any, url: str, record: dict[str, Any], *, etag: str | None) -> str | None:
    """Create (etag None: only if absent) or replace (only if still at `etag`) a run.json; the ETag it now has."""
    bucket, key = split_s3(url)
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    body = json.dumps(record, indent=2, sort_keys=True, default=str).encode()
    try:
        answer = _call(s3.put_object, f"writing {url}", Bucket=bucket, Key=key, Body=body,
                       ContentType="application/json", **condition)
    except StorageError as exc:
        if exc.conflict:
            raise ClaimTaken(f"{url} changed under this launch", "retry") from None
        raise
    return answer.get("ETag")


WINNER_WAIT_S = 45.0  # how long a launch that lost the race waits to see the winner start or give its claim back


def claim_run(s3: Any, url: str, entry: dict[str, Any], *, append: bool, folder: str | None = None,
              wait: float = WINNER_WAIT_S) -> tuple[dict[str, Any], str | None]:
    """Claim a run folder by writing its record before the job starts.

    A fresh run creates run.json only if it is absent: of two racing launches exactly one wins. The
    other waits (up to `wait` s) to see what the winner does: when the winner gives its claim back
    (a later check failed) it claims again; when the winner's launch records its start (its
    container, `started_container`), or the wait ends, it gets ClaimTaken naming that winner, a
    launch that started or is still starting. `append` (--resume, --force) keeps the earlier
    launches and adds this one, conditional on the version read (retried when another writer got in
    between). `folder`: the run folder, named in the refusal. Returns the record written and its ETag
    (`update_run`'s `known`).
    """
    from .launcher import launcher

    entry = {"launcher": launcher(), **entry}  # what proves later that this launch's process is gone (claims.py)
    deadline = time.monotonic() + wait
    for _ in range(5):
        record, etag = read_run(s3, url) if append else (None, None)
        launches = list((record or {}).get("launches", []))
        written = {"version": RUN_RECORD_VERSION, "launches": [*launches, entry]}
        try:
            return written, _put_run(s3, url, written, etag=etag)
        except ClaimTaken:
            if append:
                continue
            last = _await_winner(s3, url, deadline)
            if last is None:
                continue  # the winner gave its claim back: this launch may have the folder
            state = "started" if last.get("container") else "was still starting"
            raise ClaimTaken(f"{folder or url} was claimed a moment ago by {last.get('job_id', 'another launch')} "
                             f"({last.get('user', '?')} on {last.get('host', '?')}), which {state}",
                             "choose another --exp-name or --output, or add --resume to join that run") from None
    raise ClaimTaken(f"{url} kept changing while this launch tried to add itself", "retry")


def _await_winner(s3: Any, url: str, deadline: float) -> dict[str, Any] | None:
    """The winning launch's entry once it has started (or at the deadline); None once its claim is gone."""
    while True:
        winner, _ = read_run(s3, url)
        last = ((winner or {}).get("launches") or [None])[-1]
        if last is None or last.get("container") or time.monotonic() >= deadline:
            return last
        time.sleep(0.5)


def update_run(s3: Any, url: str, job_id: str, changes: dict[str, Any],
               known: tuple[dict[str, Any], str | None] | None = None) -> bool:
    """Set fields of one launch in a run.json (read, change, write back if unchanged); False if absent.
    `known`: the record and ETag this process wrote last (claim_run's), tried first without reading: one
    request instead of two while nobody else wrote since; otherwise the write is refused and it reads."""
    for attempt in range(5):
        record, etag = (copy.deepcopy(known[0]), known[1]) if known and known[1] and not attempt \
            else read_run(s3, url)
        mine = [e for e in (record or {}).get("launches", []) if e.get("job_id") == job_id]
        if record is None or not mine:
            return False
        mine[-1].update(changes)
        try:
            _put_run(s3, url, record, etag=etag)
            return True
        except ClaimTaken:
            continue
    raise StorageError(f"{url} kept changing while {job_id}'s end was written", "retry inv jobs.wait")


def release_run(s3: Any, url: str, job_id: str) -> dict[str, Any] | None | Literal[False]:
    """Take back a claim whose launch did not start: drop its launch, and the record when none is left.
    The record left (None when none is) once done; False when it kept changing or could not be written."""
    for _ in range(5):
        record, etag = read_run(s3, url)
        if record is None:
            return None
        left = [e for e in record.get("launches", []) if e.get("job_id") != job_id]
        try:
            if left:
                _put_run(s3, url, {**record, "launches": left}, etag=etag)
                return {**record, "launches": left}
            bucket, key = split_s3(url)
            _call(s3.delete_object, f"releasing {url}", Bucket=bucket, Key=key, IfMatch=etag)
            return None
        except (ClaimTaken, StorageError):
            continue
    return False
