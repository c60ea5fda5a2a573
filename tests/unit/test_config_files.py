"""Where rt finds its configuration (no sandbox): Invoke's own files and INVOKE_* variables, the search order
for hosts.yaml and the image catalog (remote_training/config_files.py), `rt doctor`'s account of both, and the
deprecated RT_LEDGER / RT_STATE_DIR."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from remote_training.config_files import CATALOG, HOSTS, find
from remote_training.errors import InputError, InventoryError
from tests.support import ROOT, run_cli

ONE_HOST = "hosts:\n  {name}:\n    ssh: root@127.0.0.1:9\n    gpu: H100\n    gpu_memory_gb: 80\n"


def rt(cwd: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    full = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), **env}
    return run_cli(*args, cwd=cwd, env=full, timeout=60, program="rt")


def hosts_file(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hosts.yaml").write_text(ONE_HOST.format(name=name))
    return folder / "hosts.yaml"


def listed(done: subprocess.CompletedProcess) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [h["name"] for h in json.loads(done.stdout)]


def test_the_search_order_flag_setting_cwd_user_folder_checkout(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    assert listed(rt(work, home, "hosts.list", "--json"))[:2] == ["desktop", "notebook"]  # this checkout's
    hosts_file(home / ".config" / "remote-training", "from-user-folder")
    assert listed(rt(work, home, "hosts.list", "--json")) == ["from-user-folder"]
    elsewhere = rt(work, home, "hosts.list", "--json", XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    assert listed(elsewhere)[0] == "desktop"  # with $XDG_CONFIG_HOME set, the user folder is under it
    hosts_file(work, "from-cwd")
    assert listed(rt(work, home, "hosts.list", "--json")) == ["from-cwd"]
    setting = hosts_file(tmp_path / "set", "from-setting")
    assert listed(rt(work, home, "hosts.list", "--json", INVOKE_HOSTS_FILE=str(setting))) == ["from-setting"]
    flag = hosts_file(tmp_path / "flag", "from-flag")
    assert listed(rt(work, home, "--hosts", str(flag), "hosts.list", "--json", INVOKE_HOSTS_FILE=str(setting))) == \
        ["from-flag"]


def test_invokes_own_user_file_sets_it(tmp_path):
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    mine = hosts_file(tmp_path / "mine", "from-invoke-yaml")
    home.mkdir()
    (home / ".invoke.yaml").write_text(f"hosts:\n  file: {mine}\n")
    assert listed(rt(work, home, "hosts.list", "--json")) == ["from-invoke-yaml"]


def test_a_named_file_that_is_missing_is_an_error_never_passed_over(tmp_path):
    home = tmp_path / "home"
    hosts_file(home / ".config" / "remote-training", "would-be-found")
    for args, env, named in (((), {"INVOKE_HOSTS_FILE": "nope.yaml"}, "setting hosts.file"),
                             (("--hosts", "nope.yaml"), {}, "flag --hosts")):
        done = rt(tmp_path, home, *args, "hosts.list", **env)
        assert done.returncode == 3 and done.stderr.count("\n") == 1, done.stderr
        assert f"inventory nope.yaml ({named}) not found" in done.stderr and "INVOKE_HOSTS_FILE" in done.stderr


def test_nothing_found_names_every_place_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    with pytest.raises(InventoryError) as caught:
        find(HOSTS, positronic=tmp_path / "positronic")  # an installed wheel: no checkout of this project
    assert str(tmp_path / "xdg" / "remote-training") in caught.value.message
    assert str(tmp_path / "positronic") in caught.value.message
    assert caught.value.fix.startswith(f"write one to {tmp_path / 'xdg' / 'remote-training' / 'hosts.yaml'}")
    (tmp_path / "positronic").mkdir()
    (tmp_path / "positronic" / "images.yaml").write_text("images: {}\n")
    assert find(CATALOG, positronic=tmp_path / "positronic").how == "positronic checkout"
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "images.yaml").write_text("images: {}\n")
    assert find(CATALOG, positronic=tmp_path / "positronic").how == "current directory"
    with pytest.raises(InputError):
        find(CATALOG, setting=str(tmp_path / "none.yaml"))


def test_doctor_names_the_files_it_used(tmp_path):
    from invoke import Config, Context

    from rt_tasks.doctor import config_results

    mine = hosts_file(tmp_path / "mine", "x")
    rows = {r.target: r for r in config_results(Context(Config(overrides={
        "hosts": {"file": str(mine)}, "images": {"catalog": str(tmp_path / "gone.yaml")}})))}
    assert rows["inventory"].summary == f"{mine} (setting hosts.file)" and rows["inventory"].status == "ok"
    assert rows["image catalog"].status == "warn" and "gone.yaml (setting images.catalog) not found" in \
        rows["image catalog"].summary
    assert rows["invoke files"].status == "ok"


def test_the_old_ledger_variable_is_read_with_one_deprecation_line(tmp_path):
    from remote_training.records.ledger import Ledger

    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    for path, job in ((old, "old-job"), (new, "new-job")):
        Ledger(path)._append({"event": "start", "job_id": job, "host": "desktop", "started": "2026-12-03T15:00:00Z"})
    home = tmp_path / "home"
    done = rt(ROOT, home, "jobs.history", "--json", RT_LEDGER=str(old))
    assert [e["job_id"] for e in json.loads(done.stdout)] == ["old-job"]
    assert done.stderr == ("warning: RT_LEDGER is deprecated and will stop being read: set INVOKE_JOBS_LEDGER "
                           "(config jobs.ledger) instead\n")
    done = rt(ROOT, home, "jobs.history", "--json", RT_LEDGER=str(old), INVOKE_JOBS_LEDGER=str(new))
    assert [e["job_id"] for e in json.loads(done.stdout)] == ["new-job"] and done.stderr == ""


def test_inv_has_no_file_flags_and_says_so_in_one_line(tmp_path):
    """Invoke parses its core flags before `inv` is adopted (rt_tasks/program.adopt): --hosts is rt's only."""
    done = run_cli("--hosts", "x.yaml", "hosts.list", env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, timeout=60)
    assert done.returncode != 0 and done.stderr == "No idea what '--hosts' is!\n", done.stderr
