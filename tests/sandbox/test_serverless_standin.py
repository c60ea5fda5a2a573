"""The Nebius Serverless stand-in (rt_sandbox/nebius_serverless.py), through the real SDK clients and HTTP(S).

Each test module run starts its own stand-in process on free ports with its own state dir, and a
tiny image (the sandbox base + one busybox script) pushed to the sandbox registry for the run.
Needs root, Docker and the registry on localhost:5000: marked `sandbox`.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.sandbox

BASE = "localhost:5000/rt-sandbox/base:latest"
PARENT = "project-sandbox"
DELAY = "0.2"
# One script, so that every command is "rt-test <verb> <words...>" (Nebius splits args on spaces).
SCRIPT = r"""#!/bin/sh
verb=$1; shift
case $verb in
  say) echo "$@" ;;
  exit) echo "exiting with $1"; exit "$1" ;;
  sleep) echo "sleeping $1"; sleep "$1"; echo "slept $1"; exit "${2:-0}" ;;
  digest) eval "v=\${$1}"; printf %s "$v" | md5sum | cut -d' ' -f1 | sed "s/^/$1 md5 /" ;;
  write) echo "$2" > "$1" && echo "wrote $1" ;;
  read) cat "$1" ;;
  serve) [ -n "$2" ] && sleep "$2"; mkdir -p /tmp/www; echo "hello from $(hostname)" > /tmp/www/index.html
         echo "serving on $1"; exec httpd -f -v -p "0.0.0.0:$1" -h /tmp/www ;;
esac
"""


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, check=check)


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    ref = f"localhost:5000/rt-test/serverless:{uuid.uuid4().hex[:10]}"
    folder = tmp_path_factory.mktemp("image")
    (folder / "rt-test").write_text(SCRIPT)
    (folder / "rt-test").chmod(0o755)
    (folder / "Dockerfile").write_text(f"FROM {BASE}\nCOPY rt-test /usr/local/bin/rt-test\nWORKDIR /work\n")
    _docker("pull", "-q", BASE)
    subprocess.run(["docker", "build", "-q", "-t", ref, str(folder)], check=True, capture_output=True, timeout=120,
                   env={**os.environ, "DOCKER_BUILDKIT": "0"})
    _docker("push", "-q", ref)
    _docker("rmi", ref)  # the stand-in must really pull it from the registry
    yield ref
    _docker("rmi", "-f", ref, check=False)
    manifests = "http://localhost:5000/v2/rt-test/serverless/manifests"
    digest = urllib.request.Request(f"{manifests}/{ref.rsplit(':', 1)[1]}", method="HEAD",
                                    headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    try:
        found = urllib.request.urlopen(digest, timeout=10).headers.get("Docker-Content-Digest")
        urllib.request.urlopen(urllib.request.Request(f"{manifests}/{found}", method="DELETE"), timeout=10)
    except (urllib.error.URLError, OSError):
        pass


class Standin:
    """One stand-in process on free ports, and SDK clients bound to it."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir
        self.proc: subprocess.Popen | None = None
        self.sdk: Any = None

    def start(self) -> "Standin":
        for name in ("port", "logs_port"):
            (self.dir / name).unlink(missing_ok=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        log = (self.dir / "standin.log").open("a")
        self.proc = subprocess.Popen([sys.executable, "-m", "rt_sandbox.nebius_standin", "--state-dir", str(self.dir),
                                      "--port", "0", "--serverless", "--serverless-delay", DELAY, "--logs-port", "0"],
                                     stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 30
        while not ((self.dir / "port").exists() and (self.dir / "logs_port").exists()):
            assert self.proc.poll() is None and time.monotonic() < deadline, (self.dir / "standin.log").read_text()
            time.sleep(0.1)
        from nebius.aio.channel import NoCredentials
        from nebius.base.options import INSECURE
        from nebius.base.resolver import Constant
        from nebius.sdk import SDK

        address = f"127.0.0.1:{(self.dir / 'port').read_text().strip()}"
        self.sdk = SDK(resolver=Constant(address), address_options={address: [(INSECURE, True)]},
                       credentials=NoCredentials(), user_agent_prefix="rt-test/1")
        self.logs_port = int((self.dir / "logs_port").read_text())
        return self

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.sdk is not None:
            self.sdk.sync_close(timeout=5)
            self.sdk = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=15)

    def control(self, **flags: Any) -> None:
        (self.dir / "control.json").write_text(json.dumps(flags))

    @property
    def jobs(self) -> Any:
        from nebius.api.nebius.ai.v1 import JobServiceClient

        return JobServiceClient(self.sdk)

    @property
    def endpoints(self) -> Any:
        from nebius.api.nebius.ai.v1 import EndpointServiceClient

        return EndpointServiceClient(self.sdk)

    def loki(self, query: str, token: str | None = "any", **params: Any) -> tuple[int, dict]:
        url = (f"http://127.0.0.1:{self.logs_port}/loki/api/v1/query_range?"
               + urllib.parse.urlencode({"query": query, **params}))
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())


