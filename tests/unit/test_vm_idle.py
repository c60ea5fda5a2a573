"""Pure logic of the vm domain: idleness from samples (host statuses read from snapshots), durations."""
from __future__ import annotations

import pytest

from remote_training.errors import InputError
from remote_training.fleet.fleet_status import HostStatus
from remote_training.fleet.idle import Sample, SampleStore, idle_for_window, why_busy
from remote_training.fleet.providers import State
from remote_training.validate import duration
from rt_sandbox.nebius_standin import other_address

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
    from remote_training.fleet import snapshot

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


def test_ended_containers_do_not_keep_a_vm_up():
    ended = _status(containers=(_container("exited", job="job-1"), _container("exited", name="prometheus"),
                                _container("dead", project="docker")))
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
def test_idle_windows_read_as_durations(text, seconds):
    """vm.reap's --idle and --max-gap (and jobs.wait's --timeout) are read by validate.duration."""
    assert duration(text, "--idle") == seconds


def test_a_garbled_idle_window_is_refused():
    with pytest.raises(InputError, match="--idle 'soon' is not a duration"):
        duration("soon", "--idle")


def test_state_words_and_addresses():
    assert State.parse("running") is State.RUNNING and State.parse("off") is State.STOPPED
    assert State.parse("weird") is State.UNKNOWN
    assert other_address("10.213.0.13") == "10.213.0.113" and other_address("10.213.0.113") == "10.213.0.13"


# Unknown is busy: what cannot be read, or believed, keeps the VM running, and the reason says which.
UNKNOWN = [
    ("negative utilization", "NVIDIA H100 80GB HBM3, 81559, 0, -5", "utilization.gpu '-5'"),
    ("utilization over 100 %", "NVIDIA H100 80GB HBM3, 81559, 0, 250", "utilization.gpu '250'"),
    ("total memory 0", "NVIDIA H100 80GB HBM3, 0, 0, 0", "memory.total '0'"),
    ("negative total", "NVIDIA H100 80GB HBM3, -81559, 0, 0", "memory.total '-81559'"),
    ("negative memory used", "NVIDIA H100 80GB HBM3, 81559, -40000, 0", "memory.used '-40000'"),
    ("more used than there is", "NVIDIA H100 80GB HBM3, 81559, 90000, 0", "memory.used '90000'"),
    ("unparsable utilization", "NVIDIA H100 80GB HBM3, 81559, 0, busy", "utilization.gpu 'busy'"),
    ("unparsable memory", "NVIDIA H100 80GB HBM3, 81559, 0x10, 0", "memory.used '0x10'"),
    ("not a number", "NVIDIA H100 80GB HBM3, 81559, nan, 0", "memory.used 'nan'"),
    ("infinite", "NVIDIA H100 80GB HBM3, inf, 0, 0", "memory.total 'inf'"),
    ("one GPU of two out of range", "NVIDIA H100, 81559, 0, 0\nNVIDIA H100, 81559, 0, -1", "GPU 1 reading"),
    ("one GPU of two with memory unknown", "NVIDIA H100, 81559, 0, 0\nNVIDIA H100, [N/A], [N/A], 0",
     "GPU memory in use: unknown"),
]


@pytest.mark.parametrize("case, smi, said", UNKNOWN, ids=[c for c, _, _ in UNKNOWN])
def test_a_gpu_reading_outside_its_range_keeps_the_vm_and_says_why(case, smi, said):
    status = _status(smi=smi)
    why = why_busy(status, 10)
    assert why and said in why, (case, why)
    sample = Sample.of(status, threshold=10, t=1)
    assert not sample.idle and said in sample.why


@pytest.mark.parametrize("case, container, said", [
    ("no label, not compose", _container("running", name="miner"), "miner (unknown origin"),
    ("unknown origin, paused", _container("paused", name="x"), "x (unknown origin"),
    ("a state docker does not name", _container("", name="odd"), "state unknown"),
    ("a state this tool does not know", _container("migrating", name="odd"), "state migrating"),
    ("a compose container", _container("running", project="team"), "compose project team"),
])
def test_a_container_of_unknown_origin_or_state_keeps_the_vm(case, container, said):
    why = why_busy(_status(containers=(container,)), 10)
    assert why and "at work" in why and said in why, (case, why)


def test_an_unreadable_container_row_keeps_the_vm():
    why = why_busy(_status(containers=('["id", "half a row"',)), 10)
    assert why and "unreadable" in why


def test_a_busy_sample_keeps_its_reason_in_the_window_table():
    odd = Sample.of(_status(smi="NVIDIA H100 80GB HBM3, 81559, 0, -5"), threshold=10, t=NOW - 700)
    samples = [idle(NOW - 2000), idle(NOW - 1500), odd, idle(NOW - 300), idle(NOW)]
    ok, why = idle_for_window(samples, NOW, window=1800, max_gap=900)
    assert not ok and "utilization.gpu '-5'" in why
