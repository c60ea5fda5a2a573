"""Terminal manners (no sandbox): tables as wide as the terminal, progress of long waits on stderr,
jobs.wait's exit codes. The listings run as `rt` in a subprocess, as a user types them, at COLUMNS=80."""
from __future__ import annotations

import io
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from remote_training.output import print_table
from remote_training.progress import Progress
from tests.support import ROOT, run_cli

TARGET = """
  cloud:
    aliases: [serverless]
    provider: {type: nebius-serverless, parent_id: project-e00team0000000000000, subnet_id: vpcsubnet-e00team0000,
               gpu: {platform: gpu-h100-sxm, preset: 1gpu-16vcpu-200gb}}
"""


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rt(tmp_path: Path, *args: str, columns: int = 80, **env: str) -> subprocess.CompletedProcess:
    full = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "COLUMNS": str(columns), **env}
    return run_cli(*args, cwd=tmp_path, env=full, timeout=90, program="rt")


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


def unreachable_fleet(tmp_path: Path) -> Path:
    """The team's five hosts, each at a loopback port that refuses: every row a note, nothing leaves."""
    import yaml

    data = yaml.safe_load((ROOT / "hosts.yaml").read_text())
    for host in data["hosts"].values():
        host["ssh"] = f"{host['ssh'].split('@')[0]}@127.0.0.1:{closed_port()}"
        host["provider"] = "static"
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_hosts_list_fits_80_columns_and_json_keeps_every_field(tmp_path):
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text((ROOT / "hosts.yaml").read_text() + TARGET)
    table = rt(tmp_path, "hosts.list", INVOKE_HOSTS_FILE=str(hosts))
    assert table.returncode == 0, table.stderr
    assert widest(table.stdout) <= 80 and "vm-train2" in table.stdout and "H100" in table.stdout
    assert "left out to fit the terminal: aliases" in table.stdout
    wide = rt(tmp_path, "hosts.list", columns=200, INVOKE_HOSTS_FILE=str(hosts))
    assert "left out" not in wide.stdout and "train2" in wide.stdout and widest(wide.stdout) > 80
    narrow_json = rt(tmp_path, "hosts.list", "--json", INVOKE_HOSTS_FILE=str(hosts)).stdout
    assert narrow_json == rt(tmp_path, "hosts.list", "--json", columns=200, INVOKE_HOSTS_FILE=str(hosts)).stdout
    assert {"aliases", "compose"} <= set(json.loads(narrow_json)[0])


def test_vm_status_and_jobs_list_fit_80_columns(tmp_path):
    hosts = unreachable_fleet(tmp_path)
    status = rt(tmp_path, "vm.status", INVOKE_HOSTS_FILE=str(hosts), INVOKE_HOSTS_CONNECT_TIMEOUT="2")
    assert "vm-train3" in status.stdout and "refused" in status.stdout, status.stdout + status.stderr
    assert widest(status.stdout) <= 80, status.stdout
    listed = rt(tmp_path, "jobs.list", INVOKE_HOSTS_FILE=str(hosts), INVOKE_HOSTS_CONNECT_TIMEOUT="2")
    assert "jobs on 0/5 hosts" in listed.stdout and listed.stderr.count("warning: ") == 5, listed.stderr
    assert widest(listed.stdout) <= 80


def test_jobs_history_fits_80_columns(tmp_path):
    from remote_training.records.ledger import Ledger

    ledger = tmp_path / "ledger.jsonl"
    book = Ledger(ledger)
    for n, service in enumerate(["groot-train", "openpi-server", "lerobot-train-0-3-3"]):
        job_id = f"{service}-261203-1512{n:02d}-ab{n:02d}"
        book._append({"event": "start", "job_id": job_id, "host": "vm-train2", "service": service,
                      "image": f"registry.example.org/positro/{service}:src-0123456789ab",
                      "image_digest": "sha256:" + "0123456789abcdef" * 4, "user": "vertix@laptop-of-the-team",
                      "started": "2026-12-03T15:12:00Z", "args": ["--exp_name=e1"]})
        book.finish(job_id, 143 if n else 0)
    table = rt(tmp_path, "jobs.history", INVOKE_JOBS_LEDGER=str(ledger))
    assert table.returncode == 0, table.stderr
    assert widest(table.stdout) <= 80 and "groot-train-261203-151200-ab00" in table.stdout, table.stdout
    assert "143" in table.stdout
    entries = json.loads(rt(tmp_path, "jobs.history", "--json", INVOKE_JOBS_LEDGER=str(ledger)).stdout)
    assert entries[0]["image_digest"].startswith("sha256:0123")


