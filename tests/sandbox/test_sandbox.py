"""The sandbox fleet: hosts behave like separate machines; stand-in, stop/start, idempotence, recovery."""
from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from remote_training.fleet.inventory import load_inventory
from remote_training.fleet.remote import RemoteRunner
from rt_sandbox import fleet, procs, smi
from rt_sandbox.layout import Layout, host_specs
from tests.support import run_cli

SMI_QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,memory.used,utilization.gpu",
             "--format=csv,noheader,nounits"]
SPARE = "vm-train3"  # the host the stop/start and recovery tests power-cycle


def docker(sandbox, host: str, *args: str, check: bool = True) -> str:
    env = {**os.environ, "DOCKER_HOST": sandbox["hosts"][host]["docker_host"]}
    result = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout


def smi_values(remote, host: str) -> tuple[str, int, int, int]:
    line = remote.run(host, SMI_QUERY).stdout.strip()
    assert re.fullmatch(r"[^,]+, \d+, \d+, \d+", line), line
    name, total, used, util = [p.strip() for p in line.split(",")]
    return name, int(total), int(used), int(util)


def test_hosts_have_separate_engines_and_ports(sandbox, remote, tag):
    base = sandbox["base_image"]
    try:
        for host in ("desktop", "vm-train"):
            # each host serves its own name on port 9000: the second publish must not clash with the first
            remote.run(host, ["docker", "run", "-d", "--name", tag, "-p", "9000:9000", base, "sh", "-c",
                              f"mkdir -p /www && echo {host} > /www/index.html && httpd -f -p 9000 -h /www"])
        for host in ("desktop", "vm-train"):
            address = sandbox["hosts"][host]["address"]
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(f"http://{address}:9000/", timeout=2) as resp:
                        assert resp.read().decode().strip() == host
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"port 9000 on {host} never answered"
                    time.sleep(0.3)
        assert tag in docker(sandbox, "desktop", "ps", "--format", "{{.Names}}").split()
        assert tag in remote.run("vm-train", ["docker", "ps", "--format", "{{.Names}}"]).stdout.split()
        assert tag not in remote.run("vm-train2", ["docker", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
    finally:
        for host in ("desktop", "vm-train"):
            docker(sandbox, host, "rm", "-f", tag, check=False)
    assert tag not in docker(sandbox, "desktop", "ps", "-a", "--format", "{{.Names}}").split()


def test_hosts_have_separate_homes_and_names(sandbox, remote, tag):
    remote.run("desktop", ["sh", "-c", f"echo here > ~/{tag}"])
    try:
        assert remote.run("desktop", ["cat", f"/root/{tag}"]).stdout == "here\n"
        assert remote.run("vm-train2", ["test", "-e", f"/root/{tag}"], check=False).exit_status == 1
        assert remote.run("vm-train2", ["hostname"]).stdout.strip() == "vm-train2"
        # the host's engine resolves bind mounts in the host's file system, as compose volumes need
        mounted = remote.run("desktop", ["docker", "run", "--rm", "-v", "/root:/h", sandbox["base_image"],
                                         "cat", f"/h/{tag}"])
        assert mounted.stdout == "here\n"
        assert not (Path.home() / tag).exists(), "a host's home must not be this machine's"
    finally:
        remote.run("desktop", ["rm", "-f", f"/root/{tag}"])


def test_registry_and_s3_reachable_from_hosts_and_their_containers(sandbox, remote, tag):
    image = f"{sandbox['registry']}/rt-sandbox/{tag}:1"
    remote.run("desktop", ["docker", "tag", sandbox["base_image"], image])
    try:
        remote.run("desktop", ["docker", "push", image])
        remote.run("vm-train2", ["docker", "pull", "-q", image])
        # a container on a host reaches S3 at the published endpoint (through its engine's NAT)
        listing = remote.run("vm-train2", ["docker", "run", "--rm", image, "wget", "-q", "-O", "-",
                                           f"{sandbox['s3_endpoint']}/interim"]).stdout
        assert "<Name>interim</Name>" in listing
        # and an SSH session reaches it at localhost too, like this machine
        local = remote.run("desktop", ["docker", "run", "--rm", "--network", "host", image, "wget", "-q", "-O",
                                       "-", "http://127.0.0.1:9555/checkpoints"]).stdout
        assert "<Name>checkpoints</Name>" in local
    finally:
        for host in ("desktop", "vm-train2"):
            remote.run(host, ["docker", "rmi", "-f", image], check=False)
        _delete_from_registry(f"rt-sandbox/{tag}", "1")


def _delete_from_registry(repo: str, tag: str) -> None:
    """Drop a test tag from the sandbox registry (its storage allows deletes)."""
    url = f"http://127.0.0.1:5000/v2/{repo}/manifests"
    head = urllib.request.Request(f"{url}/{tag}", method="HEAD",
                                  headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    try:
        with urllib.request.urlopen(head, timeout=5) as resp:
            digest = resp.headers["Docker-Content-Digest"]
        urllib.request.urlopen(urllib.request.Request(f"{url}/{digest}", method="DELETE"), timeout=5).close()
    except OSError:
        pass  # already gone


def label_sum(remote, host: str) -> tuple[int, int]:
    """(sum of rt.gpu_mem_mb, number of such containers) over the running containers that requested a GPU
    (`--gpus`, compose's nvidia reservation), as the host's engine reports them: a real GPU's memory is held
    only by those."""
    import json

    ids = remote.run(host, ["docker", "ps", "-q", "--filter", f"label={smi.LABEL}"]).stdout.split()
    if not ids:
        return 0, 0
    out = remote.run(host, ["docker", "inspect", "--format",
                            '{{json .HostConfig.DeviceRequests}}\t{{index .Config.Labels "%s"}}' % smi.LABEL, *ids],
                     check=False).stdout  # a container may go between ps and inspect
    values = []
    for line in out.splitlines():
        requests, _, value = line.partition("\t")
        gpu = any(r.get("Driver") == "nvidia" or any("gpu" in caps for caps in r.get("Capabilities") or [])
                  for r in json.loads(requests or "null") or [])
        if gpu and value.strip().isdigit():
            values.append(int(value))
    return sum(values), len(values)


def consistent_smi(remote, host: str) -> tuple[int, int, int]:
    """(memory.used, utilization, label sum) read while nothing else changed on the host
    (other test sessions may start jobs there too)."""
    for _ in range(10):
        before = label_sum(remote, host)
        _, _, used, util = smi_values(remote, host)
        if label_sum(remote, host) == before:
            return used, util, before[0]
    raise AssertionError(f"{host} kept changing")


def test_nvidia_smi_format_and_memory_accounting(sandbox, remote, tag):
    host = "vm-train2"
    name, total, _, _ = smi_values(remote, host)
    assert (name, total) == ("NVIDIA H100 80GB HBM3", 81559)
    assert smi_values(remote, "desktop")[:2] == ("NVIDIA GeForce RTX 3060", 12288)
    base = sandbox["base_image"]
    try:
        remote.run(host, ["docker", "run", "-d", "--gpus", "all", "--name", f"{tag}-a", "-l", "rt.gpu_mem_mb=6144",
                          base, "sleep", "300"])
        used, util, labelled = consistent_smi(remote, host)
        assert used == labelled >= 6144 and util == 100
        remote.run(host, ["docker", "run", "-d", "--gpus", "all", "--name", f"{tag}-b", "-l", "rt.gpu_mem_mb=1000",
                          base, "sleep", "300"])
        remote.run(host, ["docker", "run", "-d", "--name", f"{tag}-c", base, "sleep", "300"])  # no label: no GPU
        used, util, labelled = consistent_smi(remote, host)
        assert used == labelled >= 7144 and util == 100
        mine = {f"{tag}-a", f"{tag}-b"}
        assert not mine & set(remote.run("vm-train", ["docker", "ps", "--format", "{{.Names}}"]).stdout.split())
    finally:
        remote.run(host, ["docker", "rm", "-f", f"{tag}-a", f"{tag}-b", f"{tag}-c"], check=False)
    used, util, labelled = consistent_smi(remote, host)
    assert used == labelled and util == (100 if labelled or label_sum(remote, host)[1] else 0)
    with_units = remote.run(host, ["nvidia-smi", "--query-gpu=memory.total,utilization.gpu", "--format=csv"]).stdout
    assert with_units.splitlines()[0] == "memory.total [MiB], utilization.gpu [%]"
    assert re.fullmatch(r"81559 MiB, \d+ %", with_units.splitlines()[1])
    bad = remote.run(host, ["nvidia-smi", "--query-gpu=bogus", "--format=csv"], check=False)
    assert bad.exit_status != 0 and "bogus" in bad.stderr
    assert "NVIDIA" in remote.run(host, ["nvidia-smi"]).stdout


def test_smi_delay_is_honoured(sandbox, tmp_path):
    spec = host_specs(1)[0]
    script = smi.install(spec, tmp_path, delay=1.0)
    start = time.monotonic()
    out = subprocess.run([str(script), *SMI_QUERY[1:]], capture_output=True, text=True, timeout=30)
    assert time.monotonic() - start >= 1.0
    assert out.returncode == 0 and out.stdout.startswith("NVIDIA GeForce RTX 3060, 12288, ")


def test_stop_and_start_host(sandbox, remote, tag):
    root = sandbox["root"]
    remote.run(SPARE, ["docker", "run", "-d", "--name", tag, sandbox["base_image"], "sleep", "600"])
    fleet.stop_host(root, SPARE)
    try:
        assert not fleet.host_is_up(root, SPARE)
        remote.forget(remote.inventory.get(SPARE))
        from remote_training.errors import UnreachableError

        with pytest.raises(UnreachableError):
            remote.run(SPARE, ["true"])
        assert fleet.host_is_up(root, "desktop")  # the others keep running
    finally:
        fleet.start_host(root, SPARE)
    assert fleet.host_is_up(root, SPARE)
    assert remote.run(SPARE, ["docker", "ps", "-aq"]).stdout == ""  # its containers are gone, like a power-off
    assert remote.run(SPARE, ["hostname"]).stdout.strip() == SPARE


def _pids(lay: Layout) -> dict[str, int | None]:
    return {p.stem: procs.read_pid(p) for p in lay.pids.glob("*.pid")}


def test_up_is_idempotent(sandbox):
    lay = Layout(sandbox["root"])
    before = _pids(lay)
    start = time.monotonic()
    state = fleet.ensure_up(sandbox["root"])
    assert time.monotonic() - start < 30
    assert state["hosts"].keys() == sandbox["hosts"].keys() and state["s3_endpoint"] == sandbox["s3_endpoint"]
    assert _pids(lay) == before, "a second up restarted something"
    inv = load_inventory(Path(state["hosts_file"]))
    assert [h.name for h in inv.hosts] == list(state["hosts"]) and inv.get("train2").name == "vm-train2"


def test_up_recovers_after_processes_are_killed(sandbox, remote):
    root, lay = sandbox["root"], Layout(sandbox["root"])
    spec = next(s for s in host_specs(len(sandbox["hosts"])) if s.name == SPARE)
    victims = [procs.read_pid(lay.pid(f"{SPARE}-sshd")), procs.read_pid(spec.run_dir / "dockerd.pid"),
               procs.read_pid(lay.pid(f"{SPARE}-fwd5000")), procs.read_pid(lay.pid(f"{SPARE}-fwd9555"))]
    assert all(victims)
    for pid in victims:
        os.kill(pid, 9)
    time.sleep(0.2)
    lay.pid(f"{SPARE}-fwd9555").write_text(f"{os.getpid()}\n")  # a stale pid file naming another live process
    time.sleep(0.5)
    assert not fleet.host_is_up(root, SPARE)
    fleet.ensure_up(root)
    assert fleet.host_is_up(root, SPARE)
    remote.forget(remote.inventory.get(SPARE))
    assert remote.run(SPARE, ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]).stdout
    assert remote.run(SPARE, ["docker", "pull", "-q", sandbox["base_image"]]).exit_status == 0  # forwarder back
    s3_listing = remote.run(SPARE, ["docker", "run", "--rm", "--network", "host", sandbox["base_image"],
                                    "wget", "-q", "-O", "-", "http://127.0.0.1:9555/interim"]).stdout
    assert "<Name>interim</Name>" in s3_listing  # the S3 forwarder with the stale pid file is back too
    assert os.path.exists(f"/proc/{os.getpid()}"), "the process named by the stale pid file was left alone"


def test_up_rebuilds_a_broken_host_network(sandbox, remote):
    root = sandbox["root"]
    spec = next(s for s in host_specs(len(sandbox["hosts"])) if s.name == SPARE)
    subprocess.run(["ip", "link", "del", spec.veth], check=True)  # as if a killed run left half a network
    assert not fleet.host_is_up(root, SPARE)
    fleet.ensure_up(root)
    assert fleet.host_is_up(root, SPARE)
    remote.forget(remote.inventory.get(SPARE))
    assert remote.run(SPARE, ["hostname"]).stdout.strip() == SPARE


def test_status_reports_every_host(sandbox):
    fleet.ensure_up(sandbox["root"])  # whatever an earlier test powered off is back
    report = fleet.status(sandbox["root"])
    assert report["registry"] and report["s3"] and report["bridge"] and report["forwarders"]
    assert set(report["hosts"]) == set(sandbox["hosts"])
    assert all(h["up"] for h in report["hosts"].values())


def _inv(sandbox, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return run_cli(*args, cwd=sandbox["root"], timeout=120, env={**os.environ, **(env or {})})


def test_cli_status_and_sandbox_inventory(sandbox):
    import json

    status = _inv(sandbox, "sandbox.status", "--json")
    assert status.returncode == 0, status.stderr
    assert set(json.loads(status.stdout)["hosts"]) == set(sandbox["hosts"])
    listed = _inv(sandbox, "hosts.list", "--json", env={"INVOKE_HOSTS_FILE": str(sandbox["hosts_file"])})
    assert listed.returncode == 0, listed.stderr
    rows = {h["name"]: h for h in json.loads(listed.stdout)}
    # the fleet's hosts, and the stand-in's Nebius Serverless target beside them (no SSH)
    assert set(rows) == set(sandbox["hosts"]) | {"cloud"}
    assert rows["cloud"]["provider"] == "nebius-serverless" and rows["cloud"]["ssh"] == ""
    assert rows["desktop"]["gpu_memory_gb"] == 12 and rows["vm-train2"]["aliases"] == ["train2"]
    dry = _inv(sandbox, "sandbox.up", "--dry-run", "--hosts", "2")
    assert dry.returncode == 0 and "would ensure" in dry.stdout
    assert set(json.loads(_inv(sandbox, "sandbox.status", "--json").stdout)["hosts"]) == set(sandbox["hosts"])


def test_up_recovers_when_pid_files_are_lost(sandbox, remote):
    """As after a wiped .sandbox/pids or a sandbox left by another checkout: processes run, nobody owns them."""
    root, lay = sandbox["root"], Layout(sandbox["root"])
    spec = next(s for s in host_specs(len(sandbox["hosts"])) if s.name == SPARE)
    orphans = [procs.read_pid(lay.pid(f"{SPARE}-sshd")), procs.read_pid(lay.pid(f"{SPARE}-fwd5000")),
               procs.read_pid(lay.pid(f"{SPARE}-fwd9555")), procs.read_pid(spec.run_dir / "dockerd.pid")]
    assert all(orphans)
    for name in ("sshd", "fwd5000", "fwd9555"):
        lay.pid(f"{SPARE}-{name}").unlink()
    fleet.ensure_up(root)
    assert fleet.host_is_up(root, SPARE)
    assert not any(procs.cmdline(p) for p in orphans), "the unowned sshd/dockerd/forwarders were left running"
    remote.forget(remote.inventory.get(SPARE))
    assert remote.run(SPARE, ["docker", "pull", "-q", sandbox["base_image"]]).exit_status == 0


def test_hosts_count_grows_and_shrinks(sandbox):
    root, count = sandbox["root"], len(sandbox["hosts"])
    extra = host_specs(count + 1)[-1]
    try:
        grown = fleet.ensure_up(root, hosts=count + 1)
        assert extra.name in grown["hosts"] and fleet.host_is_up(root, extra.name)
        inv = load_inventory(Path(grown["hosts_file"]))
        assert inv.get(extra.aliases[0]).name == extra.name and inv.get(extra.name).gpu == "H100"
        runner = RemoteRunner(inv, connect_timeout=5)
        assert runner.run(extra.name, SMI_QUERY).stdout.startswith("NVIDIA H100 80GB HBM3, 81559, ")
        runner.close()
    finally:
        shrunk = fleet.ensure_up(root, hosts=count)
    assert set(shrunk["hosts"]) == set(sandbox["hosts"])
    assert not fleet.host_is_up(root, extra.name) and not Path("/var/run/netns", extra.netns).exists()
    assert extra.name not in [h.name for h in load_inventory(Path(shrunk["hosts_file"])).hosts]
