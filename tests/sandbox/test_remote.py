"""The remote runner against a real sandbox sshd: output, exit codes, quoting, timeouts, host keys."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from remote_training.errors import RemoteCommandError, UnreachableError
from remote_training.fleet.inventory import load_inventory, parse_inventory
from remote_training.fleet.remote import RemoteRunner
from tests.support import ROOT

HOSTILE = [
    "$(touch {canary})",
    "`touch {canary}`",
    "; touch {canary}; rm -rf x",
    "' ; touch {canary} ; '",
    '" ; touch {canary} ; "',
    "a\nb\n\ttouch {canary}\n",
    "&& touch {canary} || touch {canary} | cat > {canary}",
    "-",
    "--help",
    "*",
    "~root $HOME ${{PATH}} \\ \\\\n %s %d",
    "ünïcødé ✓ 日本語 🚀",
    "",
]


@pytest.fixture()
def remote(sandbox):
    runner = RemoteRunner(load_inventory(sandbox["hosts_file"]), connect_timeout=5)
    yield runner
    runner.close()


def test_stdout_and_exit_codes(remote):
    ok = remote.run("desktop", ["echo", "hello", "sandbox"])
    assert ok.exit_status == 0 and ok.stdout == "hello sandbox\n"
    assert remote.run("desktop", ["hostname"]).stdout.strip() == "desktop"
    failed = remote.run("train", ["sh", "-c", "echo out; echo err >&2; exit 7"], check=False)
    assert (failed.exit_status, failed.stdout, failed.stderr) == (7, "out\n", "err\n")
    with pytest.raises(RemoteCommandError) as caught:
        remote.run("train", ["sh", "-c", "echo boom >&2; exit 3"])
    assert caught.value.exit_status == 3 and "exited 3" in str(caught.value) and "boom" in str(caught.value)


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_argument_reaches_remote_byte_for_byte(remote, template):
    canary = f"/tmp/rt-canary-{uuid.uuid4().hex}"
    value = template.format(canary=canary)
    out = remote.run("desktop", ["printf", "%s", value])
    assert out.stdout == value
    # the same value through env= and cwd= stays inert too
    via_env = remote.run("desktop", ["sh", "-c", 'printf %s "$RT_VALUE"'], env={"RT_VALUE": value}, cwd="/tmp")
    assert via_env.stdout == value
    assert remote.run("desktop", ["ls", canary], check=False).exit_status != 0, "the canary was created"


def test_hostile_bytes_survive_hexdump(remote):
    value = "$(id)`id`;|&<>'\"\\\n\t ✓"
    out = remote.run("vm-train", ["sh", "-c", 'printf %s "$1" | od -An -tx1 | tr -d " \\n"', "sh", value])
    assert out.stdout == value.encode().hex()


def test_closed_port_fails_fast_with_clear_message(sandbox, tmp_path):
    address = sandbox["hosts"]["desktop"]["address"]
    inv = parse_inventory(f"hosts:\n  closed:\n    ssh: root@{address}:2222\n    gpu_memory_gb: 1\n",
                          tmp_path / "hosts.yaml")
    runner = RemoteRunner(inv, connect_timeout=3)
    start = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        runner.run("closed", ["true"])
    assert time.monotonic() - start < 4
    assert "closed" in str(caught.value) and "refused" in str(caught.value) and "fix:" in str(caught.value)


def test_silent_address_fails_within_connect_timeout(sandbox, tmp_path):
    # an address of the sandbox's own /24 that no host holds: nothing answers at all
    silent = sandbox["bridge_address"].rsplit(".", 1)[0] + ".250"
    inv = parse_inventory(f"hosts:\n  ghost:\n    ssh: root@{silent}\n    gpu_memory_gb: 1\n", tmp_path / "h.yaml")
    runner = RemoteRunner(inv, connect_timeout=2)
    start = time.monotonic()
    with pytest.raises(UnreachableError) as caught:
        runner.run("ghost", ["true"])
    elapsed = time.monotonic() - start
    assert elapsed < 5, f"took {elapsed:.1f}s"
    assert "ghost" in str(caught.value)


def _inventory_with_known_hosts(sandbox, tmp_path: Path, known_hosts: str):
    address = sandbox["hosts"]["desktop"]["address"]
    (tmp_path / "known_hosts").write_text(known_hosts)
    (tmp_path / "ssh_config").write_text(
        f"Host desktop\n  HostName {address}\n  User root\n  IdentityFile {sandbox['identity_file']}\n"
        f"  UserKnownHostsFile {tmp_path / 'known_hosts'}\n  StrictHostKeyChecking yes\n")
    text = ("ssh_config: ssh_config\nknown_hosts: known_hosts\n"
            "hosts:\n  desktop:\n    ssh: desktop\n    gpu_memory_gb: 12\n")
    return parse_inventory(text, tmp_path / "hosts.yaml")


def test_unknown_host_key_is_refused(sandbox, tmp_path):
    runner = RemoteRunner(_inventory_with_known_hosts(sandbox, tmp_path, ""), connect_timeout=3)
    with pytest.raises(UnreachableError) as caught:
        runner.run("desktop", ["true"])
    assert "host key unknown" in str(caught.value)
    assert (tmp_path / "known_hosts").read_text() == "", "an unknown key must never be written down"


def test_wrong_host_key_is_refused(sandbox, tmp_path):
    address = sandbox["hosts"]["desktop"]["address"]
    other = Path(sandbox["root"], ".sandbox", "hosts", "vm-train", "ssh_host_ed25519_key.pub").read_text().split()
    runner = RemoteRunner(_inventory_with_known_hosts(sandbox, tmp_path, f"{address} {other[0]} {other[1]}\n"),
                          connect_timeout=3)
    with pytest.raises(UnreachableError) as caught:
        runner.run("desktop", ["true"])
    assert all(part in str(caught.value) for part in ("desktop", "does not match", "ssh-keygen -R"))


def test_put_text_and_fan_out(remote, sandbox):
    name = f"rt-put-{uuid.uuid4().hex}.txt"
    remote.put_text("desktop", "secret-free text\n", f"~/{name}", mode=0o640)
    out = remote.run("desktop", ["sh", "-c", f'stat -c %a ~/{name}; cat ~/{name}; rm ~/{name}'])
    assert out.stdout == "640\nsecret-free text\n"
    hosts = remote.inventory.select(None)
    result = remote.fan_out(hosts, lambda h: remote.run(h, ["hostname"]).stdout.strip(), deadline=60)
    assert result.succeeded == {h.name: h.name for h in hosts} and not result.failed


def test_dry_run_prints_the_exact_command_and_runs_nothing(sandbox, remote):
    canary = f"/tmp/rt-canary-{uuid.uuid4().hex}"
    lines: list[str] = []
    dry = RemoteRunner(remote.inventory, dry_run=True, echo=lines.append)
    result = dry.run("desktop", ["touch", canary], cwd="~/x y", env={"A": "1 2"})
    assert result.dry_run and lines == [f"[desktop] cd \"$HOME\"/'x y' && env 'A=1 2' touch {canary}"]
    assert remote.run("desktop", ["ls", canary], check=False).exit_status != 0
    # the printed line is the command itself: run through a shell it does what run() would do
    printed = lines[0].split("] ", 1)[1]
    remote.run("desktop", ["mkdir", "-p", "x y"], cwd="~")
    try:
        remote.run("desktop", ["sh", "-c", printed])
        assert remote.run("desktop", ["ls", canary], check=False).exit_status == 0
    finally:
        remote.run("desktop", ["rm", "-rf", canary, "x y"], cwd="~")


def test_command_timeout(remote):
    start = time.monotonic()
    with pytest.raises(RemoteCommandError) as caught:
        remote.run("vm-train", ["sleep", "30"], timeout=1)
    assert time.monotonic() - start < 10 and "did not finish within 1s" in str(caught.value)
    assert remote.run("vm-train", ["echo", "still usable"]).stdout == "still usable\n"


def test_every_transport_sends_keepalives(remote):
    from remote_training.fleet.remote import KEEPALIVE_S

    remote.run("desktop", ["true"])
    transport = remote.connection(remote.inventory.get("desktop")).transport
    assert transport.packetizer._Packetizer__keepalive_interval == KEEPALIVE_S == 15


FAN_OUT_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from remote_training.fleet.inventory import parse_inventory
from remote_training.fleet.remote import RemoteRunner
inv = parse_inventory("hosts:\\n  mute:\\n    ssh: root@127.0.0.1:{port}\\n    gpu_memory_gb: 1\\n", Path("h.yaml"))
runner = RemoteRunner(inv, connect_timeout=30)  # the host's own connect would wait 30 s for a banner
start = time.monotonic()
outcome = runner.fan_out(list(inv.hosts), lambda h: runner.run(h, ["true"]), deadline=1)
print(f"answered {{time.monotonic() - start:.2f}}", sorted(outcome.failed), sorted(outcome.succeeded), flush=True)
"""


def test_fan_out_deadline_does_not_hold_the_process_at_exit(tmp_path):
    """A host that accepts TCP and never speaks SSH: fan_out answers at its 1 s deadline and the
    process exits right after, not when the stuck connect gives up (its pool thread used to be joined)."""
    import socket
    import subprocess
    import sys

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel accepts; nobody ever sends an SSH banner
    try:
        script = FAN_OUT_SCRIPT.format(root=str(ROOT),
                                       port=listener.getsockname()[1])
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                              cwd=tmp_path)
        elapsed = time.monotonic() - start
    finally:
        listener.close()
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    assert words[0] == "answered" and 0.9 <= float(words[1]) < 2.5, done.stdout
    assert done.stdout.split(" ", 2)[2].strip() == "['mute'] []"
    assert elapsed < 5, f"the process exited {elapsed:.1f}s after start; answered at {words[1]}s"
