"""Placement rules and `--host auto` decisions (pure), plus reading a real sandbox host's state."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from remote_training import placement as pl
from remote_training.errors import InputError
from remote_training.fleet.inventory import Host, ProviderConfig, load_inventory
from remote_training.fleet.remote import RemoteRunner
from remote_training.fleet.snapshot import Job, parse
from tests.fakessh import snapshot_output
from tests.support import DATA

DESKTOP = Host("desktop", "root@desktop", "RTX 3060", 12, ProviderConfig("static"))
VM1 = Host("vm-train", "root@vm-train", "H100", 80, ProviderConfig("nebius", {"instance_id": "i1"}))
VM2 = Host("vm-train2", "root@vm-train2", "H100", 80, ProviderConfig("nebius", {"instance_id": "i2"}))
VM3 = Host("vm-train3", "root@vm-train3", "H100", 80, ProviderConfig("nebius", {"instance_id": "i3"}))
H100_MB, DESKTOP_MB = 81559, 12288


def running(host, used=0, jobs=()):
    total = DESKTOP_MB if host is DESKTOP else H100_MB
    return pl.HostState(host, "running", total, used, tuple(jobs))


def stopped(host):
    return pl.HostState(host, "stopped", startable=host.provider.type != "static")


def job(job_id, mem=6000, service="groot-server"):
    return Job(job_id, "vm", service, gpu_mem_mb=mem, name=job_id)


GROOT_TRAIN, GROOT_SERVER = "positronic.vendors.gr00t.train", "positronic.vendors.gr00t.server"


def test_rules_match_the_seed():
    assert pl.rule(GROOT_TRAIN).needs_h100 and pl.rule("positronic.vendors.openpi.train").needs_h100
    assert pl.rule("positronic.vendors.openpi.server").needs_h100
    assert not pl.rule(GROOT_SERVER).needs_h100 and 5500 <= pl.rule(GROOT_SERVER).gpu_mem_mb <= 6500
    for program in ("positronic-to-lerobot", "positronic.vendors.openpi.stats", "positronic-train",
                    "positronic.vendors.lerobot_0_3_3.train", "positronic.vendors.lerobot_0_3_3.server"):
        assert pl.rule(program).default_host == "desktop"
    with pytest.raises(InputError, match="did you mean 'positronic.vendors.gr00t.train'"):
        pl.rule("positronic.vendors.gr00t.trian")
    with pytest.raises(InputError, match="unknown program 'groot-train'"):
        pl.rule("groot-train")  # a compose service name is no program


def test_groot_training_is_refused_on_the_desktop():
    why = pl.eligibility(GROOT_TRAIN, DESKTOP)
    assert why == "GR00T training needs an H100; desktop has RTX 3060"
    assert pl.eligibility(GROOT_TRAIN, VM1) is None


def test_a_second_groot_server_does_not_fit_the_12gb_desktop():
    need = pl.rule(GROOT_SERVER).gpu_mem_mb
    assert pl.memory_problem(running(DESKTOP), need) is None
    problem = pl.memory_problem(running(DESKTOP, need, [job("groot-server-1", need)]), need)
    assert problem and f"held by groot-server-1 ({need} MiB)" in problem


def test_auto_skips_a_busy_h100_and_picks_a_free_one():
    states = [running(DESKTOP), running(VM1, 40960, [job("groot-train-a", 40960, "groot-train")]),
              running(VM2), stopped(VM3)]
    chosen = pl.choose(GROOT_TRAIN, states)
    assert chosen.host is VM2 and not chosen.start_first
    assert "vm-train2 is running with no job" in chosen.reason
    assert any(s.startswith("vm-train: busy with groot-train-a") for s in chosen.skipped)
    assert any(s.startswith("desktop: GR00T training needs an H100") for s in chosen.skipped)


def test_auto_starts_a_stopped_vm_only_when_all_running_ones_are_busy():
    states = [running(VM1, 100, [job("a", 100)]), running(VM2, 100, [job("b", 100)]), stopped(VM3)]
    chosen = pl.choose(GROOT_TRAIN, states)
    assert chosen.host is VM3 and chosen.start_first
    assert "vm-train3 is stopped and will be started" in chosen.reason
    assert "vm-train: busy with a" in chosen.reason and "vm-train2: busy with b" in chosen.reason


def test_auto_refuses_when_nothing_is_free_naming_every_host():
    states = [running(DESKTOP), running(VM1, 100, [job("a", 100)]),
              pl.HostState(VM2, "unreachable", detail="no SSH answer")]
    with pytest.raises(InputError) as info:
        pl.choose(GROOT_TRAIN, states)
    assert "vm-train: busy with a" in info.value.message
    assert "vm-train2: unreachable: no SSH answer" in info.value.message
    assert "--host" in info.value.fix


def test_auto_prefers_the_smallest_gpu_that_fits():
    # A GR00T server fits the desktop: the H100s stay free for work that needs them.
    chosen = pl.choose(GROOT_SERVER, [running(VM1), running(DESKTOP), running(VM2)])
    assert chosen.host is DESKTOP


def test_auto_does_not_start_a_vm_while_a_running_host_is_free():
    chosen = pl.choose(GROOT_TRAIN, [stopped(VM1), running(VM2)])
    assert chosen.host is VM2 and not chosen.start_first


def _output(smi: str, containers: list[str] = (), ss: str = "") -> str:
    """What snapshot.BODY prints on a host (the gate's head)."""
    return snapshot_output(smi, containers, ss)


def _row(job_id, state="running", status="Up 1 minute", ports="", service="groot-server", mem="6144"):
    import json

    labels = [job_id, service, "serve", "[]", "u", "2026-01-01T00:00:00Z", mem, "", "", "", "", "", "", "rt"]
    return json.dumps(["c-" + job_id, job_id or "foreign", state, status, ports, *labels])


def test_host_state_is_a_view_of_the_snapshot():
    """Placement reads the snapshot: GPU memory summed, busy = the rt.job containers holding the host."""
    snap = parse("vm-train", _output("A, 100, 10, 0\nB, 200, 20, 0\n",
                                     [_row("j1", ports="0.0.0.0:9000->9000/tcp"),
                                      _row("old", state="exited", status="Exited (0) 2 hours ago"),
                                      _row("", service="", mem="")]))
    state = pl.HostState.of(VM1, snap)
    assert (state.power, state.gpu_total_mb, state.gpu_used_mb, state.free_mb) == ("running", 300, 30, 270)
    assert [j.job_id for j in state.jobs] == ["j1"] and state.jobs[0].gpu_mem_mb == 6144
    assert state.jobs[0].published == (9000,) and state.snapshot is snap and state.startable
    # nvidia-smi failed: running, GPU memory unknown, and memory_problem says so
    blind = pl.HostState.of(DESKTOP, parse("desktop", _output("sh: nvidia-smi: not found\n").replace(
        "smi 0", "smi 127")))
    assert blind.power == "running" and blind.free_mb is None and "127" in blind.detail
    assert "GPU memory unknown" in pl.memory_problem(blind, 1000)


def test_placement_reads_nvidia_smi_as_captured_on_a_real_gpu():
    """tests/data/nvidia_smi_h200_*.txt: the output of the real nvidia-smi on an H200 (driver 580)."""
    data = DATA
    query = (data / "nvidia_smi_h200_query.txt").read_text()
    assert "143771MiB" in (data / "nvidia_smi_h200_full.txt").read_text()  # the same GPU, the human table
    state = pl.HostState.of(VM1, parse("vm-train", _output(query)))
    assert (state.gpu_total_mb, state.gpu_used_mb, state.detail) == (143771, 0, "")


def test_probe_reads_a_sandbox_hosts_gpu_and_jobs(sandbox):
    inventory = load_inventory(Path(sandbox["hosts_file"]))
    runner = RemoteRunner(inventory)
    host = inventory.get("vm-train3")
    name = f"rt-test-probe-{uuid.uuid4().hex[:6]}"
    try:
        before = pl.probe(runner, host)
        assert before.power == "running" and before.gpu_total_mb == 81559
        runner.run(host, ["docker", "run", "-d", "--gpus", "all", "--name", name, "--label", f"rt.job={name}",
                          "--label", "rt.service=groot-server", "--label", "rt.gpu_mem_mb=6144",
                          sandbox["base_image"], "sleep", "120"], timeout=120)
        after = pl.probe(runner, host)
        assert any(j.job_id == name and j.gpu_mem_mb == 6144 for j in after.jobs)
        assert after.gpu_used_mb - before.gpu_used_mb >= 6144  # other jobs may come and go
    finally:
        runner.run(host, ["docker", "rm", "-f", name], check=False)
        runner.close()


# -- --host auto on the sandbox -----------------------------------------------------------
def auto_inventory(sandbox, tmp_path):
    """vm-train as the sandbox has it (Nebius stand-in) and vm-train3 behind a command provider that
    really powers the sandbox host off and on (sshd and engine gone, as on a stopped VM)."""
    import shlex
    import sys

    import yaml

    source = Path(sandbox["hosts_file"])
    data = yaml.safe_load(source.read_text())
    for key in ("ssh_config", "known_hosts"):
        data[key] = str(source.parent / data[key])
    data.pop("compose_project", None)
    root = str(sandbox["root"])

    def fleet_call(expression: str) -> str:
        code = f"from rt_sandbox import fleet; {expression}"
        return shlex.join([sys.executable, "-c", code])

    vm3 = dict(data["hosts"]["vm-train3"])
    vm3["provider"] = {"type": "command", "start": fleet_call(f"fleet.start_host({root!r}, 'vm-train3')"),
                       "stop": fleet_call(f"fleet.stop_host({root!r}, 'vm-train3')"),
                       "state": fleet_call(f"print('running' if fleet.host_is_up({root!r}, 'vm-train3') "
                                           "else 'stopped')"),
                       "timeout": 120}
    data["hosts"] = {"vm-train": data["hosts"]["vm-train"], "vm-train3": vm3}
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_inventory(path)


def vm3_is_up(sandbox) -> bool:
    from rt_sandbox import fleet

    return fleet.host_is_up(Path(sandbox["root"]), "vm-train3")


@pytest.fixture
def vm3_off(sandbox):
    """vm-train3 powered off for the test, and on again afterwards (other tests expect it up)."""
    from rt_sandbox import fleet

    fleet.stop_host(Path(sandbox["root"]), "vm-train3")
    yield
    if not fleet.host_is_up(Path(sandbox["root"]), "vm-train3"):
        fleet.start_host(Path(sandbox["root"]), "vm-train3")


@pytest.fixture
def busy(sandbox):
    """Make a host busy with a job-labelled container (removed after the test)."""
    made = []

    def occupy(runner, host_name):
        name = f"rt-test-busy-{uuid.uuid4().hex[:6]}"
        runner.run(host_name, ["docker", "run", "-d", "--gpus", "all", "--name", name, "--label", f"rt.job={name}",
                               "--label", "rt.service=groot-train", "--label", "rt.gpu_mem_mb=60000",
                               sandbox["base_image"], "sleep", "300"], timeout=120)
        made.append((runner, host_name, name))
        return name

    yield occupy
    for runner, host_name, name in made:
        runner.run(host_name, ["docker", "rm", "-f", name], check=False)
        runner.close()


def test_auto_skips_a_busy_sandbox_vm_and_picks_the_free_one(sandbox, tmp_path, busy):
    inventory = auto_inventory(sandbox, tmp_path)  # vm-train3 is on
    runner = RemoteRunner(inventory)
    job = busy(runner, "vm-train")
    chosen = pl.place(GROOT_TRAIN, inventory, runner)
    assert chosen.host.name == "vm-train3" and not chosen.start_first
    assert f"vm-train: busy with {job}" in chosen.skipped


def test_auto_starts_the_stopped_vm_only_when_the_running_one_is_busy(sandbox, tmp_path, busy, vm3_off):
    """Placement picks the stopped VM only when the running one is busy; the provision stage starts it,
    before the checks, which then only check (and find it running)."""
    from remote_training import preflight
    from remote_training.guard import LaunchGuard
    from remote_training.jobs.spec import JobSpec
    from remote_training.targets.fleet import for_host

    inventory = auto_inventory(sandbox, tmp_path)
    runner = RemoteRunner(inventory)
    spec = JobSpec(job_id=f"auto-{uuid.uuid4().hex[:6]}", service="groot-train", kind="train", host="auto",
                   args=("--modality_config=ee_rot6d_q",), image=sandbox["base_image"], program=GROOT_TRAIN,
                   layout="groot", options={"modality": "ee_rot6d_q"})
    said: list[str] = []
    guard = LaunchGuard(runner, inventory, ledger=None, echo=said.append, check_image=False)
    # vm-train is free: it is chosen and the stopped vm-train3 stays off.
    placed = guard.place(spec)
    assert placed.host == "vm-train" and not vm3_is_up(sandbox)
    for_host(inventory, runner, placed.host).provision(placed.host, auto_start=True, dry_run=False, echo=said.append)
    assert not vm3_is_up(sandbox) and not any(line.startswith("provision:") for line in said)
    # vm-train busy: vm-train3 is placed, and the checks alone only report it stopped.
    job = busy(runner, "vm-train")
    placed = guard.place(spec)
    assert placed.host == "vm-train3" and f"every running eligible host is taken (vm-train: busy with {job})" in \
        said[-1]
    with pytest.raises(preflight.PreflightError) as refused:
        guard.keep(placed, preflight.run_preflight(placed, **guard.checks(placed)))
    assert refused.value.report.startable == "vm-train3" and not vm3_is_up(sandbox)
    # vm.auto_start off: provision leaves it off; on: it is started, said, and the checks pass on it.
    target = for_host(runner.inventory, runner, placed.host)
    target.provision(placed.host, auto_start=False, dry_run=False, echo=said.append)
    assert not vm3_is_up(sandbox)
    target.provision(placed.host, auto_start=True, dry_run=False, echo=said.append)
    assert vm3_is_up(sandbox) and said[-1] == "provision: vm-train3 was stopped and has been started"
    guard.keep(placed, preflight.run_preflight(placed, **guard.checks(placed)))
    assert guard.reports[spec.job_id].host_state.power == "running"


def test_a_dry_run_notes_a_stopped_vm_and_starts_nothing(sandbox, tmp_path, vm3_off):
    from remote_training import preflight
    from remote_training.jobs.spec import JobSpec

    inventory = auto_inventory(sandbox, tmp_path)
    runner = RemoteRunner(inventory, dry_run=True)
    spec = JobSpec(job_id=f"dry-{uuid.uuid4().hex[:6]}", service="groot-train", kind="train", host="vm-train3",
                   args=(), image=sandbox["base_image"], program=GROOT_TRAIN, layout="groot")
    report = preflight.run_preflight(spec, runner, inventory, dry_run=True)
    assert "vm-train3 is stopped; a real launch starts it first (GPU and port unchecked)" in report.notes
    assert not vm3_is_up(sandbox)
    from remote_training.targets.fleet import for_host

    said: list[str] = []
    for_host(inventory, runner, "vm-train3").provision("vm-train3", auto_start=True, dry_run=True, echo=said.append)
    assert said == ["provision: vm-train3 is stopped: a real launch starts it here, before the checks"]
    assert not vm3_is_up(sandbox)
