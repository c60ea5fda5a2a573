"""The vm domain on the sandbox: real sshd/dockerd hosts, powered through the real nebius SDK
talking to the loopback API stand-in that sandbox.up runs.

The VM these tests stop and start is vm-train3 (the spare one); vm-train2 only gets a
labelled busy container for a moment. Every test leaves vm-train3 running.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from remote_training.errors import InputError, UnreachableError
from remote_training.fleet import lifecycle
from remote_training.fleet.fleet_status import fleet_status
from remote_training.fleet.idle import SampleStore, reap
from remote_training.fleet.inventory import load_inventory, parse_inventory
from remote_training.fleet.providers import State
from remote_training.fleet.remote import RemoteRunner
from rt_sandbox import fleet
from rt_sandbox.nebius_process import sandbox_instance_id
from tests.support import ROOT, cli_argv, run_cli

SPARE, BUSY = "vm-train3", "vm-train2"


@pytest.fixture()
def spare_lock(sandbox):
    """One test at a time powers vm-train3, even when two runs of this file overlap."""
    import fcntl

    with open(ROOT / ".sandbox" / "vm-spare.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield
        fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture()
def runner(sandbox, spare_lock):
    r = RemoteRunner(load_inventory(sandbox["hosts_file"]), connect_timeout=5)
    lifecycle.start(r, r.inventory.get(SPARE), timeout=300)  # whatever an earlier test left behind
    yield r
    r.close()


@pytest.fixture()
def control(sandbox):
    """The stand-in's control file; emptied again afterwards."""
    path = ROOT / ".sandbox" / "nebius" / "control.json"

    def set_(**flags) -> None:
        path.write_text(json.dumps(flags))

    yield set_
    path.unlink(missing_ok=True)


def inv(sandbox, tmp_path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "INVOKE_HOSTS_FILE": str(sandbox["hosts_file"]),
           "INVOKE_VM_STATE_DIR": str(tmp_path / "state"),
           "DOCKER_CONFIG": str(tmp_path / "docker"), **extra}
    return run_cli(*args, env=env, timeout=400)


def start_job_container(r: RemoteRunner, host: str, sandbox) -> str:
    name = f"rt-test-{uuid.uuid4().hex[:8]}"
    r.run(host, ["docker", "run", "-d", "--gpus", "all", "--name", name, "--label", f"rt.job={name}",
                 "--label", "rt.kind=train", "--label", "rt.gpu_mem_mb=6144", sandbox["base_image"], "sleep", "600"],
          timeout=60)
    return name


def server_address(r: RemoteRunner, host: str) -> str:
    """The address this SSH session really reached, as the server saw it."""
    return r.run(host, ["sh", "-c", "echo $SSH_CONNECTION"], timeout=30).stdout.split()[2]


def test_stop_refuses_busy_vm_then_stop_start_capacity(sandbox, runner, control, tmp_path):
    spare = runner.inventory.get(SPARE)
    job = start_job_container(runner, SPARE, sandbox)
    refused = inv(sandbox, tmp_path, "vm.stop", "train3")
    assert refused.returncode == 2, refused.stderr
    assert "busy" in refused.stderr and job in refused.stderr and "--force" in refused.stderr
    assert fleet.host_is_up(ROOT, SPARE)  # nothing was stopped
    with pytest.raises(InputError, match="busy"):
        lifecycle.stop(runner, spare)

    stopped = inv(sandbox, tmp_path, "vm.stop", "train3", "--force")
    assert stopped.returncode == 0 and "STOPPED" in stopped.stdout, stopped.stderr
    assert not fleet.host_is_up(ROOT, SPARE)
    assert lifecycle.provider(runner, spare).state().state is State.STOPPED
    assert lifecycle.stop(runner, spare).state is State.STOPPED  # idempotent

    control(capacity_error=[sandbox_instance_id(SPARE)])
    no_gpu = inv(sandbox, tmp_path, "vm.start", "train3")
    assert no_gpu.returncode == 7, no_gpu.stderr
    assert "no free GPU" in no_gpu.stderr and "reservation" in no_gpu.stderr
    control()

    started = lifecycle.start(runner, spare, timeout=300)
    assert not started.was_running and started.status.state is State.RUNNING
    assert runner.run(SPARE, ["docker", "ps", "-q"], timeout=30).stdout == ""  # the job died with the VM
    again = inv(sandbox, tmp_path, "vm.start", "train3")
    assert again.returncode == 0 and "already running" in again.stdout