def _cleanup_docker(state_dir: Path) -> None:
    from rt_sandbox.nebius_serverless import remove_containers

    remove_containers(state_dir)
    assert _docker("ps", "-aq", "--filter", f"label=rt-serverless.state-dir={state_dir}").stdout.split() == []


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory, image: str) -> Iterator[Standin]:
    server = Standin(tmp_path_factory.mktemp("serverless")).start()
    yield server
    server.kill()
    _cleanup_docker(server.dir)


@pytest.fixture(autouse=True)
def _no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "standin" in request.fixturenames:
        request.getfixturevalue("standin").control()


def _creds(kind: str = "Job") -> Any:
    """Credentials for the test image's registry (the sandbox's, private to Nebius: any but Docker Hub)."""
    import nebius.api.nebius.ai.v1 as ai

    return getattr(ai, f"{kind}Spec__RegistryCredentials")(username="rt-test", password="rt-test-password")


def _name(what: str) -> str:
    return f"rtt-{what}-{uuid.uuid4().hex[:6]}"


def _job(standin: Standin, image: str, args: str, name: str | None = None, **spec: Any) -> Any:
    from nebius.api.nebius.ai.v1 import CreateJobRequest, JobSpec
    from nebius.api.nebius.common.v1 import ResourceMetadata

    request = CreateJobRequest(metadata=ResourceMetadata(parent_id=PARENT, name=name or _name("job")),
                               spec=JobSpec(image=image, container_command="rt-test", args=args,
                                            **{"registry_credentials": _creds(), **spec}))
    return standin.jobs.create(request, timeout=10).wait()


def _get_job(standin: Standin, job_id: str) -> Any:
    from nebius.api.nebius.ai.v1 import GetJobRequest

    return standin.jobs.get(GetJobRequest(id=job_id), timeout=10).wait()


