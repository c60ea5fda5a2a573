"""What jobs cost (remote_training/records/cost.py, jobs.history --cost): constructed ledgers and reap samples in tmp
folders, each expected value worked out here from the times and rates the test itself chose."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from remote_training.errors import InputError
from remote_training.fleet.idle import Sample, SampleStore
from remote_training.fleet.inventory import parse_inventory
from remote_training.jobs.spec import JobSpec, LaunchResult
from remote_training.records import cost, timestamps
from remote_training.records.ledger import Ledger
from tests.support import run_cli

H = 3600.0
MONDAY = timestamps.seconds("2026-11-23T00:00:00Z")  # 2026-W48 starts here
HOSTS = """
hosts:
  desktop: {ssh: me@desktop, gpu: RTX 3060, gpu_memory_gb: 12, provider: static}
  vm-train: {ssh: me@vm-train, gpu: H100, gpu_memory_gb: 80, provider: {type: nebius, instance_id: ci-1}}
  vm-big: {ssh: me@vm-big, gpu: H100, gpu_memory_gb: 80, provider: {type: nebius, instance_id: ci-2}}
  vm-odd: {ssh: me@vm-odd, gpu: L40S, gpu_memory_gb: 48, provider: {type: nebius, instance_id: ci-3}}
  cloud:
    provider:
      type: nebius-serverless
      parent_id: project-e00test
      gpu: {platform: gpu-h100-sxm, preset: 2gpu-32vcpu-400gb}
      cpu: {platform: cpu-e2, preset: 8vcpu-32gb}
