"""S3 checks against the sandbox's moto server (a real S3 HTTP API), counting every request."""
from __future__ import annotations

import os
import uuid
from typing import Any

import pytest

from remote_training.errors import InputError
from remote_training.records import s3_lite, storage

OPERATIONS = {"list_objects_v2": "ListObjectsV2", "head_object": "HeadObject", "get_object": "GetObject",
              "put_object": "PutObject", "delete_object": "DeleteObject"}


@pytest.fixture(params=["lite", "botocore"])
def s3(sandbox, monkeypatch, request):
    """Each test runs with both clients storage.client may hand out: the same answers, the same requests."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "sandbox")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sandbox-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    if request.param == "botocore":
        client = storage.botocore_client(sandbox["s3_local_endpoint"])
        client.requests = []  # type: ignore[attr-defined]
        client.meta.events.register("before-parameter-build.s3", lambda params, model, **_: client.requests.append(
            (model.name, dict(params))))
        return client
    client = storage.client(sandbox["s3_local_endpoint"])
    assert isinstance(client, s3_lite.S3Lite)  # static keys and an explicit endpoint: no botocore
    client.requests = []  # type: ignore[attr-defined]
    for method, name in OPERATIONS.items():
        def counted(_call=getattr(client, method), _name=name, **kwargs):  # noqa: B008 (binds this method)
            client.requests.append((_name, kwargs))
            return _call(**kwargs)
        setattr(client, method, counted)
    return client


@pytest.fixture
def run_root():
    return f"test-storage/{uuid.uuid4().hex[:8]}"


def put(s3, bucket, key, body=b"x"):
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def test_exists_costs_one_request_for_a_folder(s3, run_root):
    put(s3, "interim", f"{run_root}/dataset/meta/info.json")
    s3.requests.clear()
    assert storage.exists(s3, f"s3://interim/{run_root}/dataset/")
    assert storage.exists(s3, f"s3://interim/{run_root}/dataset")
    assert [r[0] for r in s3.requests] == ["ListObjectsV2", "ListObjectsV2"]
    assert all(r[1]["MaxKeys"] == 1 and r[1]["Prefix"] == f"{run_root}/dataset/" for r in s3.requests)


def test_exists_does_not_mistake_a_sibling_for_the_folder(s3, run_root):
    put(s3, "interim", f"{run_root}/data-old/x")
    assert not storage.exists(s3, f"s3://interim/{run_root}/data")
    assert not storage.exists(s3, f"s3://interim/{run_root}/data/")


def test_exists_finds_a_single_object(s3, run_root):
    put(s3, "interim", f"{run_root}/stats.json")
    assert storage.exists(s3, f"s3://interim/{run_root}/stats.json")
    assert storage.object_exists(s3, f"s3://interim/{run_root}/stats.json")
    assert not storage.object_exists(s3, f"s3://interim/{run_root}/nope.json")


def test_a_missing_bucket_is_a_clear_input_error(s3):
    with pytest.raises(InputError, match="bucket 'no-such-bucket' does not exist"):
        storage.exists(s3, "s3://no-such-bucket/x/")


@pytest.mark.parametrize("layout, keys, expected", [
    ("groot", ["checkpoint-2000/a", "checkpoint-10000/a", "checkpoint-400/a", "logs/x"], ("checkpoint-10000", 10000)),
    ("openpi", ["900/params", "12000/params", "3000/params", "assets/x"], ("12000", 12000)),
    ("lerobot", ["checkpoints/1000/pretrained_model/m", "checkpoints/020000/pretrained_model/m"], ("020000", 20000)),
])
def test_latest_checkpoint_by_layout_with_one_delimited_listing(s3, run_root, layout, keys, expected):
    for key in keys:
        put(s3, "checkpoints", f"{run_root}/{key}")
    s3.requests.clear()
    latest = storage.latest_checkpoint(s3, f"s3://checkpoints/{run_root}/", layout)
    assert (latest.name, latest.step) == expected
    suffix = "pretrained_model/" if layout == "lerobot" else ""
    middle = "checkpoints/" if layout == "lerobot" else ""
    assert latest.url == f"s3://checkpoints/{run_root}/{middle}{expected[0]}/{suffix}"
    assert len(s3.requests) == 1 and s3.requests[0][1]["Delimiter"] == "/"
    assert s3.requests[0][1]["Prefix"].startswith(run_root)


def test_no_checkpoint_gives_none(s3, run_root):
    put(s3, "checkpoints", f"{run_root}/notes.txt")
    assert storage.latest_checkpoint(s3, f"s3://checkpoints/{run_root}", "groot") is None


class _CountingReads:
    """The S3 client, counting the objects it reads."""

    def __init__(self, s3: Any) -> None:
        self.s3, self.reads = s3, 0

    def get_object(self, **kwargs: Any) -> Any:
        self.reads += 1
        return self.s3.get_object(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)


def test_the_start_is_written_on_the_claims_own_record_and_read_again_only_when_someone_wrote_since(s3, run_root):
    """update_run(known=claim_run's record and ETag): one conditional write while run.json is as claimed; a
    stale ETag is refused by S3 and the update reads, so another launch's entry is never lost."""
    url = f"s3://checkpoints/{run_root}/.rt-runs/e2/run.json"
    written = storage.claim_run(s3, url, {"job_id": "j1"}, append=False)
    counting = _CountingReads(s3)
    assert storage.update_run(counting, url, "j1", {"container": "c1"}, known=written)
    assert counting.reads == 0, "run.json was read although it was as this launch wrote it"
    storage.claim_run(s3, url, {"job_id": "j2"}, append=True)  # another launch joins (--resume)
    assert storage.update_run(counting, url, "j1", {"exit_code": 0}, known=written)  # its ETag is stale now
    assert counting.reads == 1
    record, _ = storage.read_run(s3, url)
    assert [(e["job_id"], e.get("container"), e.get("exit_code")) for e in record["launches"]] == \
        [("j1", "c1", 0), ("j2", None, None)]


def test_a_run_record_is_claimed_once_appended_updated_and_released(s3, run_root):
    url = f"s3://checkpoints/{run_root}/.rt-runs/e1/run.json"
    assert storage.read_run(s3, url) == (None, None)
    storage.claim_run(s3, url, {"job_id": "j1", "user": "ann", "host": "vm"}, append=False)
    with pytest.raises(storage.ClaimTaken, match="claimed a moment ago by j1 \\(ann on vm\\)"):
        storage.claim_run(s3, url, {"job_id": "j2"}, append=False, wait=0)  # the wait: test_faults' race test
    storage.claim_run(s3, url, {"job_id": "j3"}, append=True)  # --resume: the earlier launch stays
    assert storage.update_run(s3, url, "j3", {"exit_code": 0}) and not storage.update_run(s3, url, "nope", {})
    record, _ = storage.read_run(s3, url)
    # each claim records its launcher (this process): what proves later that the launch is gone (claims.py)
    assert [e.pop("launcher")["pid"] for e in record["launches"]] == [os.getpid()] * 2
    assert record["launches"] == [{"job_id": "j1", "user": "ann", "host": "vm"}, {"job_id": "j3", "exit_code": 0}]
    storage.release_run(s3, url, "j3")
    storage.release_run(s3, url, "j1")
    assert storage.read_run(s3, url) == (None, None)


@pytest.mark.parametrize("make", [storage.client, storage.botocore_client])
def test_unreachable_endpoint_is_a_storage_error(monkeypatch, make):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    client = make("http://127.0.0.1:9", region="us-east-1")
    with pytest.raises(storage.StorageError, match="S3 unreachable"):
        storage.exists(client, "s3://interim/x/")
