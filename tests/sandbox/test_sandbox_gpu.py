"""GPU plumbing of the sandbox hosts: the engine and Compose the jobs need, `--gpus` and compose's
nvidia reservations (through the nvidia-container-runtime-hook stand-in), and an nvidia-smi stand-in
that counts only containers that were given a GPU."""
from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from rt_sandbox import smi

HOST = "vm-train2"  # 80 GB: the labels below never reach the stand-in's clamp at memory.total

COMPOSE = """\
services:
  gpu:
    image: {image}
    labels: {{rt.gpu_mem_mb: "{mem}"}}
    deploy:
      resources:
        reservations:
          devices:
            - driver: nvidia
              count: all
              capabilities: [compute, graphics, utility]
"""


def docker(sandbox, host: str, *args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The docker CLI of this machine against the host's own engine (its socket)."""
    env = {**os.environ, "DOCKER_HOST": sandbox["hosts"][host]["docker_host"]}
    result = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=120, cwd=cwd)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def gpu_labels(sandbox, host: str) -> dict[str, int]:
    """rt.gpu_mem_mb of the running labelled containers that requested a GPU, by name, read from the
    engine directly (not through the stand-in under test)."""
    ids = docker(sandbox, host, "ps", "-q", "--filter", f"label={smi.LABEL}").stdout.split()
    if not ids:
        return {}
    found = json.loads(docker(sandbox, host, "inspect", *ids, check=False).stdout or "[]")
    out = {}
    for c in found:
        requests = c["HostConfig"].get("DeviceRequests") or []
        gpu = any(r.get("Driver") == "nvidia" or any("gpu" in caps for caps in r.get("Capabilities") or [])
                  for r in requests)
        value = c["Config"]["Labels"].get(smi.LABEL, "")
        if gpu and c["State"]["Running"] and value.isdigit():
            out[c["Name"].lstrip("/")] = int(value)
    return out


def smi_used(remote, host: str) -> int:
    return int(remote.run(host, ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"]).stdout)


def consistent_used(sandbox, remote, host: str) -> tuple[int, dict[str, int]]:
    """(memory.used, GPU containers' labels) read while nothing changed (other sessions use the hosts too)."""
    for _ in range(10):
        before = gpu_labels(sandbox, host)
        used = smi_used(remote, host)
        if gpu_labels(sandbox, host) == before:
            return used, before
    raise AssertionError(f"{host} kept changing")


@pytest.mark.parametrize("host", ["desktop", "vm-train"])
def test_hosts_run_dockerd_25_and_compose_v2(sandbox, remote, host):
    server = remote.run(host, ["docker", "version", "--format", "{{.Server.Version}}"]).stdout.strip()
    assert int(server.split(".")[0]) >= 25, server  # DeviceRequests, compose v2's API use
    compose = remote.run(host, ["docker", "compose", "version", "--short"]).stdout.strip()
    assert re.match(r"v?2\.", compose), compose
    assert remote.run(host, ["docker", "buildx", "version"]).stdout.strip()


def test_gpus_all_sets_nvidia_visible_devices(sandbox, remote):
    env = remote.run("desktop", ["docker", "run", "--rm", "--gpus", "all", sandbox["base_image"], "env"]).stdout
    assert "NVIDIA_VISIBLE_DEVICES=all" in env.splitlines()
    # without --gpus, dockerd leaves the environment alone
    plain = remote.run("desktop", ["docker", "run", "--rm", sandbox["base_image"], "env"]).stdout
    assert "NVIDIA_VISIBLE_DEVICES" not in plain


def test_compose_nvidia_reservation_runs_and_counts(sandbox, remote, tag, tmp_path):
    (tmp_path / "compose.yaml").write_text(COMPOSE.format(image=sandbox["base_image"], mem=2345))
    try:
        env = docker(sandbox, HOST, "compose", "-p", tag, "run", "--rm", "gpu", "env", cwd=tmp_path).stdout
        assert "NVIDIA_VISIBLE_DEVICES=all" in env.splitlines()
        assert "NVIDIA_DRIVER_CAPABILITIES=compute,graphics,utility" in env.splitlines()
        # compose asks for driver nvidia without the `gpu` capability: the stand-in must count it too
        docker(sandbox, HOST, "compose", "-p", tag, "run", "-d", "--name", f"{tag}-job", "gpu", "sleep", "300",
               cwd=tmp_path)
        used, labels = consistent_used(sandbox, remote, HOST)
        assert labels.get(f"{tag}-job") == 2345 and used == sum(labels.values())
    finally:
        docker(sandbox, HOST, "rm", "-f", f"{tag}-job", check=False)
        docker(sandbox, HOST, "compose", "-p", tag, "down", "-t", "0", check=False, cwd=tmp_path)


def test_smi_counts_gpu_containers_only(sandbox, remote, tag):
    base = sandbox["base_image"]
    try:
        remote.run(HOST, ["docker", "run", "-d", "--name", f"{tag}-gpu", "--gpus", "all", "-l", f"{smi.LABEL}=4321",
                          base, "sleep", "300"])
        # the same container without --gpus: on a real host it holds no GPU memory, whatever its label says
        remote.run(HOST, ["docker", "run", "-d", "--name", f"{tag}-cpu", "-l", f"{smi.LABEL}=4321",
                          base, "sleep", "300"])
        used, labels = consistent_used(sandbox, remote, HOST)
        assert labels.get(f"{tag}-gpu") == 4321 and f"{tag}-cpu" not in labels
        assert used == sum(labels.values())
        util = remote.run(HOST, ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"])
        assert util.stdout.strip() == "100"
        remote.run(HOST, ["docker", "rm", "-f", f"{tag}-gpu"])
        used, labels = consistent_used(sandbox, remote, HOST)
        assert f"{tag}-gpu" not in labels and used == sum(labels.values())
    finally:
        remote.run(HOST, ["docker", "rm", "-f", f"{tag}-gpu", f"{tag}-cpu"], check=False)