"""
VM, BIG, SERVERLESS_GPU, SERVERLESS_CPU = 3.0, 5.0, 7.0, 0.5
PRICES = {"static": 0, "nebius": {"H100": VM, "vm-big": BIG},
          "nebius-serverless": {"gpu-h100-sxm/2gpu-32vcpu-400gb": SERVERLESS_GPU, "cpu-e2/8vcpu-32gb": SERVERLESS_CPU}}


@pytest.fixture()
def inventory(tmp_path):
    path = tmp_path / "hosts.yaml"
    path.write_text(HOSTS)
    return parse_inventory(HOSTS, path)


def at(hours: float) -> str:
    return timestamps.utc(MONDAY + hours * H)


def write_ledger(path: Path, *jobs: dict) -> Ledger:
    """Launch and end lines as the ledger writes them; `end=None` leaves a job without a recorded end."""
    lines = []
    for job in jobs:
        end = job.pop("end", None)
        lines.append({"event": "start", "user": "ana", "kind": "train", **job, "started": at(job.pop("start"))})
        if end is not None:
            lines.append({"event": "end", "job_id": job["job_id"], "ended": at(end), "exit_code": 0})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return Ledger(path)


def test_a_rate_comes_from_the_most_specific_key_that_fits():
    prices = cost.Prices.parse({**PRICES, "nebius-serverless": {"gpu-h100-sxm": 6.0, **PRICES["nebius-serverless"]}})
    vm = cost.Facts("vm-train", "nebius", 1, "H100")
    assert prices.rate(vm) == (VM, "cost.prices.nebius.H100")
    assert prices.rate(cost.Facts("vm-big", "nebius", 1, "H100")) == (BIG, "cost.prices.nebius.vm-big")
    assert prices.rate(cost.Facts("desktop", "static", 1, "RTX 3060")) == (0.0, "cost.prices.static")
    exact = cost.Facts("cloud", "nebius-serverless", 2, None, "gpu-h100-sxm", "2gpu-32vcpu-400gb")
    assert prices.rate(exact) == (SERVERLESS_GPU, "cost.prices.nebius-serverless.gpu-h100-sxm/2gpu-32vcpu-400gb")
    other = cost.Facts("cloud", "nebius-serverless", 8, None, "gpu-h100-sxm", "8gpu-128vcpu-1600gb")
    assert prices.rate(other) == (6.0, "cost.prices.nebius-serverless.gpu-h100-sxm")  # the platform's own rate


def test_no_fitting_price_is_unknown_and_names_the_key_to_set():
    prices = cost.Prices.parse(PRICES)
    assert prices.rate(cost.Facts("vm-odd", "nebius", 1, "L40S")) == (None, "cost.prices.nebius.L40S")
    cpu = cost.Facts("cloud", "nebius-serverless", 0, None, "cpu-d3", "4vcpu-16gb")
    assert prices.rate(cpu) == (None, "cost.prices.nebius-serverless.cpu-d3/4vcpu-16gb")
    assert prices.rate(cost.Facts("lab", "command", 1, "A100")) == (None, "cost.prices.command.A100")


@pytest.mark.parametrize("bad", [-1, "cheap", True, float("inf"), None])
def test_a_bad_price_is_refused_with_its_key(bad):
    with pytest.raises(InputError) as err:
        cost.Prices.parse({"nebius": {"H100": bad}})
    assert "cost.prices.nebius.H100" in err.value.message and err.value.fix
    with pytest.raises(InputError):
        cost.Prices.parse(["nebius", 3])


def test_jobs_cost_their_hours_at_their_rate_split_by_iso_week(tmp_path, inventory):
    book = write_ledger(
        tmp_path / "ledger.jsonl",
        # Sunday 20:00 to Monday 02:00: 4 h in W48, 2 h in W49
        dict(job_id="t1", host="vm-train", start=6 * 24 + 20, end=7 * 24 + 2, host_type="nebius", gpus=1, gpu="H100"),
        dict(job_id="c1", host="cloud", kind="convert", user="bo", start=10, end=13, target="serverless",
             platform="cpu-e2", preset="8vcpu-32gb"),
        dict(job_id="t2", host="cloud", user="bo", start=20, end=21.5, target="serverless",
             platform="gpu-h100-sxm", preset="2gpu-32vcpu-400gb"))
    items = cost.job_items(book.entries(), cost.Prices.parse(PRICES), inventory, now=MONDAY + 30 * 24 * H)
    weeks = {(i.job_id, i.week): i for i in items}
    assert weeks[("t1", "2026-W48")].hours == pytest.approx(4) and weeks[("t1", "2026-W49")].hours == pytest.approx(2)
    by_user = {r["user"]: r for r in cost.totals(items, "user")}
    assert by_user["ana"]["gpu_hours"] == pytest.approx(6) and by_user["ana"]["usd"] == pytest.approx(6 * VM)
    assert by_user["bo"]["gpu_hours"] == pytest.approx(1.5 * 2)  # 2 GPUs from the preset's name; convert holds none
    assert by_user["bo"]["usd"] == pytest.approx(3 * SERVERLESS_CPU + 1.5 * SERVERLESS_GPU)
    by_week = {r["week"]: r for r in cost.totals(items, "week")}
    assert by_week["2026-W48"]["usd"] == pytest.approx(4 * VM + 3 * SERVERLESS_CPU + 1.5 * SERVERLESS_GPU)
    assert by_week["2026-W49"]["jobs"] == 1 and by_week["2026-W49"]["usd"] == pytest.approx(2 * VM)


def test_old_lines_take_type_and_gpu_from_hosts_yaml_and_open_jobs_count_to_now(tmp_path, inventory):
    book = write_ledger(tmp_path / "ledger.jsonl",
                        dict(job_id="old-train", host="vm-train", start=1, end=3),
                        dict(job_id="old-convert", host="vm-train", kind="convert", start=4, end=5),
                        dict(job_id="running", host="desktop", start=10))
    now = MONDAY + 12.5 * H
    items = {i.job_id: i for i in cost.job_items(book.entries(), cost.Prices.parse(PRICES), inventory, now=now)}
    assert (items["old-train"].host_type, items["old-train"].gpus, items["old-train"].usd) == ("nebius", 1, 2 * VM)
    assert (items["old-convert"].gpus, items["old-convert"].usd) == (0, 1 * VM)  # the VM was paid all the same
    assert items["running"].open and items["running"].end == now and items["running"].usd == 0.0
    assert not items["old-train"].open


def test_unknown_prices_stay_unknown_and_say_which_key(tmp_path, inventory):
    book = write_ledger(tmp_path / "ledger.jsonl",
                        dict(job_id="a", host="vm-train", start=0, end=2),
                        dict(job_id="b", host="vm-odd", start=0, end=1),
                        dict(job_id="c", host="long-gone", start=0, end=1))
    items = cost.job_items(book.entries(), cost.Prices.parse(PRICES), inventory, now=MONDAY + 10 * H)
    total = cost.row(items)
    assert total["usd"] is None and total["usd_known"] == pytest.approx(2 * VM)
    assert cost.money(total["usd"], total["usd_known"]) == f"${2 * VM:,.2f} + ?"
    assert cost.money(None, 0.0) == "?"
    lines = cost.unpriced(items)
    assert len(lines) == 2
    assert any("vm-odd" in line and "set cost.prices.nebius.L40S" in line for line in lines)
    assert any("long-gone" in line and "not in hosts.yaml" in line for line in lines)


def test_idle_hours_are_running_sampled_time_without_jobs(tmp_path, inventory):
    store = SampleStore(tmp_path / "idle")
    for minute in range(0, 8 * 60 + 1, 5):  # 08:00 to 16:00, every 5 minutes
        store.add("vm-train", Sample(MONDAY + 8 * H + minute * 60, "RUNNING", True, 0, 0, True))
    store.clear("vm-train")  # what reap does at a stop: the history must survive it
    for minute in range(0, 61, 5):  # 20:00 to 21:00, a job container (someone else's) on it all along
        store.add("vm-train", Sample(MONDAY + 20 * H + minute * 60, "RUNNING", True, 1, 90, False))
    for minute in range(0, 61, 5):  # 22:00 to 23:00, unreachable: not known idle
        store.add("vm-train", Sample(MONDAY + 22 * H + minute * 60, "RUNNING", False, 0, None, False))
    book = write_ledger(tmp_path / "ledger.jsonl", dict(job_id="t", host="vm-train", start=10, end=11.5))
    prices = cost.Prices.parse(PRICES)
    jobs = cost.job_items(book.entries(), prices, inventory, now=MONDAY + 48 * H)
    idle = cost.idle_items(store, inventory, jobs, prices, now=MONDAY + 48 * H, max_gap=900)
    assert {i.host for i in idle} == {"vm-train"}
    # 8 h sampled idle, less the 1.5 h job; the 16:00 -> 20:00 gap and the later samples add nothing
    assert sum(i.hours for i in idle) == pytest.approx(8 - 1.5)
    row = next(r for r in cost.totals(jobs + idle, "host") if r["what"] == "idle")
    assert (row["host"], row["jobs"], row["usd"]) == ("vm-train", 0, pytest.approx(6.5 * VM))
    since = cost.idle_items(store, inventory, jobs, prices, now=MONDAY + 48 * H, max_gap=900, since=MONDAY + 15 * H)
    assert sum(i.hours for i in since) == pytest.approx(1)


def test_fixed_against_serverless_counts_each_vm_hour_once(tmp_path, inventory):
    store = SampleStore(tmp_path / "idle")
    for minute in range(0, 121, 5):  # 2 h idle before the jobs
        store.add("vm-train", Sample(MONDAY + minute * 60, "RUNNING", True, 0, 0, True))
    book = write_ledger(tmp_path / "ledger.jsonl",
                        dict(job_id="train", host="vm-train", start=3, end=7),
                        dict(job_id="server", host="vm-train", kind="serve", start=5, end=9),  # shares the VM 2 h
                        dict(job_id="desk", host="desktop", start=3, end=9))
    found = cost.report(book.entries(), inventory, cost.Prices.parse(PRICES), store, now=MONDAY + 24 * H,
                        max_gap=900, compare_with="unused/1gpu-x")
    versus = found["fixed_vs_serverless"]
    assert list(versus["hosts"]) == ["vm-train"]
    assert versus["busy_hours"] == pytest.approx(6) and versus["busy_usd"] == pytest.approx(6 * VM)
    assert versus["idle_hours"] == pytest.approx(2) and versus["fixed_usd"] == pytest.approx(8 * VM)
    # the serverless target of hosts.yaml: 2 GPUs for SERVERLESS_GPU an hour, so a GPU-hour is half that
    assert versus["gpu_hours"] == pytest.approx(8) and versus["serverless"] == "gpu-h100-sxm/2gpu-32vcpu-400gb"
    assert versus["serverless_usd"] == pytest.approx(8 * SERVERLESS_GPU / 2)
    assert f"${8 * VM:,.2f}" in versus["line"] and f"${8 * SERVERLESS_GPU / 2:,.2f}" in versus["line"]
    assert found["total"]["usd"] == pytest.approx((4 + 4 + 2) * VM)  # the tables charge each job the VM's rate


def test_without_a_serverless_target_the_configured_preset_is_compared(tmp_path):
    fleet = parse_inventory(HOSTS.split("  cloud:")[0], tmp_path / "hosts.yaml")
    facts = cost.serverless_gpu(fleet, "gpu-h100-sxm/1gpu-16vcpu-200gb")
    assert (facts.platform, facts.preset, facts.gpus) == ("gpu-h100-sxm", "1gpu-16vcpu-200gb", 1)
    with pytest.raises(InputError):
        cost.serverless_gpu(fleet, "gpu-h100-sxm")


def test_since_reads_durations_and_dates():
    now = MONDAY + 100 * H
    assert cost.since("12h", now) == now - 12 * H
    assert cost.since("2026-11-23", now) == MONDAY
    with pytest.raises(InputError):
        cost.since("last week", now)


def _spec(host: str, mem: int, kind: str = "train") -> JobSpec:
    return JobSpec(job_id=f"{kind}-x", service=kind, kind=kind, host=host, args=(), gpu_mem_mb=mem)


def test_a_launch_records_what_its_price_needs(tmp_path, inventory):
    from remote_training.guard import LaunchGuard

    book = Ledger(tmp_path / "ledger.jsonl")
    guard = LaunchGuard(SimpleNamespace(inventory=inventory, dry_run=False), inventory, ledger=book)
    guard.record(_spec("vm-train", 60000), LaunchResult("train-x", "vm-train", container_id="abc"))
    guard.record(_spec("cloud", 0, "convert"), LaunchResult("convert-x", "cloud", container_id="aijob-1"))
    entry = book.get("train-x")
    assert (entry["host_type"], entry["gpus"], entry["gpu"]) == ("nebius", 1, "H100")
    entry = book.get("convert-x")
    assert (entry["host_type"], entry["platform"], entry["preset"], entry["gpus"]) == (
        "nebius-serverless", "cpu-e2", "8vcpu-32gb", 0)
    # the serverless launch's own choice wins over the target's default
    facts = cost.launch_facts(inventory.serverless_target("cloud"), True, platform="gpu-h100-sxm",
                              preset="8gpu-128vcpu-1600gb")
    assert facts["gpus"] == 8 and facts["preset"] == "8gpu-128vcpu-1600gb"


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "INVOKE_JOBS_LEDGER": str(tmp_path / "ledger.jsonl"),
           "INVOKE_HOSTS_FILE": str(tmp_path / "hosts.yaml"),
           "INVOKE_VM_STATE_DIR": str(tmp_path / "state"), "INVOKE_COST_PRICES_NEBIUS_H100": "4"}
    return run_cli("jobs.history", *args, env=env, timeout=60)


def test_history_cost_cli(tmp_path, inventory):
    write_ledger(tmp_path / "ledger.jsonl",
                 dict(job_id="t", host="vm-train", start=1, end=3),
                 dict(job_id="o", host="vm-odd", user="bo", start=1, end=2))
    out = _cli(tmp_path, "--cost", "--by", "user", "--json")
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert list(found["by"]) == ["user"]
    ana = next(r for r in found["by"]["user"] if r["user"] == "ana")
    assert ana["usd"] == pytest.approx(2 * 4.0)  # INVOKE_COST_PRICES_NEBIUS_H100 overrides the default
    assert any("cost.prices.nebius.L40S" in line for line in found["unpriced"])
    table = _cli(tmp_path, "--cost")
    assert table.returncode == 0 and "cost by week" in table.stdout and "fixed vs serverless" in table.stdout
    assert "set cost.prices.nebius.L40S" in table.stderr and "cost.prices" not in table.stdout
    # the defaults price no 2-GPU preset: the comparison is "?" and says which key to set
    assert "set cost.prices.nebius-serverless.gpu-h100-sxm/2gpu-32vcpu-400gb" in table.stderr
    bad = _cli(tmp_path, "--cost", "--by", "month")
    assert bad.returncode != 0 and bad.stdout == "" and len(bad.stderr.strip().splitlines()) == 1
    assert "user, host, week" in bad.stderr
