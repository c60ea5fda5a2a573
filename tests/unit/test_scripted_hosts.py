"""Logic that needs an SSH answer but no real host, through the real RemoteRunner and Fabric over scripted
hosts (tests/fakessh.py): the snapshot as read over SSH, remote.py's errors, and vm.reap's decisions."""
from __future__ import annotations

import time
from pathlib import Path

import paramiko
import pytest

from remote_training.errors import RemoteCommandError, UnreachableError
from remote_training.fleet import idle, snapshot
from remote_training.fleet.inventory import parse_inventory
from remote_training.fleet.remote import KEEPALIVE_S, RemoteRunner, quote_command
from tests.fakessh import Command, FakeSsh, Session, container_row, snapshot_output

H100 = "NVIDIA H100 80GB HBM3, 81559, {used}, {util}\n"


def _runner(tmp_path: Path, hosts: str) -> RemoteRunner:
    (tmp_path / "ssh_config").write_text("")  # no ~/.ssh/config of this machine's user in the way
    (tmp_path / "known_hosts").write_text("")
    text = f"ssh_config: ssh_config\nknown_hosts: known_hosts\nhosts:\n{hosts}"
    return RemoteRunner(parse_inventory(text, tmp_path / "hosts.yaml"), connect_timeout=5)


def test_a_snapshot_over_ssh_reads_the_hosts_jobs_and_gpu(tmp_path):
    runner = _runner(tmp_path, "  box:\n    ssh: root@127.0.0.1:2201\n    gpu_memory_gb: 80\n")
    answer = snapshot_output(H100.format(used=6144, util=87),
                             [container_row("groot-train-1", job="groot-train-1", rt_service="groot-train",
                                            rt_kind="train"),
                              container_row("old", job="old", state="exited", status="Exited (0) 1 hour ago")])
    with FakeSsh(Session("127.0.0.1", 2201, "root", [Command(r"nvidia-smi", out=answer)])) as ssh:
        snap = snapshot.take(runner, runner.inventory.get("box"))
    ssh.assert_all_ran()
    assert [j.job_id for j in snap.active_jobs] == ["groot-train-1"]
    assert (snap.gpu_total_mb, snap.gpu_used_mb, snap.gpu_util_pct) == (81559, 6144, 87)
    # what went over the wire: the one quoted command, to the inventory's user and port, host keys checked
    assert ssh.sessions[0].ran == [quote_command(snapshot.COMMAND)]
    assert [(c["hostname"], c["port"], c["username"]) for c in ssh.connected] == [("127.0.0.1", 2201, "root")]
    assert isinstance(ssh.clients[0].policy, paramiko.RejectPolicy)
    assert ssh.clients[0].transport.keepalive == KEEPALIVE_S


def test_a_failed_remote_command_is_one_error_with_its_status_and_last_line(tmp_path):
    runner = _runner(tmp_path, "  box:\n    ssh: root@127.0.0.1:2201\n    gpu_memory_gb: 80\n")
    with FakeSsh(Session("127.0.0.1", 2201, commands=[
            Command(r"^docker rm ", err="Error response from daemon: No such container: j1\n", exit=1),
            Command(r"^docker rm ", err="busy\n", exit=1)])):
        with pytest.raises(RemoteCommandError) as caught:
            runner.run("box", ["docker", "rm", "j1"])
        assert caught.value.exit_status == 1 and "No such container: j1" in str(caught.value)
        bounded = runner.run("box", ["docker", "rm", "j2"], check=False, timeout=10)  # remote.Exec: select()
    assert (bounded.exit_status, bounded.stderr) == (1, "busy\n")


def test_a_host_nobody_listens_on_is_unreachable_with_the_fix(tmp_path):
    runner = _runner(tmp_path, "  gone:\n    ssh: root@127.0.0.1:2299\n    gpu_memory_gb: 80\n")
    with FakeSsh(), pytest.raises(UnreachableError) as caught:
        runner.run("gone", ["true"])
    assert "connection refused" in str(caught.value) and "inv vm.start gone" in caught.value.fix


def test_reap_keeps_a_busy_vm_and_would_stop_one_idle_for_the_whole_window(tmp_path):
    vm = ("    gpu_memory_gb: 80\n    provider: {type: command, start: 'true', stop: 'true', state: 'echo running'}\n")
    runner = _runner(tmp_path, f"  busy:\n    ssh: root@127.0.0.1:2201\n{vm}"
                               f"  quiet:\n    ssh: root@127.0.0.1:2202\n{vm}"
                               "  desk:\n    ssh: root@127.0.0.1:2203\n    gpu_memory_gb: 12\n")
    store = idle.SampleStore(tmp_path / "idle")
    now = time.time()
    for name in ("busy", "quiet"):  # both idle an hour ago: only what the host says now differs
        store.add(name, idle.Sample(now - 3700, "running", True, 0, 0, True))
    working = snapshot_output(H100.format(used=30000, util=95),
                              [container_row("groot-train-1", job="groot-train-1", rt_kind="train")])
    with FakeSsh(Session("127.0.0.1", 2201, commands=[Command(out=working)]),
                 Session("127.0.0.1", 2202, commands=[Command(out=snapshot_output(H100.format(used=0, util=0)))])
                 ) as ssh:
        decisions = idle.reap(runner, list(runner.inventory.hosts), window=3600, max_gap=7200,
                              dry_run=True, store=store)
    ssh.assert_all_ran()
    by_host = {d.host: d for d in decisions}
    assert by_host["desk"].action == "skipped"  # static: no power switch, never asked over SSH
    assert by_host["busy"].action == "kept" and "busy now" in by_host["busy"].reason
    assert by_host["quiet"].action == "would stop", by_host["quiet"]
    assert [s.idle for s in store.load("quiet", now)] == [True, True]  # the new sample was kept for the next run


def test_clean_counts_only_what_docker_said_it_removed_and_keeps_the_rest_with_dockers_line(tmp_path):
    from remote_training.jobs import monitor

    runner = _runner(tmp_path, "  box:\n    ssh: root@127.0.0.1:2201\n    gpu_memory_gb: 80\n")
    listing = snapshot_output(H100.format(used=0, util=0), [
        container_row("a", job="a", state="exited", status="Exited (0) 1 hour ago"),
        container_row("b", job="b", state="exited", status="Exited (1) 2 hours ago"),
        container_row("c", job="c")])  # running: never touched
    refusal = 'Error response from daemon: cannot remove container "/b": container is restarting: stop it first\n'
    with FakeSsh(Session("127.0.0.1", 2201, commands=[
            Command(r"nvidia-smi", out=listing),
            Command(r"^docker rm id-a id-b$", out="id-a\n", err=refusal, exit=1)])) as ssh:
        jobs, group = monitor.list_jobs(runner, [runner.inventory.get("box")])
        removed, kept = monitor.remove_finished(runner, [j for j in jobs if j.state in monitor.FINISHED])
    ssh.assert_all_ran()
    assert not group.failed
    assert [j.job_id for j in removed] == ["a"]
    assert [(j.job_id, why) for j, why in kept] == [("b", refusal.strip())]