def test_new_address_after_restart(sandbox, runner, control):
    spare = runner.inventory.get(SPARE)
    base = sandbox["hosts"][SPARE]["address"]
    before = lifecycle.provider(runner, spare).state().address
    control(new_address_on_restart=True)
    try:
        lifecycle.stop(runner, spare)
        started = lifecycle.start(runner, spare, timeout=300)
        moved = started.status.address
        assert moved and moved != before
        assert server_address(runner, SPARE) == moved  # this runner followed it
        fresh = RemoteRunner(load_inventory(sandbox["hosts_file"]), connect_timeout=5)  # a later command
        lifecycle.ensure_running(fresh, SPARE)
        assert server_address(fresh, SPARE) == moved
        fresh.close()
    finally:  # one more restart (still asking for a new address) brings it back to its own
        if lifecycle.provider(runner, spare).state().address != base:
            lifecycle.stop(runner, spare)
            lifecycle.start(runner, spare, timeout=300)
        control()
    assert lifecycle.provider(runner, spare).state().address == base and server_address(runner, SPARE) == base


def test_ensure_running_auto_starts(sandbox, runner):
    spare = runner.inventory.get(SPARE)
    lifecycle.stop(runner, spare)
    with pytest.raises(UnreachableError, match="auto-start is off"):
        lifecycle.ensure_running(runner, SPARE, auto_start=False)
    host = lifecycle.ensure_running(runner, SPARE)
    assert runner.run(host, ["hostname"], timeout=30).stdout.strip() == SPARE


def test_status_with_one_host_down_answers_within_connect_timeout(sandbox, tmp_path):
    text = Path(sandbox["hosts_file"]).read_text()
    silent = sandbox["bridge_address"].rsplit(".", 1)[0] + ".250"  # nobody holds it: SYNs go unanswered
    text += f"  ghost:\n    ssh: root@{silent}\n    gpu: H100\n    gpu_memory_gb: 80\n"
    (tmp_path / "hosts.yaml").write_text(text.replace("ssh_config: ssh_config", f"ssh_config: {sandbox['ssh_config']}")
                                         .replace("known_hosts: known_hosts", f"known_hosts: {sandbox['known_hosts']}"))
    r = RemoteRunner(load_inventory(tmp_path / "hosts.yaml"), connect_timeout=2)
    t0 = time.monotonic()
    rows = {s.name: s for s in fleet_status(r, list(r.inventory.hosts))}
    elapsed = time.monotonic() - t0
    assert elapsed < 2 + 2.5, f"status took {elapsed:.1f}s with a 2s connect timeout"
    assert rows["ghost"].reachable is False and "ghost" in rows["ghost"].error
    assert rows["desktop"].reachable is True, rows["desktop"].error
    for name in ("desktop", "vm-train", "vm-train2", "vm-train3"):
        if rows[name].state == "STOPPED":  # someone else's test powered it off meanwhile
            continue
        assert rows[name].reachable is True, rows[name].error
        assert rows[name].gpu_mem_total_mb and rows[name].gpu_util_pct is not None
    assert rows["vm-train"].provider == "nebius" and rows["vm-train"].state == "RUNNING"
    assert rows["desktop"].gpu == "NVIDIA GeForce RTX 3060"
    r.close()


def test_status_cli_shows_jobs_and_stopped_vm(sandbox, runner, tmp_path):
    job = start_job_container(runner, BUSY, sandbox)
    try:
        lifecycle.stop(runner, runner.inventory.get(SPARE))
        out = inv(sandbox, tmp_path, "vm.status", "--json")
        assert out.returncode == 0, out.stderr
        rows = {row["name"]: row for row in json.loads(out.stdout)}
        assert rows[SPARE]["state"] == "STOPPED" and rows[SPARE]["reachable"] is None
        busy = rows[BUSY]
        assert busy["busy"] and [j["job_id"] for j in busy["jobs"]] == [job]  # the snapshot's Job
        assert busy["gpu_mem_used_mb"] >= 6144 and busy["gpu_util_pct"] == 100
        table = inv(sandbox, tmp_path, "vm.status")
        assert job in table.stdout and "STOPPED" in table.stdout
    finally:
        runner.run(BUSY, ["docker", "rm", "-f", job], timeout=60)
        lifecycle.start(runner, runner.inventory.get(SPARE), timeout=300)


