"""Concepts with one home: the image reference parser, the records' time format, the yes/no reading."""
from __future__ import annotations

import datetime as dt

import pytest

from remote_training.images.registry import parse_ref, registry_host, split_ref
from remote_training.records import timestamps
from remote_training.validate import truthy


@pytest.mark.parametrize("ref, parts, registry", [
    ("gr00t", ("gr00t", None, None), "docker.io"),
    ("positro/gr00t:v1", ("positro/gr00t", "v1", None), "docker.io"),
    ("positro/openpi:${IMAGE_TAG:-latest}", ("positro/openpi", "${IMAGE_TAG:-latest}", None), "docker.io"),
    ("127.0.0.1:5000/positro/gr00t:abc", ("127.0.0.1:5000/positro/gr00t", "abc", None), "127.0.0.1:5000"),
    ("localhost:5000/x@sha256:1f", ("localhost:5000/x", None, "sha256:1f"), "localhost:5000"),
    ("cr.eu-north1.nebius.cloud/p/x:t@sha256:ab", ("cr.eu-north1.nebius.cloud/p/x", "t", "sha256:ab"),
     "cr.eu-north1.nebius.cloud"),
])
def test_an_image_reference_is_split_as_docker_reads_it(ref, parts, registry):
    assert split_ref(ref) == parts and registry_host(ref) == registry


def test_a_tag_reference_is_located_in_its_registry():
    assert str(parse_ref("ubuntu")) == "docker.io/library/ubuntu:latest"
    assert str(parse_ref("127.0.0.1:5000/a/b")) == "127.0.0.1:5000/a/b:latest"


def test_the_records_time_format_round_trips():
    assert timestamps.utc(0) == "1970-01-01T00:00:00Z"
    assert timestamps.utc(dt.datetime(2026, 11, 30, 8, 0, 0)) == "2026-11-30T08:00:00Z"  # naive: UTC
    assert timestamps.seconds(timestamps.utc(1_800_000_000)) == 1_800_000_000
    assert timestamps.seconds("") is None and timestamps.seconds("yesterday") is None


@pytest.mark.parametrize("value, expected", [
    ("1", True), ("true", True), ("YES", True), (" on ", True), ("cloud", True), (True, True), (1, True),
    ("", False), ("0", False), ("False", False), ("no", False), ("off", False), (False, False), (None, False),
])
def test_a_yes_no_setting_reads_one_way_everywhere(value, expected):
    assert truthy(value) is expected