def _walk(get: Any, until: set[str], timeout: float = 30) -> tuple[Any, list[str]]:
    """Poll until the state is one of `until`; returns the last message and every state seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        msg = get()
        state = msg.status.state.name
        if not seen or seen[-1] != state:
            seen.append(state)
        if state in until:
            return msg, seen
        assert time.monotonic() < deadline, f"still {state} after {timeout}s (seen {seen})"
        time.sleep(0.05)


def _lines(standin: Standin, **labels: str) -> list[str]:
    selector = ", ".join(f'{k}="{v}"' for k, v in {"__bucket__": "sp_serverless", **labels}.items())
    code, body = standin.loki("{" + selector + "}", direction="forward", limit=1000)
    assert code == 200, body
    return [v[1] for stream in body["data"]["result"] for v in stream["values"]]


def _containers(standin: Standin, rid: str) -> list[str]:
    return _docker("ps", "-aq", "--filter", f"label=rt-serverless.id={rid}").stdout.split()


# -- jobs ------------------------------------------------------------------------------------------------

def test_job_walks_its_states_and_its_logs_outlive_the_container(standin: Standin, image: str) -> None:
    from nebius.api.nebius.ai.v1 import GetJobByNameRequest, ListJobsRequest

    name = _name("ok")
    op = _job(standin, image, "say hello   from a job", name=name, working_dir="/tmp")
    op.sync_wait(timeout=20, interval=0.05)
    assert op.successful() and op.resource_id.startswith("aijob-")
    job, seen = _walk(lambda: _get_job(standin, op.resource_id), {"COMPLETED", "FAILED", "ERROR"})
    assert job.status.state.name == "COMPLETED", job.status.state_details
    assert seen[-3:] == ["IMAGE_PULLING", "RUNNING", "COMPLETED"] or seen[-2:] == ["IMAGE_PULLING", "COMPLETED"]
    assert job.status.state_details.code == "ContainerExited"
    assert job.status.state_details.message == "container exited with code 0"
    assert job.status.started_at is not None and job.status.finished_at >= job.status.started_at
    assert job.metadata.name == name and job.spec.args == "say hello   from a job"
    assert _containers(standin, op.resource_id) == []  # removed once ended; the logs stay
    assert _lines(standin, job_id=op.resource_id) == ["hello from a job"]
    assert standin.jobs.get_by_name(GetJobByNameRequest(parent_id=PARENT, name=name), timeout=10).wait().metadata.id \
        == op.resource_id
    listed = standin.jobs.list(ListJobsRequest(parent_id=PARENT), timeout=10).wait()
    assert op.resource_id in [j.metadata.id for j in listed.items]

    # the same name again: ALREADY_EXISTS; an unknown name: NOT_FOUND
    from nebius.aio.service_error import RequestError

    with pytest.raises(RequestError) as taken:
        _job(standin, image, "say again", name=name)
    assert taken.value.status.code.name == "ALREADY_EXISTS"
    with pytest.raises(RequestError) as missing:
        standin.jobs.get_by_name(GetJobByNameRequest(parent_id=PARENT, name="no-such-job"), timeout=10).wait()
    assert missing.value.status.code.name == "NOT_FOUND"


def test_loki_api_shape_auth_and_errors(standin: Standin, image: str) -> None:
    op = _job(standin, image, "say line-one")
    _walk(lambda: _get_job(standin, op.resource_id), {"COMPLETED"})
    assert standin.loki(f'{{__bucket__="sp_serverless", job_id="{op.resource_id}"}}', token=None)[0] == 401
    code, body = standin.loki(f'{{job_id="{op.resource_id}"}}')  # no __bucket__: no entries (Nebius's rule)
    assert code == 200 and body["data"]["result"] == []
    code, body = standin.loki(f'{{__bucket__="sp_serverless", job_id=~"{op.resource_id}"}}')
    assert code == 400 and body["status"] == "error" and body["message"]
    code, body = standin.loki(f'{{__bucket__="sp_serverless", job_id="{op.resource_id}"}} |= "x"')
    assert code == 400
    code, body = standin.loki(f'{{__bucket__="sp_serverless", job_id="{op.resource_id}"}}',
                              start=str(time.time_ns() + 10 ** 12))
    assert code == 200 and body["data"]["result"] == []
    code, body = standin.loki(f'{{__bucket__="sp_serverless", job_id="{op.resource_id}"}}')
    [stream] = body["data"]["result"]
    assert body["data"]["resultType"] == "streams"
    assert stream["stream"]["job_id"] == op.resource_id and stream["stream"]["parent_id"] == PARENT
    assert stream["values"][0][1] == "line-one" and stream["values"][0][0].isdigit()


def test_failed_job_reports_its_exit_code(standin: Standin, image: str) -> None:
    op = _job(standin, image, "exit 3")
    job, _ = _walk(lambda op=op: _get_job(standin, op.resource_id), {"COMPLETED", "FAILED", "ERROR"})
    assert job.status.state.name == "FAILED"
    assert (job.status.state_details.code, job.status.state_details.message) == \
        ("ContainerExited", "container exited with code 3")
    assert job.status.finished_at is not None
    assert _lines(standin, job_id=op.resource_id) == ["exiting with 3"]


def test_cancel_stops_the_container(standin: Standin, image: str) -> None:
    from nebius.api.nebius.ai.v1 import CancelJobRequest, DeleteJobRequest

    op = _job(standin, image, "sleep 60")
    _walk(lambda: _get_job(standin, op.resource_id), {"RUNNING"})
    assert len(_containers(standin, op.resource_id)) == 1
    cancel = standin.jobs.cancel(CancelJobRequest(id=op.resource_id), timeout=10).wait()
    assert _get_job(standin, op.resource_id).status.state.name in ("CANCELLING", "CANCELLED")
    cancel.sync_wait(timeout=30, interval=0.05)
    job = _get_job(standin, op.resource_id)
    assert job.status.state.name == "CANCELLED" and job.status.finished_at is not None
    assert _containers(standin, op.resource_id) == []
    assert _lines(standin, job_id=op.resource_id) == ["sleeping 60"]
    standin.jobs.delete(DeleteJobRequest(id=op.resource_id), timeout=10).wait().sync_wait(timeout=20, interval=0.05)
    from nebius.aio.service_error import RequestError

    with pytest.raises(RequestError):
        _get_job(standin, op.resource_id)


def test_quota_error_fails_create_at_once(standin: Standin, image: str) -> None:
    from nebius.aio.service_error import RequestError

    standin.control(serverless_quota_error=True)
    with pytest.raises(RequestError) as refused:
        _job(standin, image, "say never")
    assert refused.value.status.code.name == "RESOURCE_EXHAUSTED" and "quota" in str(refused.value)
    assert [e.details.field for e in refused.value.status.service_errors] == ["quota_failure"]


def test_rate_limiting_refuses_creates_with_its_typed_detail_then_lets_them_through(standin: Standin,
                                                                                       image: str) -> None:
    from nebius.aio.service_error import RequestError
    from nebius.api.nebius.ai.v1 import CreateJobRequest, JobSpec
    from nebius.api.nebius.common.v1 import ResourceMetadata

    request = CreateJobRequest(metadata=ResourceMetadata(parent_id=PARENT, name=_name("rate")),
                               spec=JobSpec(image=image, container_command="rt-test", args="say later",
                                            registry_credentials=_creds()))
    standin.control(serverless_rate_limit=2)
    with pytest.raises(RequestError) as refused:  # one try only: what the SDK sees before it retries
        standin.jobs.create(request, timeout=10, retries=1).wait()
    assert refused.value.status.code.name == "RESOURCE_EXHAUSTED"
    assert [e.details.field for e in refused.value.status.service_errors] == ["too_many_requests"]
    op = standin.jobs.create(request, timeout=10).wait()  # refused once more, then the SDK's own retry gets in
    assert op.resource_id.startswith("aijob-")
    assert json.loads((standin.dir / "control.json").read_text())["serverless_rate_limit"] == 0


def test_capacity_error_fails_the_operation_and_the_job(standin: Standin, image: str) -> None:
    from nebius.aio.operation import OperationError

    standin.control(serverless_capacity_error=True)
    op = _job(standin, image, "say never")
    with pytest.raises(OperationError) as failed:
        op.sync_wait(timeout=20, interval=0.05)
    assert failed.value.status.code.name == "RESOURCE_EXHAUSTED" and "not enough resources" in str(failed.value)
    assert [e.details.field for e in failed.value.status.service_errors] == ["not_enough_resources"]
    job = _get_job(standin, op.resource_id)
    assert job.status.state.name == "ERROR" and job.status.state_details.code == "NotEnoughResources"
    assert _containers(standin, op.resource_id) == []


def test_a_private_registry_is_pulled_from_only_with_credentials(standin: Standin, image: str) -> None:
    from nebius.api.nebius.ai.v1 import JobSpec

    from rt_sandbox.nebius_serverless import seed_secret

    op = _job(standin, image, "say never", registry_credentials=JobSpec.RegistryCredentials())
    job, _ = _walk(lambda: _get_job(standin, op.resource_id), {"ERROR", "COMPLETED", "FAILED"})
    assert job.status.state.name == "ERROR" and job.status.state_details.code == "ImagePullFailed"
    assert "pull access denied" in job.status.state_details.message
    (standin.dir / "registry_auth.json").write_text(json.dumps({image.split("/")[0]: {
        "username": "team", "password": "pw-" + uuid.uuid4().hex}}))
    try:
        wrong = _job(standin, image, "say never")  # rt-test's own pair: refused by the listed registry
        job, _ = _walk(lambda: _get_job(standin, wrong.resource_id), {"ERROR", "COMPLETED", "FAILED"})
        assert job.status.state.name == "ERROR" and "refused the credentials" in job.status.state_details.message
        expected = json.loads((standin.dir / "registry_auth.json").read_text())[image.split("/")[0]]
        secret = seed_secret(standin.dir, PARENT, _name("registry"), {"REGISTRY_USERNAME": expected["username"],
                                                                       "REGISTRY_PASSWORD": expected["password"]})
        version = secret.replace("mbsec-", "mbsecver-", 1)
        right = _job(standin, image, "say pulled", registry_credentials=JobSpec.RegistryCredentials(
            mysterybox_secret_version=version))
        job, _ = _walk(lambda: _get_job(standin, right.resource_id), {"ERROR", "COMPLETED", "FAILED"})
        assert job.status.state.name == "COMPLETED", job.status.state_details
        assert expected["password"] not in (standin.dir / "standin.log").read_text()
    finally:
        (standin.dir / "registry_auth.json").unlink()


def test_image_pull_failure_is_an_error_with_its_reason(standin: Standin, image: str) -> None:
    op = _job(standin, image.rsplit(":", 1)[0] + ":no-such-tag", "say never")
    job, _ = _walk(lambda: _get_job(standin, op.resource_id), {"ERROR", "COMPLETED", "FAILED"})
    assert job.status.state.name == "ERROR" and job.status.state_details.code == "ImagePullFailed"
    assert "no-such-tag" in job.status.state_details.message


def test_secrets_reach_the_container_and_nothing_else(standin: Standin, image: str) -> None:
    from nebius.api.nebius.ai.v1 import JobSpec
    from nebius.api.nebius.mysterybox.v1 import (
        GetPayloadByKeyRequest,
        GetSecretByNameRequest,
        PayloadServiceClient,
        SecretServiceClient,
    )

    from rt_sandbox.nebius_serverless import seed_secret

    value = f"s3cr3t-{uuid.uuid4().hex}"
    name = _name("secret")
    secret_id = seed_secret(standin.dir, PARENT, name, {"OTHER": "first-entry", "AWS_SECRET_ACCESS_KEY": value})
    found = SecretServiceClient(standin.sdk).get_by_name(GetSecretByNameRequest(parent_id=PARENT, name=name),
                                                         timeout=10).wait()
    assert found.metadata.id == secret_id
    entry = PayloadServiceClient(standin.sdk).get_by_key(
        GetPayloadByKeyRequest(secret_id=secret_id, key="AWS_SECRET_ACCESS_KEY"), timeout=10).wait()
    assert entry.data.string_value == value
    ref = JobSpec.MysteryBoxSecretRef(secret_id=secret_id)
    env = [JobSpec.EnvironmentVariable(name="AWS_SECRET_ACCESS_KEY", mysterybox_secret=ref),
           JobSpec.EnvironmentVariable(name="FALLBACK", mysterybox_secret=ref),  # no such key: the first entry
           JobSpec.EnvironmentVariable(name="PLAIN", value="plain-value")]
    outputs = []
    for var in ("AWS_SECRET_ACCESS_KEY", "FALLBACK", "PLAIN"):
        op = _job(standin, image, f"digest {var}", environment_variables=env)
        job, _ = _walk(lambda op=op: _get_job(standin, op.resource_id), {"COMPLETED", "FAILED", "ERROR"})
        assert job.status.state.name == "COMPLETED", job.status.state_details
        assert value not in str(job)
        outputs += _lines(standin, job_id=op.resource_id)
    md5 = {k: hashlib.md5(v.encode()).hexdigest() for k, v in
           (("AWS_SECRET_ACCESS_KEY", value), ("FALLBACK", "first-entry"), ("PLAIN", "plain-value"))}
    assert outputs == [f"{k} md5 {v}" for k, v in md5.items()]
    assert value not in (standin.dir / "standin.log").read_text()
    assert value not in (standin.dir / "serverless.json").read_text()
    # a secret that does not exist: ERROR before anything runs
    op = _job(standin, image, "say never", environment_variables=[
        JobSpec.EnvironmentVariable(name="X", mysterybox_secret=JobSpec.MysteryBoxSecretRef(secret_id="mbsec-none"))])
    job, _ = _walk(lambda: _get_job(standin, op.resource_id), {"ERROR", "COMPLETED", "FAILED"})
    assert job.status.state_details.code == "SecretNotFound"


def test_volumes_are_named_docker_volumes_with_their_mode(standin: Standin, image: str) -> None:
    from nebius.api.nebius.ai.v1 import JobSpec

    fs = f"computefilesystem-rtt{uuid.uuid4().hex[:8]}"
    mode = JobSpec.VolumeMount.Mode
    try:
        rw = [JobSpec.VolumeMount(source=fs, container_path="/cache", mode=mode.READ_WRITE)]
        ro = [JobSpec.VolumeMount(source=fs, container_path="/cache", mode=mode.READ_ONLY)]
        results = []
        for args, volumes in (("write /cache/mark kept", rw), ("read /cache/mark", ro), ("write /cache/no x", ro)):
            op = _job(standin, image, args, volumes=volumes)
            job, _ = _walk(lambda op=op: _get_job(standin, op.resource_id), {"COMPLETED", "FAILED", "ERROR"})
            results.append((job.status.state.name, _lines(standin, job_id=op.resource_id)))
        assert results[0] == ("COMPLETED", ["wrote /cache/mark"])
        assert results[1] == ("COMPLETED", ["kept"])
        assert results[2][0] == "FAILED"  # read-only
    finally:
        _docker("volume", "rm", "-f", f"rt-serverless-{fs}", check=False)


# -- endpoints -------------------------------------------------------------------------------------------

def _https(url: str, ca: Path, token: str | None = None, path: str = "/") -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(ca))
    request = urllib.request.Request(url + path, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _endpoint(standin: Standin, image: str, args: str, name: str = "", **spec: Any) -> Any:
    from nebius.api.nebius.ai.v1 import CreateEndpointRequest, EndpointSpec
    from nebius.api.nebius.common.v1 import ResourceMetadata

    request = CreateEndpointRequest(
        metadata=ResourceMetadata(parent_id=PARENT, name=name or _name("ep")),
        spec=EndpointSpec(image=image, container_command="rt-test", args=args,
                          ports=[EndpointSpec.Port(container_port=8000)],
                          **{"registry_credentials": _creds("Endpoint"), **spec}))
    return standin.endpoints.create(request, timeout=10).wait()


def _get_endpoint(standin: Standin, rid: str) -> Any:
    from nebius.api.nebius.ai.v1 import GetEndpointRequest

    return standin.endpoints.get(GetEndpointRequest(id=rid), timeout=10).wait()


def _url(endpoint: Any) -> str:
    [url] = [u for u in endpoint.status.public_endpoints if u.startswith("https://")]
    return url


def _until_http(url: str, ca: Path, code: int, token: str | None = None, timeout: float = 20) -> tuple[int, str]:
    deadline = time.monotonic() + timeout
    while True:
        got = _https(url, ca, token)
        if got[0] == code or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_endpoint_url_proxy_stop_start_delete(standin: Standin, image: str) -> None:
    from nebius.aio.service_error import RequestError
    from nebius.api.nebius.ai.v1 import (
        DeleteEndpointRequest,
        GetEndpointByNameRequest,
        StartEndpointRequest,
        StopEndpointRequest,
    )

    ca = standin.dir / "tls" / "ca.pem"
    op = _endpoint(standin, image, "serve 8000 1")  # the server listens a second after the container starts
    url = _url(_get_endpoint(standin, op.resource_id))
    assert _https(url, ca)[0] == 503  # not RUNNING yet
    op.sync_wait(timeout=20, interval=0.05)
    ep, seen = _walk(lambda: _get_endpoint(standin, op.resource_id), {"RUNNING", "ERROR"})
    assert ep.status.state.name == "RUNNING" and "IMAGE_PULLING" in seen
    assert _https(url, ca)[0] == 502  # RUNNING, but nothing listens in the container yet
    code, body = _until_http(url, ca, 200)
    assert code == 200 and body.startswith("hello from")
    bare = [u for u in _get_endpoint(standin, op.resource_id).status.public_endpoints if not u.startswith("https")]
    assert len(bare) == 1 and bare[0].startswith("127.0.0.1:")

    stop = standin.endpoints.stop(StopEndpointRequest(id=op.resource_id), timeout=10).wait()
    stop.sync_wait(timeout=20, interval=0.05)
    ep = _get_endpoint(standin, op.resource_id)
    assert ep.status.state.name == "STOPPED" and _url(ep) == url
    assert _containers(standin, op.resource_id) == [] and _https(url, ca)[0] == 503

    start = standin.endpoints.start(StartEndpointRequest(id=op.resource_id), timeout=10).wait()
    start.sync_wait(timeout=20, interval=0.05)
    ep, _ = _walk(lambda: _get_endpoint(standin, op.resource_id), {"RUNNING", "ERROR"})
    assert ep.status.state.name == "RUNNING" and _url(ep) == url
    assert _until_http(url, ca, 200)[0] == 200

    delete = standin.endpoints.delete(DeleteEndpointRequest(id=op.resource_id), timeout=10).wait()
    delete.sync_wait(timeout=20, interval=0.05)
    with pytest.raises(RequestError) as gone:
        standin.endpoints.get_by_name(GetEndpointByNameRequest(parent_id=PARENT, name=ep.metadata.name),
                                      timeout=10).wait()
    assert gone.value.status.code.name == "NOT_FOUND"
    assert _containers(standin, op.resource_id) == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=2).close()
    assert "serving on 8000" in _lines(standin, endpoint_id=op.resource_id)
    again = _endpoint(standin, image, "serve 8000", name=ep.metadata.name)  # the same name, re-created
    assert _url(_get_endpoint(standin, again.resource_id)) not in ("", url)  # a new URL, as Nebius gives
    standin.endpoints.delete(DeleteEndpointRequest(id=again.resource_id), timeout=10).wait().sync_wait(
        timeout=20, interval=0.05)


def test_endpoint_auth_token_is_checked_by_the_proxy(standin: Standin, image: str) -> None:
    from nebius.api.nebius.ai.v1 import DeleteEndpointRequest, EndpointSpec

    from rt_sandbox.nebius_serverless import seed_secret

    token = uuid.uuid4().hex
    secret_id = seed_secret(standin.dir, PARENT, _name("token"), {"AUTH_TOKEN": token})
    op = _endpoint(standin, image, "serve 8000",
                   auth_token_mysterybox_secret=EndpointSpec.MysteryBoxSecretRef(secret_id=secret_id))
    ep, _ = _walk(lambda: _get_endpoint(standin, op.resource_id), {"RUNNING", "ERROR"})
    ca, url = standin.dir / "tls" / "ca.pem", _url(ep)
    assert _until_http(url, ca, 200, token=token)[0] == 200
    assert _https(url, ca)[0] == 401
    assert _https(url, ca, token="wrong")[0] == 401
    assert token not in str(ep)
    standin.endpoints.delete(DeleteEndpointRequest(id=op.resource_id), timeout=10).wait().sync_wait(timeout=20,
                                                                                                  interval=0.05)


def test_proxy_passes_raw_bytes_both_ways_after_the_head(standin: Standin, image: str) -> None:
    """What a WebSocket needs: after the request head, the proxy is a byte pipe (here to an echo server)."""
    from nebius.api.nebius.ai.v1 import CreateEndpointRequest, DeleteEndpointRequest, EndpointSpec
    from nebius.api.nebius.common.v1 import ResourceMetadata

    spec = EndpointSpec(image=image, container_command="nc", args="-ll -p 8000 -e cat",
                        ports=[EndpointSpec.Port(container_port=8000)], registry_credentials=_creds("Endpoint"))
    op = standin.endpoints.create(CreateEndpointRequest(metadata=ResourceMetadata(parent_id=PARENT, name=_name("ws")),
                                                        spec=spec), timeout=10).wait()
    ep, _ = _walk(lambda: _get_endpoint(standin, op.resource_id), {"RUNNING", "ERROR"})
    port = int(_url(ep).rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=str(standin.dir / "tls" / "ca.pem"))
    head = b"GET /session HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    deadline = time.monotonic() + 20
    while True:  # the echo server may not listen yet (the proxy then answers 502)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(head)
            got = b""
            while len(got) < len(head):
                chunk = tls.recv(65536)
                if not chunk:
                    break
                got += chunk
            if got == head:
                for n in range(3):
                    tls.sendall(f"frame-{n}".encode())
                    assert tls.recv(65536) == f"frame-{n}".encode()
                break
        assert got.startswith(b"HTTP/1.1 502") and time.monotonic() < deadline, got
        time.sleep(0.2)
    standin.endpoints.delete(DeleteEndpointRequest(id=op.resource_id), timeout=10).wait().sync_wait(timeout=20,
                                                                                                  interval=0.05)


# -- restart -----------------------------------------------------------------------------------------------

def test_restart_mid_job_reattaches_and_finishes(tmp_path: Path, image: str) -> None:
    from nebius.api.nebius.common.v1 import GetOperationRequest, OperationServiceClient

    server = Standin(tmp_path / "state").start()
    try:
        early = _job(server, image, "sleep 1 4")  # ends (code 4) while the stand-in is down
        late = _job(server, image, "sleep 5")  # still running when it comes back
        served = _endpoint(server, image, "serve 8000")
        for op in (early, late):
            _walk(lambda op=op: _get_job(server, op.resource_id), {"RUNNING"})
        ca, url = server.dir / "tls" / "ca.pem", _url(_get_endpoint(server, served.resource_id))
        assert _until_http(url, ca, 200)[0] == 200
        server.kill(signal.SIGKILL)
        time.sleep(2)
        server.start()
        assert _url(_get_endpoint(server, served.resource_id)) == url  # same proxy port, same CA
        assert _until_http(url, ca, 200)[0] == 200
        job, _ = _walk(lambda: _get_job(server, early.resource_id), {"COMPLETED", "FAILED", "ERROR"})
        assert (job.status.state.name, job.status.state_details.message) == ("FAILED", "container exited with code 4")
        job, seen = _walk(lambda: _get_job(server, late.resource_id), {"COMPLETED", "FAILED", "ERROR"})
        assert job.status.state.name == "COMPLETED" and seen[0] == "RUNNING"
        assert _lines(server, job_id=late.resource_id) == ["sleeping 5", "slept 5"]
        assert _lines(server, job_id=early.resource_id) == ["sleeping 1", "slept 1"]
        # the operations made before the restart are still there
        op = OperationServiceClient(server.sdk).get(GetOperationRequest(id=early.id), timeout=10).wait()
        assert op.done() and op.successful()
    finally:
        server.kill()
        _cleanup_docker(server.dir)
