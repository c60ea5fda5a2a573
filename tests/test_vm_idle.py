"""Pure logic of the vm domain: idleness from samples (host statuses read from snapshots), durations."""
from __future__ import annotations

import pytest

from remote_training.errors import InputError
from remote_training.fleet_status import HostStatus
from remote_training.idle import Sample, SampleStore, idle_for_window, parse_duration
from rt_sandbox.nebius_standin import other_address
from remote_training.providers import State
from remote_training.snapshot import Job

NOW = 10_000.0


def idle(t: float) -> Sample:
    return Sample(t, "RUNNING", True, 0, 0, True)


def busy(t: float, jobs: int = 1) -> Sample:
    return Sample(t, "RUNNING", True, jobs, 100, False)


def test_idle_needs_history_reaching_the_window_start():
    ok, why = idle_for_window([idle(NOW - 600), idle(NOW)], NOW, window=1800, max_gap=900)
    assert not ok and "covers 600s of the 1800s" in why


def test_idle_for_whole_window():
    samples = [idle(NOW - 1800 - 60 + 300 * i) for i in range(7)] + [idle(NOW)]
    ok, why = idle_for_window(samples, NOW, window=1800, max_gap=900)
    assert ok and "idle for 1860s" in why


def test_one_busy_sample_in_window_keeps_it():
    samples = [idle(NOW - 2000), idle(NOW - 1500), busy(NOW - 700), idle(NOW - 300), idle(NOW)]
    ok, why = idle_for_window(samples, NOW, window=1800, max_gap=900)
    assert not ok and "700s ago (jobs running)" in why


def test_a_gap_means_unknown():
    ok, why = idle_for_window([idle(NOW - 2000), idle(NOW)], NOW, window=1800, max_gap=900)
    assert not ok and "2000s gap" in why


def test_sample_of_status():
    running = HostStatus("vm", "nebius", state="RUNNING", reachable=True, gpu_util_pct=3)
    assert Sample.of(running, threshold=10, t=1).idle
    hot = HostStatus("vm", "nebius", state="RUNNING", reachable=True, gpu_util_pct=40)
    assert not Sample.of(hot, threshold=10, t=1).idle
    stalled = HostStatus("vm", "nebius", state="RUNNING", reachable=True, gpu_util_pct=0,
                         jobs=[Job("job-1", "vm", container="c1")])  # a hung training loop still holds its container
    assert not Sample.of(stalled, threshold=10, t=1).idle
    unknown = HostStatus("vm", "nebius", state="RUNNING", reachable=False)
    assert not Sample.of(unknown, threshold=10, t=1).idle


def test_sample_store_keeps_history_and_survives_a_torn_line(tmp_path):
    store = SampleStore(tmp_path)
    store.add("vm", idle(NOW - 10))
    store.add("vm", busy(NOW))
    with open(store.path("vm"), "a") as fh:
        fh.write('{"t": 1, "sta')  # a run killed mid-write
    again = SampleStore(tmp_path).load("vm", now=NOW)
    assert [s.idle for s in again] == [True, False]
    store.clear("vm")
    assert store.load("vm", now=NOW) == []


@pytest.mark.parametrize("text,seconds", [("30m", 1800), ("2h", 7200), ("90s", 90), ("1d", 86400), ("45", 45),
                                          ("1.5h", 5400), (120, 120)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage():
    with pytest.raises(InputError, match="bad duration"):
        parse_duration("soon")


def test_state_words_and_addresses():
    assert State.parse("running") is State.RUNNING and State.parse("off") is State.STOPPED
    assert State.parse("weird") is State.UNKNOWN
    assert other_address("10.213.0.13") == "10.213.0.113" and other_address("10.213.0.113") == "10.213.0.13"