def test_status_and_jobs_tables_fit_80_columns(sandbox, remote, tmp_path):
    """With a job on a host, at COLUMNS=80: vm.status and jobs.list print no wider line, the job id whole."""
    job = start_job_container(remote, BUSY, sandbox)
    try:
        for task in ("vm.status", "jobs.list"):
            out = inv(sandbox, tmp_path, task, COLUMNS="80")
            assert out.returncode == 0 and job in out.stdout, out.stdout + out.stderr
            assert max(len(line) for line in out.stdout.splitlines()) <= 80, out.stdout
    finally:
        remote.run(BUSY, ["docker", "rm", "-f", job], timeout=60)


def test_reap_stops_idle_vm_and_leaves_busy_one(sandbox, runner, tmp_path):
    job = start_job_container(runner, BUSY, sandbox)
    hosts = [runner.inventory.get(BUSY), runner.inventory.get(SPARE)]
    store = SampleStore(tmp_path / "idle")
    try:
        first = {d.host: d for d in reap(runner, hosts, window=3, max_gap=30, store=store)}
        assert first[SPARE].action == "kept" and "history covers" in first[SPARE].reason
        assert first[BUSY].action == "kept" and "at work" in first[BUSY].reason and job in first[BUSY].reason
        time.sleep(3.5)
        dry = {d.host: d for d in reap(runner, hosts, window=3, max_gap=30, store=store, dry_run=True)}
        assert dry[SPARE].action == "would stop" and fleet.host_is_up(ROOT, SPARE)
        done = {d.host: d for d in reap(runner, hosts, window=3, max_gap=30, store=store)}
        assert done[SPARE].action == "stopped", done[SPARE].reason
        assert done[BUSY].action == "kept"
        assert not fleet.host_is_up(ROOT, SPARE) and fleet.host_is_up(ROOT, BUSY)
        assert len(store.load(BUSY)) == 3 and store.load(SPARE) == []  # history kept for the next run
    finally:
        runner.run(BUSY, ["docker", "rm", "-f", job], timeout=60)
        lifecycle.start(runner, runner.inventory.get(SPARE), timeout=300)


