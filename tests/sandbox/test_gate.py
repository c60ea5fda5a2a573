"""The held launch command on a real sandbox host: the host snapshot comes back first, and nothing after the
gate runs unless the laptop says go."""
from __future__ import annotations

import time
import uuid

from remote_training.fleet.inventory import load_inventory
from remote_training.fleet.remote import RemoteRunner
from remote_training.fleet.snapshot import parse
from remote_training.jobs.gate import ABORTED, open_gate

# Stands in for the launch script: leaves a mark, echoes the environment it read on stdin.
MARKING = 'mark=$1; set -a; . /dev/stdin; set +a; touch "$mark"; echo "launched with $RT_GATE_VALUE"; '


def _runner(sandbox) -> RemoteRunner:
    return RemoteRunner(load_inventory(sandbox["hosts_file"]), connect_timeout=5)


def _exists(runner: RemoteRunner, path: str) -> bool:
    return runner.run("desktop", ["test", "-e", path], check=False, mutating=False).exit_status == 0


def test_the_probe_arrives_before_anything_runs_and_go_runs_the_rest(sandbox) -> None:
    runner = _runner(sandbox)
    mark = f"/tmp/rt-gate-{uuid.uuid4().hex[:8]}"
    try:
        gate = open_gate(runner, runner.inventory.get("desktop"), MARKING, [mark])
        assert gate is not None
        text, status = gate.probe
        assert status == 0 and text.split("\n")[0].count(",") == 3  # smi CSV first
        snap = parse("desktop", text)  # the whole snapshot came before the gate line
        assert snap.gpu_total_mb == 12288 and not snap.smi_error and not snap.docker_error and 22 in snap.listening
        assert not _exists(runner, mark)  # held at the gate
        out = gate.go("RT_GATE_VALUE='a b'\n")
        assert out.exit_status == 0 and "launched with a b" in out.stdout
        assert _exists(runner, mark)
    finally:
        runner.run("desktop", ["rm", "-f", mark], check=False)
        runner.close()


def test_stop_or_a_vanished_laptop_starts_nothing(sandbox) -> None:
    runner = _runner(sandbox)
    host = runner.inventory.get("desktop")
    marks = [f"/tmp/rt-gate-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        stopped = open_gate(runner, host, MARKING, [marks[0]])
        stopped.abort()
        vanished = open_gate(runner, host, MARKING, [marks[1]])
        vanished.channel.close()  # as if the laptop died: the remote `read` gets end of file
        time.sleep(1.0)
        assert not _exists(runner, marks[0]) and not _exists(runner, marks[1])
        third = open_gate(runner, host, MARKING, [marks[0]])
        third.channel.sendall(b"nope\n")
        third.channel.shutdown_write()
        assert third.channel.recv_exit_status() == ABORTED and not _exists(runner, marks[0])
    finally:
        runner.run("desktop", ["rm", "-f", *marks], check=False)
        runner.close()


def test_an_unreachable_host_gives_no_gate(sandbox, tmp_path) -> None:
    text = sandbox["hosts_file"].read_text().replace("hosts:\n",
                                                     "hosts:\n  ghost: {ssh: 'root@127.0.0.1:1', gpu: H100, "
                                                                  "gpu_memory_gb: 80}\n", 1)
    path = sandbox["hosts_file"].parent / f"hosts-gate-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(text)
    try:
        runner = RemoteRunner(load_inventory(path), connect_timeout=1)
        began = time.monotonic()
        assert open_gate(runner, runner.inventory.get("ghost"), MARKING, ["/tmp/never"]) is None
        assert time.monotonic() - began < 10
        runner.close()
    finally:
        path.unlink()
