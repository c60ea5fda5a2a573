"""Pure logic of the vm domain: idleness from samples (host statuses read from snapshots), durations."""
from __future__ import annotations

import pytest

from remote_training.errors import InputError
from remote_training.fleet_status import HostStatus
from remote_training.idle import why_busy, Sample, SampleStore, idle_for_window, parse_duration
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


def _status(smi: str = "NVIDIA H100 80GB HBM3, 81559, 0, 3", containers: tuple[str, ...] = (), leases: int = 0,
            docker_status: int = 0, reachable: bool = True) -> HostStatus:
    """A status as vm.status builds it, from the snapshot command's own output."""
    from remote_training import snapshot

    ps = "\n".join(containers)
    found = "\n".join(f"/root/{snapshot.LEASES}/launch.{n}" for n in range(leases))
    text = (f"{smi}\n{snapshot.MARK} smi 0\n{snapshot.MARK} docker {docker_status}\n{ps}\n{snapshot.MARK} ss 0\n"
            f"{snapshot.MARK} leases 0\n{found}\n{snapshot.MARK} end\n")
    snap = snapshot.parse("vm", text)
    return HostStatus("vm", "nebius", state="RUNNING", reachable=reachable, gpu_util_pct=snap.gpu_util_pct,
                      jobs=list(snap.active_jobs), snapshot=snap)


def _container(state: str, job: str = "", project: str = "", name: str = "c") -> str:
    import json

    labels = [job, "", "", "", "", "", "", "", "", "", "", "", "", project]
    status = {"exited": "Exited (0) 1 minute ago", "paused": "Up 2 minutes (Paused)"}.get(state, "Up 2 minutes")
    return json.dumps([f"id-{name}", name, state, status, "", *labels])


def test_sample_of_status():
    assert Sample.of(_status(), threshold=10, t=1).idle
    assert not Sample.of(_status(smi="NVIDIA H100 80GB HBM3, 81559, 0, 40"), threshold=10, t=1).idle
    # a hung training loop still holds its container
    assert not Sample.of(_status(containers=(_container("running", job="job-1"),)), threshold=10, t=1).idle
    assert not Sample.of(HostStatus("vm", "nebius", state="RUNNING", reachable=False), threshold=10, t=1).idle


@pytest.mark.parametrize("case, status", [
    ("a paused job", lambda: _status(containers=(_container("paused", job="job-1"),))),
    ("a created job", lambda: _status(containers=(_container("created", job="job-1"),))),
    ("compose run by hand, no label", lambda: _status(containers=(_container("running", project="docker"),))),
    ("a launch still pulling", lambda: _status(leases=1)),
    ("GPU memory held, 0 % busy", lambda: _status(smi="NVIDIA H100 80GB HBM3, 81559, 40000, 0")),
    ("MIG: utilization unknown", lambda: _status(smi="NVIDIA H100 80GB HBM3, 81559, 5, [N/A]")),
    ("two GPUs, one in use", lambda: _status(smi="NVIDIA H100, 81559, 5, 0\nNVIDIA H100, 81559, 79000, [N/A]")),
    ("docker ps failed", lambda: _status(docker_status=1)),
    ("nvidia-smi gave nothing", lambda: _status(smi="")),
])
def test_reap_never_calls_work_idle(case, status):
    sample = Sample.of(status(), threshold=10, t=1)
    assert not sample.idle, case
    assert why_busy(status(), 10), case


def test_ended_and_foreign_containers_do_not_keep_a_vm_up():
    ended = _status(containers=(_container("exited", job="job-1"), _container("running", name="prometheus")))
    assert why_busy(ended, 10) is None and Sample.of(ended, threshold=10, t=1).idle


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
