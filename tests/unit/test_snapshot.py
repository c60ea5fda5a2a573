"""The host snapshot (remote_training/fleet/snapshot.py): its one command, its parsers, and what its readers see.

Pure tests on text as the command prints it (and on nvidia-smi as captured on a real H200), then the
command on real sandbox hosts: docker's own JSON rendering of a hostile label, a failing nvidia-smi,
a host that does not answer.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from remote_training import preflight
from remote_training.errors import RemoteCommandError, UnreachableError
from remote_training.fleet import snapshot as sn
from remote_training.fleet.inventory import Host, ProviderConfig, load_inventory, parse_inventory
from remote_training.fleet.remote import FanOut, RemoteRunner
from tests.fakessh import container_row as row
from tests.fakessh import snapshot_output as output
from tests.support import DATA


# -- nvidia-smi ------------------------------------------------------------------------
def test_one_parser_reads_nvidia_smi_as_captured_on_a_real_h200():
    """tests/data/nvidia_smi_h200_*.txt: the real nvidia-smi on an H200 (driver 580)."""
    query = (DATA / "nvidia_smi_h200_query.txt").read_text()
    assert "143771MiB" in (DATA / "nvidia_smi_h200_full.txt").read_text()  # the same GPU, the human table
    assert sn.parse_smi(query) == (sn.Gpu("NVIDIA H200", 143771, 0, 0),)
    snap = sn.parse("h200", output(query))
    assert (snap.gpu, snap.gpu_total_mb, snap.gpu_used_mb, snap.gpu_util_pct, snap.smi_error) == (
        "NVIDIA H200", 143771, 0, 0, "")


def test_many_gpus_sum_memory_and_report_the_busiest():
    two = "NVIDIA H100 80GB HBM3, 81559, 100, 0\nNVIDIA H100 80GB HBM3, 81559, 200, 50\n"
    snap = sn.parse("vm", output(two))
    assert (snap.gpu, snap.gpu_total_mb, snap.gpu_used_mb, snap.gpu_util_pct) == (
        "2x NVIDIA H100 80GB HBM3", 163118, 300, 50)
    assert sn.parse_smi("Quadro, rev 2, 1000, 10, 5\n") == (sn.Gpu("Quadro, rev 2", 1000, 10, 5),)  # comma in a name


def test_na_fields_are_unknown_per_gpu():
    text = "NVIDIA H100 80GB HBM3, 81559, 6144, [N/A]\nNVIDIA A10, [N/A], [N/A], 7\nNVIDIA L4, 23034, 34, 0\n"
    gpus = sn.parse_smi(text)
    assert gpus[0] == sn.Gpu("NVIDIA H100 80GB HBM3", 81559, 6144, None)
    assert gpus[1] == sn.Gpu("NVIDIA A10", None, None, 7) and gpus[1].free_mb is None
    snap = sn.parse("vm", output(text))
    assert snap.gpu_util_pct is None  # an unknown utilization is unknown, not 0 (the reaper keeps the VM)
    assert (snap.gpu_total_mb, snap.gpu_used_mb) == (81559 + 23034, 6144 + 34)  # the others' memory still counts


def test_a_failing_nvidia_smi_is_an_error_not_a_gpu():
    assert sn.parse_smi("nvidia-smi: command not found\nNVIDIA-SMI has failed, because, it, broke\n") == ()
    snap = sn.parse("d", output("sh: 1: nvidia-smi: not found\n", [row("c", job="j")], smi_status=127))
    assert snap.gpus == () and "exited 127" in snap.smi_error and "not found" in snap.smi_error
    assert snap.gpu_total_mb is None and snap.gpu_util_pct is None and [j.job_id for j in snap.jobs] == ["j"]


# -- containers --------------------------------------------------------------------------
def test_containers_every_state_labelled_or_not():
    rows = [row("srv", job="srv-1", ports="0.0.0.0:9000->9000/tcp, :::9000->9000/tcp", rt_service="groot-server",
                rt_kind="serve", rt_port="9000", rt_gpu_mem_mb="6144", rt_args='["--port=9000"]',
                **{"com.docker.compose.project": "rt"}),
            row("train-1", job="train-1", state="exited", status="Exited (137) 3 minutes ago", rt_kind="train"),
            row("made", job="made-1", state="created", status="Created"),
            row("nginx", ports="127.0.0.1:8000-8002->80-82/tcp, 5000/tcp")]
    snap = sn.parse("vm", output(rows=rows))
    assert [c.name for c in snap.containers] == ["srv", "train-1", "made", "nginx"]
    assert [j.job_id for j in snap.jobs] == ["srv-1", "train-1", "made-1"]
    assert [j.job_id for j in snap.active_jobs] == ["srv-1"]  # exited and created hold nothing
    srv, done, made, nginx = snap.containers
    assert (srv.port, srv.gpu_mem_mb, srv.args, srv.project, srv.published) == (9000, 6144, ("--port=9000",), "rt",
                                                                                (9000,))
    assert (done.exit_code, done.finished, done.running) == (137, "3 minutes ago", False)
    assert made.running and made.exit_code is None and not made.active
    assert nginx.published == (8000, 8001, 8002) and not nginx.job_id
    assert [c.name for c in snap.holders(8001)] == ["nginx"] and snap.holders(5000) == ()


def test_a_bad_line_costs_its_row_only():
    rows = [row("good", job="j1"), '["truncated", "row"', "not json at all", json.dumps(["too", "short"]),
            json.dumps([1] * (len(sn.FIELDS) + len(sn.LABELS))), row("also-good", job="j2", rt_args="{not a list")]
    snap = sn.parse("vm", output(rows=rows))
    assert [c.job_id for c in snap.containers] == ["j1", "j2"] and snap.bad_rows == 4
    assert snap.containers[1].args == ()


def test_docker_failure_and_an_incomplete_answer():
    snap = sn.parse("vm", output(rows=["Cannot connect to the Docker daemon"], docker_status=1))
    assert snap.containers == () and "exited 1" in snap.docker_error and "Cannot connect" in snap.docker_error
    with pytest.raises(RemoteCommandError, match="could not list containers"):
        snap.require_docker()
    with pytest.raises(RemoteCommandError, match="incomplete"):
        sn.parse("vm", output(end=False))
    with pytest.raises(RemoteCommandError, match="incomplete"):
        sn.parse("vm", "")


def test_listening_ports_from_ss():
    ss = ("LISTEN 0      4096   0.0.0.0:22    0.0.0.0:*\nLISTEN 0 511 [::]:8080 [::]:*\n"
          "LISTEN 0 5 127.0.0.1%lo:9555 0.0.0.0:*\nLISTEN 0 128 *:7000 *:*\n")
    snap = sn.parse("vm", output(ss=ss))
    assert snap.listening == {22, 8080, 9555, 7000} and snap.listens(8080) and snap.listens(81) is False
    assert sn.parse("vm", output(ss="ss: not found\n", ss_status=127)).listens(22) is None  # unknown


def test_a_group_splits_like_fabrics():
    snap, other = sn.parse("a", output()), sn.parse("c", output())
    group = FanOut({"a": snap, "c": other}, {"b": UnreachableError("b: no answer", "x")})
    group.fail("c", RemoteCommandError("c: could not list containers", "check docker"))
    assert group.succeeded == {"a": snap} and list(group.failed) == ["b", "c"]


# -- preflight's port check is a function of the snapshot -------------------------------
def _spec(port, service="groot-server", replace=False):
    return SimpleNamespace(port=port, service=service, replace=replace)


def test_port_check_reads_published_ports_then_ss():
    host = Host("vm", "root@vm", "H100", 80, ProviderConfig("static"))
    snap = sn.parse("vm", output(rows=[row("srv-1", job="srv-1", ports="0.0.0.0:9000->9000/tcp",
                                           rt_service="groot-server"),
                                       row("web", ports="0.0.0.0:8000->80/tcp")],
                                 ss="LISTEN 0 5 0.0.0.0:9000 0.0.0.0:*\nLISTEN 0 5 0.0.0.0:8000 0.0.0.0:*\n"
                                    "LISTEN 0 5 0.0.0.0:7777 0.0.0.0:*\n"))
    report = preflight.PreflightReport(None)
    assert preflight.check_port(snap, host, _spec(None), report) == []
    assert preflight.check_port(snap, host, _spec(9100), report) == []
    [(check, problem, fix)] = preflight.check_port(snap, host, _spec(9000), report)
    assert problem == "port 9000 on vm is held by container srv-1 (job srv-1, groot-server)" and "--replace" in fix
    assert preflight.check_port(snap, host, _spec(9000, replace=True), report) == [] and "--replace" in report.notes[0]
    [(_, problem, fix)] = preflight.check_port(snap, host, _spec(8000), report)
    assert "held by container web" in problem and "docker stop web" in fix
    [(_, problem, _)] = preflight.check_port(snap, host, _spec(7777), report)
    assert problem == "port 7777 on vm is taken by a process outside docker"


# -- the command on real hosts ----------------------------------------------------------
def test_the_command_is_one_and_reads_no_environment():
    assert sn.COMMAND[:2] == ["sh", "-c"] and sn.COMMAND[2].startswith(sn.BODY)
    assert "docker ps -a --no-trunc --format" in sn.BODY and "inspect" not in sn.BODY and ".Env" not in sn.BODY
    assert "nvidia-smi --query-gpu=name,memory.total,memory.used,utilization.gpu" in sn.BODY and "ss -Hltn" in sn.BODY


def test_take_reads_a_hostile_label_as_docker_renders_it(sandbox):
    inventory = load_inventory(Path(sandbox["hosts_file"]))
    runner = RemoteRunner(inventory)
    host = inventory.get("vm-train3")
    name = f"rt-test-snap-{uuid.uuid4().hex[:6]}"
    hostile = 'a\tb\nc "q" \\ \u2028 ","x'
    try:
        before = sn.take(runner, host)
        assert before.gpu_total_mb == 81559 and not before.smi_error and 22 in before.listening
        runner.run(host, ["docker", "run", "-d", "--gpus", "all", "--name", name, "--label", f"rt.job={name}",
                          "--label", f"rt.user={hostile}", "--label", "rt.args=[\"--x=1\\t2\"]",
                          "--label", "rt.gpu_mem_mb=6144", "-p", "18777:80", sandbox["base_image"], "sleep", "120"],
                   timeout=120)
        after = sn.take(runner, host)
        [mine] = [c for c in after.containers if c.name == name]
        assert (mine.job_id, mine.user, mine.args, mine.gpu_mem_mb, mine.state) == (
            name, hostile, ("--x=1\t2",), 6144, "running")
        assert 18777 in mine.published and mine in after.active_jobs and after.bad_rows == 0
        assert len(mine.container) == 64 and mine.exit_code is None
        assert after.gpu_used_mb - before.gpu_used_mb >= 6144  # the nvidia-smi stand-in counts the reservation
        runner.run(host, ["docker", "stop", "--time", "0", name], timeout=60)
        [ended] = [c for c in sn.take(runner, host).containers if c.name == name]
        assert ended.state == "exited" and ended.exit_code is not None and ended.finished and not ended.active
    finally:
        runner.run(host, ["docker", "rm", "-f", name], check=False)
        runner.close()


def test_the_command_without_nvidia_smi_still_lists_containers_and_leaves_no_file(sandbox):
    inventory = load_inventory(Path(sandbox["hosts_file"]))
    runner = RemoteRunner(inventory)
    try:
        scratch = runner.run("desktop", ["mktemp", "-d"]).stdout.strip()
        ok = runner.run("desktop", sn.COMMAND, env={"TMPDIR": scratch})
        assert sn.parse("desktop", ok.stdout).gpu_total_mb == 12288  # the 12 GB desktop
        # No nvidia-smi on the PATH (the stand-in lives in /usr/local/sbin): its status, not docker's.
        broken = runner.run("desktop", sn.COMMAND, env={"PATH": "/usr/local/bin:/usr/bin:/bin", "TMPDIR": scratch},
                            check=False)
        snap = sn.parse("desktop", broken.stdout)
        assert broken.exit_status == 127 and "exited 127" in snap.smi_error and not snap.docker_error
        assert len(snap.containers) == len(sn.parse("desktop", ok.stdout).containers)
        assert runner.run("desktop", ["ls", "-A", scratch]).stdout == ""  # each run removed its temp folder
        runner.run("desktop", ["rmdir", scratch])
    finally:
        runner.close()


def test_take_all_reports_a_dead_host_and_the_others(sandbox, tmp_path):
    import yaml

    source = Path(sandbox["hosts_file"])
    data = yaml.safe_load(source.read_text())
    for key in ("ssh_config", "known_hosts"):
        data[key] = str(source.parent / data[key])
    data["hosts"] = {"desktop": data["hosts"]["desktop"],
                     "ghost": {"ssh": "root@127.0.0.1:9", "gpu": "H100", "gpu_memory_gb": 80}}
    inventory = parse_inventory(yaml.safe_dump(data), tmp_path / "hosts.yaml")
    runner = RemoteRunner(inventory, connect_timeout=3)
    try:
        group = sn.take_all(runner, inventory.hosts, deadline=15)
    finally:
        runner.close()
    assert list(group.succeeded) == ["desktop"] and list(group.failed) == ["ghost"]
    assert group.succeeded["desktop"].gpu_total_mb == 12288