def test_reap_cli_keeps_samples_in_state_dir(sandbox, spare_lock, tmp_path):
    out = inv(sandbox, tmp_path, "vm.reap", "--idle", "1h", "--host", SPARE, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["action"] == "kept"
    lines = (tmp_path / "state" / "idle" / f"{SPARE}.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["state"] == "RUNNING"


def test_login_against_standin_and_dry_runs(sandbox, spare_lock, tmp_path):
    out = inv(sandbox, tmp_path, "vm.login")
    assert out.returncode == 0 and "logged in: user useraccount-sandbox" in out.stdout, out.stderr
    dry = inv(sandbox, tmp_path, "vm.stop", "train3", "--dry-run")
    assert dry.returncode == 0 and f"Stop(id={sandbox_instance_id(SPARE)})" in dry.stdout
    # Invoke's own --dry, even typed where the host name goes, is a dry run too, not a host name.
    core_dry = inv(sandbox, tmp_path, "vm.stop", "--dry", "train3")
    assert core_dry.returncode == 0 and f"Stop(id={sandbox_instance_id(SPARE)})" in core_dry.stdout, core_dry.stderr
    assert fleet.host_is_up(ROOT, SPARE)
    assert "would log in with no credentials" in inv(sandbox, tmp_path, "vm.login", "--dry-run").stdout
    waited = inv(sandbox, tmp_path, "vm.wait", "train3", "--timeout", "60")
    assert waited.returncode == 0 and "SSH answers" in waited.stdout, waited.stderr


def test_docker_contexts(sandbox, tmp_path):
    first = inv(sandbox, tmp_path, "vm.contexts")
    assert first.returncode == 0, first.stderr
    env = {**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker")}
    shown = subprocess.run(["docker", "context", "inspect", "vm-train2"], env=env, capture_output=True, text=True)
    assert json.loads(shown.stdout)[0]["Endpoints"]["docker"]["Host"] == "ssh://root@vm-train2"
    assert "up to date" in inv(sandbox, tmp_path, "vm.contexts").stdout
    subprocess.run(["docker", "context", "update", "desktop", "--docker", "host=ssh://root@elsewhere"], env=env,
                   check=True, capture_output=True)
    kept = inv(sandbox, tmp_path, "vm.contexts", "--host", "desktop")
    assert kept.returncode == 2 and "--force" in kept.stderr
    forced = inv(sandbox, tmp_path, "vm.contexts", "--host", "desktop", "--force")
    assert forced.returncode == 0 and "updated" in forced.stdout


def test_moved_address_must_show_the_pinned_key(sandbox, runner, tmp_path):
    """Following a VM to a new address never trusts a new key: another machine there is refused."""
    from remote_training.fleet.addresses import readdress
    from rt_sandbox.layout import host_specs
    from rt_sandbox.network import set_extra_address

    fresh = sandbox["bridge_address"].rsplit(".", 1)[0] + ".199"  # pinned to nobody yet
    spare_spec = next(s for s in host_specs(4) if s.name == SPARE)
    set_extra_address(spare_spec, fresh)  # vm-train3 (its own key) now also answers there
    try:
        inventory = load_inventory(sandbox["hosts_file"])
        moved = readdress(inventory, inventory.get(BUSY), fresh)  # claim vm-train2 moved there
        r = RemoteRunner(moved, connect_timeout=5)
        with pytest.raises(UnreachableError, match="Host key .* does not match"):
            r.run(BUSY, ["true"], timeout=30)
        assert r.run(SPARE, ["hostname"], timeout=30).stdout.strip() == SPARE  # the others are untouched
        r.close()
        honest = readdress(inventory, inventory.get(SPARE), fresh)  # the same machine: accepted there
        r = RemoteRunner(honest, connect_timeout=5)
        assert server_address(r, SPARE) == fresh
        r.close()
    finally:
        set_extra_address(spare_spec, None)
    bare = parse_inventory(f"hosts:\n  nokey: {{ssh: root@{fresh}, gpu_memory_gb: 80}}\n", tmp_path / "h.yaml")
    with pytest.raises(UnreachableError, match="no host key is pinned"):
        readdress(bare, bare.get("nokey"), sandbox["bridge_address"].rsplit(".", 1)[0] + ".198")


def test_the_api_restarted_in_the_middle_of_a_start_loses_nothing(sandbox, runner, tmp_path):
    """The Nebius API dies (kill -9) while vm.start waits on its operation, and comes back: the start
    carries on (the API keeps its operations) and vm.start ends with the VM running, within its bound."""
    from rt_sandbox import procs

    lifecycle.stop(runner, runner.inventory.get(SPARE))
    pid_file, log = ROOT / ".sandbox" / "pids" / "nebius.pid", ROOT / ".sandbox" / "logs" / "nebius.log"
    pid = procs.alive(pid_file, "--state-dir")
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().rstrip("\0").split("\0")
    env = {**os.environ, "INVOKE_HOSTS_FILE": str(sandbox["hosts_file"]),
           "INVOKE_VM_STATE_DIR": str(tmp_path / "state")}
    began = time.monotonic()
    start = subprocess.Popen(cli_argv("vm.start", "train3"), cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.6)  # the start was asked for; the stand-in is in its STARTING delay
    os.kill(pid, 9)
    time.sleep(2)  # the API is away for a while
    procs.start(argv, pid_file, log, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out, err = start.communicate(timeout=300)
    assert start.returncode == 0, out + err
    assert time.monotonic() - began < 120
    state = lifecycle.provider(runner, runner.inventory.get(SPARE)).state()
    assert state.state is State.RUNNING
    assert runner.run(SPARE, ["true"], timeout=30).exit_status == 0  # and it answers
