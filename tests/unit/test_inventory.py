"""The inventory: the real hosts.yaml loads, and each kind of bad file is refused with a clear line."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from remote_training.errors import ExitCode, InventoryError
from remote_training.fleet.inventory import load_inventory, parse_inventory
from tests.support import ROOT, run_cli

GOOD_HOST = "ssh: u@h\n    gpu: H100\n    gpu_memory_gb: 80\n"


def test_project_inventory_has_the_seed_fleet():
    inv = load_inventory(ROOT / "hosts.yaml")
    assert [h.name for h in inv.hosts] == ["desktop", "notebook", "vm-train", "vm-train2", "vm-train3"]
    assert inv.get("train2") is inv.get("vm-train2")
    assert inv.get("desktop").gpu_memory_gb == 12
    assert inv.get("desktop").provider.type == "static"
    assert inv.get("vm-train3").provider.type == "nebius"
    assert inv.get("vm-train3").compose == ("docker", "compose")


def test_hosts_are_frozen():
    host = load_inventory(ROOT / "hosts.yaml").get("desktop")
    with pytest.raises(AttributeError):
        host.gpu = "other"  # type: ignore[misc]


def test_memory_accepts_units_and_ssh_target_splits():
    inv = parse_inventory("hosts:\n  a:\n    ssh: bob@box:2222\n    gpu: X\n    gpu_memory_gb: '12 GB'\n",
                          Path("f.yaml"))
    host = inv.get("a")
    assert (host.ssh_user, host.ssh_host, host.ssh_port, host.gpu_memory_gb) == ("bob", "box", 2222, 12.0)


BAD_FILES = [
    ("unknown key", f"hosts:\n  a:\n    {GOOD_HOST}    colour: red\n", ["host 'a'", "'colour'", "unknown key"]),
    ("missing ssh", "hosts:\n  a:\n    gpu: H100\n    gpu_memory_gb: 80\n", ["host 'a'", "missing ssh target"]),
    ("empty ssh", "hosts:\n  a:\n    ssh: ''\n    gpu_memory_gb: 80\n", ["host 'a'", "missing ssh target"]),
    ("duplicate alias", f"hosts:\n  a:\n    {GOOD_HOST}    aliases: [x]\n  b:\n    {GOOD_HOST}    aliases: [x]\n",
     ["host 'b'", "'x' is already used by host 'a'"]),
    ("alias equals other name", f"hosts:\n  a:\n    {GOOD_HOST}  b:\n    {GOOD_HOST}    aliases: [a]\n",
     ["'a' is already used by host 'a'"]),
    ("bad memory text", "hosts:\n  a:\n    ssh: u@h\n    gpu_memory_gb: lots\n",
     ["gpu_memory_gb", "bad memory value 'lots'"]),
    ("negative memory", "hosts:\n  a:\n    ssh: u@h\n    gpu_memory_gb: -8\n", ["bad memory value -8"]),
    ("missing memory", "hosts:\n  a:\n    ssh: u@h\n", ["bad memory value None"]),
    ("unknown provider", f"hosts:\n  a:\n    {GOOD_HOST}    provider: aws\n", ["unknown provider 'aws'", "static"]),
    ("nebius without id", f"hosts:\n  a:\n    {GOOD_HOST}    provider: nebius\n", ["provider.instance_id", "missing"]),
    ("yaml syntax", "hosts:\n  a:\n    ssh: [u@h\n    gpu: x\n", ["YAML syntax error at line"]),
    ("no hosts", "defaults: {}\n", ["no 'hosts' mapping"]),
    ("bad ssh target", "hosts:\n  a:\n    ssh: 'u@h; rm -rf /'\n    gpu_memory_gb: 8\n", ["bad ssh target"]),
    ("unknown top key", f"hostz: 1\nhosts:\n  a:\n    {GOOD_HOST}", ["top-level key 'hostz'"]),
]


@pytest.mark.parametrize("text,expected", [(t, e) for _, t, e in BAD_FILES], ids=[n for n, _, _ in BAD_FILES])
def test_bad_inventory_is_refused_with_file_host_key_and_fix(text, expected):
    with pytest.raises(InventoryError) as info:
        parse_inventory(text, Path("/etc/fleet.yaml"))
    message = str(info.value)
    assert "/etc/fleet.yaml" in message
    assert "fix:" in message
    for fragment in expected:
        assert fragment in message


def test_all_problems_reported_at_once():
    text = "hosts:\n  a:\n    gpu_memory_gb: 8\n  b:\n    ssh: u@h\n    gpu_memory_gb: zero\n"
    with pytest.raises(InventoryError) as info:
        parse_inventory(text, Path("x.yaml"))
    assert "host 'a'" in str(info.value) and "host 'b'" in str(info.value)


def test_unknown_host_lists_known_names():
    inv = load_inventory(ROOT / "hosts.yaml")
    with pytest.raises(InventoryError, match="use one of: desktop, notebook, vm-train, train"):
        inv.get("vm-trian")


def _inv(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    return run_cli(*args, env={**os.environ, **(env or {})}, timeout=60)


def test_hosts_list_json_and_env_override(tmp_path):
    import json

    out = _inv("hosts.list", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {d["name"] for d in data} == {"desktop", "notebook", "vm-train", "vm-train2", "vm-train3"}
    assert {"name", "aliases", "gpu", "gpu_memory_gb", "provider", "ssh"} <= data[0].keys()
    other = tmp_path / "other.yaml"
    other.write_text(f"hosts:\n  solo:\n    {GOOD_HOST}")
    out = _inv("hosts.list", "--json", env={"INVOKE_HOSTS_FILE": str(other)})
    assert [d["name"] for d in json.loads(out.stdout)] == ["solo"]


def test_invalid_inventory_exits_with_its_code_and_one_line_on_stderr(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hosts:\n  a:\n    ssh: u@h\n    gpu_memory_gb: many\n")
    out = _inv("hosts.list", env={"INVOKE_HOSTS_FILE": str(bad)})
    assert out.returncode == ExitCode.INVENTORY
    assert out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "bad memory value 'many'" in out.stderr
