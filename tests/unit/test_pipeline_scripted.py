"""The launch pipeline's stages on a scripted fixed host (tests/fakessh.py), with the checks off (NoHooks):
the plan, place, provision (a static host: nothing asked), the start (one launch command, the job's secrets on
its stdin), and the one follow; and the provision stage on a VM behind a command provider (asked only when the
VM does not answer). The checks, the ledger and a real VM start: tests/sandbox/, tests/unit/test_placement.py."""
from __future__ import annotations

from pathlib import Path

import pytest

from remote_training.errors import RemoteCommandError
from remote_training.fleet.inventory import parse_inventory
from remote_training.fleet.remote import RemoteRunner
from remote_training.jobs.catalog import load_checkout
from remote_training.jobs.run import plan_job
from remote_training.jobs.services import GrootTrain
from remote_training.jobs.spec import NoHooks
from remote_training.launch import pipeline
from remote_training.targets.host import FixedHosts
from tests.fakessh import Command, FakeSsh, Session
from tests.support import ROOT

CURRENT = ROOT / "docker" / "sandbox" / "checkouts" / "positronic-a060cbea" / "docker"


def _launch(tmp_path: Path, commands: list[Command], *, dry_run: bool = False) -> tuple[list[str], Session, object]:
    (tmp_path / "ssh_config").write_text("")
    (tmp_path / "known_hosts").write_text("")
    inventory = parse_inventory("ssh_config: ssh_config\nknown_hosts: known_hosts\nhosts:\n"
                                "  box: {ssh: root@127.0.0.1:2201, gpu: H100, gpu_memory_gb: 80}\n",
                                tmp_path / "hosts.yaml")
    runner = RemoteRunner(inventory, connect_timeout=5, dry_run=dry_run, echo=lambda line: said.append(line))
    checkout = load_checkout(CURRENT)
    images = {name: f"registry.example/positro/{name}:v1" for name in checkout.services}
    plan = plan_job(GrootTrain("s3://interim/ds/", "s3://checkpoints/out/", "e1"), checkout, inventory, images,
                    host="box")
    said: list[str] = []
    session = Session("127.0.0.1", 2201, "root", commands)
    with FakeSsh(session) as ssh:
        result = pipeline.run(plan, NoHooks(), runner, inventory, auto_start=True, dry_run=dry_run,
                              job_env={"WANDB_API_KEY": "s3cr3t-value"}, images_file=tmp_path / "images.env",
                              wait=False, ready_timeout=5, create_timeout=5, echo=said.append)
        ssh.assert_all_ran()
    runner.close()
    return said, session, result


def test_a_detached_launch_is_one_command_with_its_secret_on_stdin_and_the_watch_line(tmp_path):
    said, session, result = _launch(tmp_path, [Command(r"^sh -c .*compose.* run -d", out="c0ffee\n")])
    assert result.container_id == "c0ffee" and not result.shipped
    assert said[0].startswith(f"started {result.job_id} on box (project unchanged, ")
    assert said[1] == (f"watch: inv jobs.logs {result.job_id} -f | inv jobs.progress {result.job_id} | "
                       f"inv jobs.wait {result.job_id}")
    assert "s3cr3t-value" not in session.ran[0] and b"s3cr3t-value" in session.stdin[0]  # stdin, never argv


def test_a_start_that_fails_says_compose_and_the_daemon_reason(tmp_path):
    failing = Command(r"^sh -c", err="Error response from daemon: driver failed: port is already allocated\n"
                                     "failed to start containers: abc\n", exit=1)
    with pytest.raises(RemoteCommandError) as failed:
        _launch(tmp_path, [failing, Command(r"^docker rm -f")])
    assert "compose run groot-train exited 1: Error response from daemon: driver failed" in failed.value.message


def test_a_dry_run_with_the_checks_off_asks_no_host(tmp_path):
    said, session, result = _launch(tmp_path, [], dry_run=True)
    assert result.dry_run and session.ran == [] and not any("s3cr3t" in line for line in said)
    assert [line.split(" ", 2)[1][:5] for line in said] == ["(only", "(the", "sh"]  # upload if missing, stdin, launch
    assert "reads WANDB_API_KEY on its stdin; values not shown" in said[1]


def _vm(tmp_path: Path, state: str) -> FixedHosts:
    """A VM behind a command provider whose state and start calls leave marks in tmp_path."""
    (tmp_path / "ssh_config").write_text("")
    (tmp_path / "known_hosts").write_text("")
    provider = (f"{{type: command, start: 'touch {tmp_path}/started', stop: 'true', "
                f"state: 'touch {tmp_path}/asked; echo {state}', timeout: 10}}")
    vm = f"  vm: {{ssh: root@127.0.0.1:2202, gpu: H100, gpu_memory_gb: 80, provider: {provider}}}\n"
    inventory = parse_inventory(f"ssh_config: ssh_config\nknown_hosts: known_hosts\nhosts:\n{vm}",
                                tmp_path / "hosts.yaml")
    return FixedHosts(RemoteRunner(inventory, connect_timeout=5), inventory.hosts)


def test_provision_asks_the_provider_only_when_the_vm_does_not_answer(tmp_path):
    said: list[str] = []
    with FakeSsh(Session("127.0.0.1", 2202, "root", [])):  # it answers: nothing to provision
        _vm(tmp_path, "stopped").provision("vm", auto_start=True, dry_run=False, echo=said.append)
    assert said == [] and not (tmp_path / "asked").exists() and not (tmp_path / "started").exists()


@pytest.mark.parametrize("auto_start,dry_run,expected", [
    (True, True, ["provision: vm is stopped: a real launch starts it here, before the checks"]),
    (False, False, []),  # vm.auto_start off: left stopped, for the checks to say how to start it
])
def test_provision_of_a_stopped_vm_says_it_would_start_it_or_leaves_it(tmp_path, auto_start, dry_run, expected):
    said: list[str] = []
    with FakeSsh():  # nothing answers at the VM's address, as on a stopped VM
        _vm(tmp_path, "stopped").provision("vm", auto_start=auto_start, dry_run=dry_run, echo=said.append)
    assert said == expected and (tmp_path / "asked").exists() and not (tmp_path / "started").exists()


def test_provision_leaves_a_silent_vm_its_provider_says_runs_to_the_checks(tmp_path):
    said: list[str] = []
    with FakeSsh():
        _vm(tmp_path, "running").provision("vm", auto_start=True, dry_run=False, echo=said.append)
    assert said == [] and (tmp_path / "asked").exists() and not (tmp_path / "started").exists()