def test_optional_columns_go_least_useful_first_and_only_when_words_cannot_fit(capsys, monkeypatch):
    rows = [("groot-train-261203-151200-ab00", "vm-train2", "running", "vertix@laptop", "2026-12-03 15:12:00", 8000)]
    columns = ["job", "host", "state", "user", "started", "port"]
    monkeypatch.setenv("COLUMNS", "200")
    print_table(columns, rows, optional=("port", "user"))
    wide = capsys.readouterr().out
    assert "left out" not in wide and "8000" in wide
    monkeypatch.setenv("COLUMNS", "76")
    print_table(columns, rows, optional=("port", "user"))
    narrow = capsys.readouterr().out
    assert "left out to fit the terminal: user, port" in narrow and "8000" not in narrow
    assert widest(narrow) <= 76 and "groot-train-261203-151200-ab00" in narrow


def test_progress_plain_lines_name_each_phase_and_remind(tmp_path):
    out = io.StringIO()
    with Progress("vm.start train2", out, tty=False, every=0.2, tick=0.05) as progress:
        progress("STOPPED: starting it through the nebius provider")
        time.sleep(0.35)
        progress("waiting for SSH at vertix@vm-train2")
    lines = out.getvalue().splitlines()
    assert lines[0] == "vm.start train2: STOPPED: starting it through the nebius provider (0s)"
    assert lines[1].startswith("vm.start train2: STOPPED: starting") and len(lines) == 3  # one reminder
    assert lines[2].startswith("vm.start train2: waiting for SSH at vertix@vm-train2 (")
    assert "\r" not in out.getvalue()


def test_progress_on_a_terminal_is_one_line_redrawn_then_cleared():
    out = io.StringIO()
    with Progress("job-1", out, tty=True, tick=0.05) as progress:
        progress("waiting for gr00t-server to answer on 10.0.0.5:9000")
        time.sleep(0.2)
        progress("")
        drawn = out.getvalue()
        time.sleep(0.15)
        assert out.getvalue() == drawn  # no wait on: nothing is drawn over what follows
    text = out.getvalue()
    assert "\n" not in text and text.count("\r\x1b[Kjob-1: waiting for gr00t-server") >= 2
    assert text.endswith("\r\x1b[K")


def test_vm_start_says_each_phase_on_stderr_while_it_waits(tmp_path):
    marker = tmp_path / "powered"
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(
        f"hosts:\n  cmd:\n    ssh: root@127.0.0.1:{closed_port()}\n    gpu_memory_gb: 80\n    provider:\n"
        f"      type: command\n      start: {json.dumps(f'touch {marker}')}\n      stop: 'true'\n"
        f"      state: {json.dumps(f'test -e {marker} && echo running || echo stopped')}\n")
    done = rt(tmp_path, "vm.start", "cmd", "--timeout", "3", INVOKE_HOSTS_FILE=str(hosts),
              INVOKE_HOSTS_CONNECT_TIMEOUT="1")
    assert done.returncode == 4, done.stderr  # SSH never answers: unreachable
    lines = done.stderr.splitlines()
    assert lines[0] == "vm.start cmd: asking the command provider for its state (0s)", lines
    assert lines[1] == "vm.start cmd: STOPPED: starting it through the command provider (0s)", lines
    assert lines[2].startswith("vm.start cmd: waiting for SSH at root@127.0.0.1:"), lines
    assert lines[-1].startswith("error: cmd: running, but SSH did not answer within"), lines


def test_jobs_wait_keeps_the_jobs_code_or_gives_rt_codes():
    from remote_training.errors import ExitCode, JobFailed, exit_code_for, raise_if_failed

    for own, expected in ((True, 3), (False, ExitCode.JOB_FAILED)):
        with pytest.raises(JobFailed) as caught:
            raise_if_failed("groot-train-1", "vm-train", 3, own_code=own)
        assert exit_code_for(caught.value) == expected and "exited 3" in str(caught.value)
