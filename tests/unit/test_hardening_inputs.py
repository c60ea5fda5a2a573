"""Bad inputs are refused with one line that names the fix: hosts.yaml values and command-line arguments."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from remote_training import validate
from remote_training.errors import ExitCode, InputError, InventoryError
from remote_training.fleet.inventory import compose_problem, parse_inventory, split_ssh_target
from tests.support import PROGRAMS, ROOT, USAGE_NAMES, run_cli


def _host(extra: str = "", ssh: str = "u@h", name: str = "a") -> str:
    return f"hosts:\n  {name}:\n    ssh: {ssh}\n    gpu_memory_gb: 80\n{extra}"


BAD_HOSTS = [
    ("empty workdir", _host("    workdir: ''\n"), ["key 'workdir'", "got ''", "write workdir: ~/remote-training"]),
    ("null workdir", _host("    workdir:\n"), ["key 'workdir'", "got None"]),
    ("option workdir", _host("    workdir: -rf\n"), ["key 'workdir'", "starts with '-'"]),
    ("root workdir", _host("    workdir: /\n"), ["key 'workdir'", "whole home or root folder"]),
    ("compose rm", _host("    compose: 'rm -rf ~'\n"), ["key 'compose'", "shell metacharacters", "'~'",
                                                          "write compose: docker compose"]),
    ("compose not compose", _host("    compose: 'rm -rf /tmp/x'\n"), ["key 'compose'", "is not a compose command"]),
    ("compose chain", _host("    compose: 'docker compose; reboot'\n"), ["key 'compose'", "shell metacharacters"]),
    ("compose option", _host("    compose: '--project x compose'\n"), ["key 'compose'", "starts with an option"]),
    # nothing may run before compose, nor ride along as a flag: the value is data
    ("compose touch first", _host("    compose: 'touch /tmp/x docker-compose'\n"),
     ["key 'compose'", "'touch' would run first", "nothing that runs first"]),
    ("compose sudo", _host("    compose: 'sudo docker compose'\n"), ["'sudo' would run first"]),
    ("compose env", _host("    compose: 'env LD_PRELOAD=/tmp/x.so docker compose'\n"), ["'env' would run first"]),
    ("compose nice", _host("    compose: 'nice docker-compose'\n"), ["'nice' would run first"]),
    ("compose sh", _host("    compose: 'sh -c docker-compose'\n"), ["'sh' would run first"]),
    ("compose relative path", _host("    compose: 'bin/docker-compose'\n"), ["bare name or an absolute path"]),
    ("compose dotdot path", _host("    compose: '/usr/../tmp/docker-compose'\n"), ["without '..'"]),
    ("compose lookalike", _host("    compose: '/tmp/evil-compose'\n"), ["'/tmp/evil-compose' would run first"]),
    ("compose no compose", _host("    compose: 'docker run'\n"), ["no 'compose' after 'docker'"]),
    ("compose docker run after", _host("    compose: 'docker compose run -v /:/host'\n"),
     ["'run' is not a flag a compose command may carry"]),
    ("compose config dir", _host("    compose: 'docker --config /tmp/plugins compose'\n"),
     ["'--config' is not a flag"]),
    ("compose host flag", _host("    compose: 'docker -H ssh://evil compose'\n"), ["'-H' is not a flag"]),
    ("compose dangling -f", _host("    compose: 'docker compose -f'\n"), ["-f needs one value"]),
    ("compose -f option value", _host("    compose: 'docker compose -f --privileged'\n"), ["-f needs one value"]),
    ("compose empty =", _host("    compose: 'docker compose --file='\n"), ["--file needs one value"]),
    ("compose number", _host("    compose: 7\n"), ["must be a command, got 7"]),
    ("compose list", _host("    compose: [docker, compose]\n"), ["must be a command"]),
    ("workdir climbs", _host("    workdir: ../../../../tmp/rtwd\n"), ["key 'workdir'", "climbs out with '..'"]),
    ("workdir climbs absolute", _host("    workdir: /home/u/../../tmp\n"), ["climbs out with '..'"]),
    ("workdir climbs home", _host("    workdir: ~/../other\n"), ["climbs out with '..'"]),
    ("workdir other home", _host("    workdir: ~root/x\n"), ["another user's home"]),
    ("workdir dot", _host("    workdir: .\n"), ["whole home or root folder"]),
    ("workdir home slash dot", _host("    workdir: ~/.\n"), ["whole home or root folder"]),
    ("workdir mapping", _host("    workdir: {a: 1}\n"), ["must be a folder on the host"]),
    ("host as option", _host(ssh="u@-Jx"), ["key 'ssh'", "host '-Jx' starts with '-'", "ProxyJump"]),
    ("user as option", _host(ssh="-lroot@h"), ["key 'ssh'", "'-lroot@h' starts with '-'"]),
    ("bare option", _host(ssh="'-oProxyCommand=x'"), ["key 'ssh'", "starts with '-'"]),
    ("port 0", _host(ssh="h:0"), ["key 'ssh'", "port 0 is out of range", "1 to 65535"]),
    ("port too big", _host(ssh="h:65536"), ["port 65536 is out of range"]),
    ("bare ipv6", _host(ssh="'fe80::1'"), ["key 'ssh'", "IPv6 address must be written in brackets",
                                           "write [fe80::1] or [fe80::1]:22"]),
    ("bare ipv6 with user", _host(ssh="'root@fe80::1'"), ["write root@[fe80::1] or root@[fe80::1]:22"]),
    ("bad ipv6", _host(ssh="'[fe80::zz]'"), ["bad ssh target"]),
    ("bracketed not ipv6", _host(ssh="'[1.2.3]'"), ["is not an IPv6 address"]),
    ("host auto", _host(name="auto"), ["host 'auto'", "reserved word", "rename the host"]),
    ("host all", _host(name="all"), ["host 'all'", "reserved word"]),
    ("alias all", _host("    aliases: [train, all]\n"), ["key 'aliases'", "'all' is a reserved word", "another alias"]),
    ("alias auto string", _host("    aliases: auto\n"), ["'auto' is a reserved word"]),
    ("tags string", _host("    tags: gpu\n"),
     ["key 'tags'", "must be a list of names, got 'gpu'", "write tags: [gpu]"]),
    ("tags mapping", _host("    tags: {a: 1}\n"), ["key 'tags'", "must be a list"]),
    ("tags numbers", _host("    tags: [1, 2]\n"), ["key 'tags'", "must be a list of names"]),
    ("memory inf", _host().replace("80", ".inf"), ["bad memory value inf", "positive, finite"]),
    ("memory -inf", _host().replace("80", "-.inf"), ["bad memory value -inf"]),
    ("memory nan", _host().replace("80", ".nan"), ["bad memory value nan"]),
    ("memory negative", _host().replace("80", "-1"), ["bad memory value -1"]),
    ("memory zero", _host().replace("80", "0"), ["bad memory value 0"]),
    ("memory zero text", _host().replace("80", "'0 GB'"), ["bad memory value '0 GB'"]),
]


@pytest.mark.parametrize("text,expected", [(t, e) for _, t, e in BAD_HOSTS], ids=[n for n, _, _ in BAD_HOSTS])
def test_bad_host_value_is_refused_with_its_fix(text, expected):
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, Path("/etc/fleet.yaml"))
    message = str(caught.value)
    assert message.startswith("/etc/fleet.yaml: host ") and "(fix: " in message
    assert message.count("\n") == 0, message
    for fragment in expected:
        assert fragment in message, message


def test_every_problem_of_a_file_is_named_at_once():
    text = ("hosts:\n  auto:\n    ssh: u@h\n    gpu_memory_gb: 8\n"
            "  b:\n    ssh: 'fe80::1'\n    gpu_memory_gb: .inf\n    tags: gpu\n    workdir: ''\n"
            "    compose: 'rm -rf ~'\n")
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, Path("x.yaml"))
    lines = str(caught.value).splitlines()
    assert len(lines) == 6, lines
    for key in ("host 'auto'", "'ssh'", "'gpu_memory_gb'", "'tags'", "'workdir'", "'compose'"):
        assert sum(key in line for line in lines) == 1, (key, lines)


GOOD_TARGETS = [
    ("u@h", ("u", "h", None)), ("h", (None, "h", None)), ("h:2222", (None, "h", 2222)),
    ("bob@box.example.com:22", ("bob", "box.example.com", 22)), ("[fe80::1]", (None, "fe80::1", None)),
    ("root@[fe80::1]:22", ("root", "fe80::1", 22)), ("[2001:db8::5]:65535", (None, "2001:db8::5", 65535)),
    ("ci-user@vm-train2", ("ci-user", "vm-train2", None)), ("h:1", (None, "h", 1)),
]


@pytest.mark.parametrize("target,parts", GOOD_TARGETS, ids=[t for t, _ in GOOD_TARGETS])
def test_good_ssh_targets_load_and_split(target, parts):
    inv = parse_inventory(_host(ssh=f"'{target}'"), Path("f.yaml"))
    host = inv.get("a")
    assert (host.ssh_user, host.ssh_host, host.ssh_port) == parts == split_ssh_target(target)


@pytest.mark.parametrize("command", ["docker compose", "docker-compose", "podman compose", "podman-compose",
                                     "/usr/local/bin/docker-compose", "/usr/bin/docker compose",
                                     "docker --context gpu compose", "docker -c gpu compose -p team",
                                     "docker compose -f base.yml --project-name team", "docker compose --file=x.yml",
                                     "docker-compose --compatibility -p x", "docker --log-level=error compose",
                                     "docker compose --env-file /etc/rt/env --profile gpu --ansi never"])
def test_compose_commands_that_are_compose_are_accepted(command):
    assert compose_problem(command) is None
    inv = parse_inventory(_host(f"    compose: '{command}'\n"), Path("f.yaml"))
    assert inv.get("a").compose == tuple(command.split())


def test_good_values_keep_loading():
    inv = parse_inventory(_host("    tags: [gpu, h100]\n    workdir: ' ~/rt '\n    aliases: [train]\n"), Path("f.yaml"))
    host = inv.get("a")
    assert (host.tags, host.workdir, host.aliases, host.gpu_memory_gb) == (("gpu", "h100"), "~/rt", ("train",), 80.0)
    assert parse_inventory(_host("    tags:\n"), Path("f.yaml")).get("a").tags == ()


# -- the validators the command line uses ----------------------------------------------------------

@pytest.mark.parametrize("check,value,expected", [
    (lambda v: validate.duration(v, "--idle"), "0", "--idle must be longer than zero"),
    (lambda v: validate.duration(v, "--idle"), "0m", "--idle must be longer than zero"),
    (lambda v: validate.duration(v, "--idle"), 0, "--idle must be longer than zero"),
    (lambda v: validate.duration(v, "--idle"), "-5m", "--idle '-5m' is not a duration"),
    (lambda v: validate.duration(v, "--idle"), "soon", "--idle 'soon' is not a duration"),
    (lambda v: validate.duration(v, "--idle"), "", "--idle is empty"),
    (lambda v: validate.duration(v, "--idle"), float("inf"), "--idle must be longer than zero"),
    (lambda v: validate.percent(v, "--threshold"), "1000", "--threshold '1000' is not a percentage"),
    (lambda v: validate.percent(v, "--threshold"), "-1", "--threshold '-1' is not a percentage"),
    (lambda v: validate.percent(v, "--threshold"), "nan", "--threshold 'nan' is not a percentage"),
    (lambda v: validate.percent(v, "--threshold"), "abc", "--threshold must be a number, got 'abc'"),
    (validate.job_ref, "", "job id is empty (an empty prefix would match every job)"),
    (validate.job_ref, "   ", "job id is empty"),
    (validate.job_ref, None, "job id is empty"),
    (validate.job_ref, "groot-*", "job id 'groot-*' is not a job id"),
    (validate.job_ref, "-a", "job id '-a' is not a job id"),
    (validate.s3_folder, "s3://checkpoints", "output 's3://checkpoints' is a bucket root"),
    (validate.s3_folder, "s3://checkpoints/", "output 's3://checkpoints/' is a bucket root"),
    (validate.s3_folder, "checkpoints/x", "output 'checkpoints/x' is not an s3:// URL"),
])
def test_bad_argument_is_one_line_with_a_fix(check, value, expected):
    with pytest.raises(InputError) as caught:
        check(value)
    text = str(caught.value)
    assert text.startswith(expected), text
    assert "\n" not in text and "(fix: " in text and caught.value.exit_code == ExitCode.BAD_INPUT


def test_good_arguments_come_back_cleaned():
    assert validate.duration("30m") == 1800 and validate.duration("2h") == 7200 and validate.duration(90) == 90
    assert validate.percent("10") == 10 and validate.percent("0") == 0 and validate.percent("100%") == 100
    assert validate.job_ref(" groot-train-250101-120000-ab12 ") == "groot-train-250101-120000-ab12"
    assert validate.job_ref("all") == "all"
    assert validate.s3_folder("s3://checkpoints/run1/") == "s3://checkpoints/run1/"
    assert "bucket root" in str(validate.check_options({"output": "s3://interim"})[0])
    assert validate.check_options({"output": "s3://interim/x/", "input": "s3://interim"}) == []


def _inv(*args: str, hosts: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    extra = {"INVOKE_HOSTS_FILE": str(hosts)} if hosts else {}
    return run_cli(*args, timeout=60, env={**os.environ, **extra, **(env or {})})


@pytest.mark.parametrize("args,expected", [
    (["--idle", "0"], "error: --idle must be longer than zero, got '0' (fix: write e.g. 30m, 2h or 90s)"),
    (["--idle", "-5m"], "error: --idle '-5m' is not a duration (fix: write e.g. 30m, 2h or 90s)"),
    (["--idle", "soon"], "error: --idle 'soon' is not a duration (fix: write e.g. 30m, 2h or 90s)"),
    (["--max-gap", "0"], "error: --max-gap must be longer than zero, got '0' (fix: write e.g. 30m, 2h or 90s)"),
    (["--threshold", "1000"],
     "error: --threshold '1000' is not a percentage (fix: give a percentage from 0 to 100, e.g. 10)"),
    (["--threshold", "abc"],
     "error: --threshold must be a number, got 'abc' (fix: give a percentage from 0 to 100, e.g. 10)"),
])
def test_vm_reap_refuses_bad_arguments_before_touching_anything(tmp_path, args, expected):
    # An inventory whose only host is unreachable: had reap gone on, it would have sampled it.
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("hosts:\n  a:\n    ssh: root@127.0.0.1:9\n    gpu_memory_gb: 8\n")
    done = _inv("vm.reap", *args, hosts=hosts, env={"INVOKE_VM_STATE_DIR": str(tmp_path / "state")})
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr
    assert done.stdout == "" and done.stderr.strip() == expected
    assert not (tmp_path / "state").exists(), "nothing may be sampled"


def test_bad_hosts_yaml_is_refused_by_the_cli_with_the_inventory_code(tmp_path):
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(_host("    compose: 'rm -rf ~'\n", ssh="u@-Jx"))
    done = _inv("hosts.list", hosts=hosts)
    assert done.returncode == ExitCode.INVENTORY and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and "starts with '-'" in lines[0] and "key 'compose'" in lines[1], lines


# -- `-h` is help, on every task, and acts on nothing ------------------------------------------------

def listed_tasks(program: str, env: dict[str, str]) -> list[str]:
    """Every task name `--list` shows (its flat format: a name per entry, aliases in brackets)."""
    import re

    done = run_cli("--list", "--list-format", "flat", env=env, timeout=60, program=program)
    assert done.returncode == 0, done.stderr
    return re.findall(r"^  (\S+)", done.stdout, re.MULTILINE)


def help_on_every_task(cli: str, env: dict[str, str]) -> dict[str, subprocess.CompletedProcess]:
    """`CLI TASK -h` for every task `CLI --list` shows, each a process of its own."""
    from concurrent.futures import ThreadPoolExecutor

    names = listed_tasks(cli, env)
    with ThreadPoolExecutor(4) as pool:
        runs = pool.map(lambda name: run_cli(name, "-h", env=env, timeout=60, program=cli), names)
        return dict(zip(names, runs))


def assert_help_only(binary: str, done: dict[str, tuple[int, str, str]]) -> None:
    """Each task's answer is its help: exit 0, nothing on stderr, and no flag of its own on -h."""
    import re

    assert len(done) >= 30, sorted(done)  # the whole list, not a few
    for name, (code, out, err) in done.items():
        assert code == 0 and err == "", (name, err)
        assert out.startswith(f"Usage: {binary} [--core-opts] {name} ") and "Docstring:" in out, (name, out[:200])
        # no flag of the task answers to -h any more (Invoke's auto short flag for --host, --hosts)
        assert not re.search(r"^\s+-h[ ,]", out, re.MULTILINE), (name, out)


def test_dash_h_on_every_task_prints_its_help_and_does_nothing_else(capsys, monkeypatch, tmp_path):
    """In-process over the whole collection (the processes of `rt` and `inv`, over what `--list` shows, run in
    tests/sandbox/test_faults.py against the sandbox fleet). Were a task to run, it would find an inventory whose one
    host nothing answers for, an empty HOME and state dir (vm.contexts writes ~/.docker, vm.reap its samples),
    and a PATH holding no program at all."""
    from rt_tasks import ns
    from rt_tasks.program import RTProgram

    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("hosts:\n  a:\n    ssh: root@127.0.0.1:9\n    gpu_memory_gb: 8\n"
                     "    provider: {type: command, start: 'touch started', stop: 'touch stopped', "
                     "state: 'echo running'}\n")
    home, state, empty = tmp_path / "home", tmp_path / "state", tmp_path / "bin"
    for folder in (home, state, empty):
        folder.mkdir()
    for key, value in {"PATH": empty, "HOME": home, "INVOKE_VM_STATE_DIR": state, "INVOKE_HOSTS_FILE": hosts,
                       "INVOKE_JOBS_LEDGER": state / "ledger.jsonl", "DOCKER_HOST": "unix:///nonexistent"}.items():
        monkeypatch.setenv(key, str(value))
    monkeypatch.chdir(tmp_path)
    done = {}
    for name in sorted(ns.task_names):
        try:
            RTProgram(namespace=ns, name="rt", binary="rt").run(["rt", name, "-h"])
            code = 0
        except SystemExit as leaving:
            code = int(leaving.code or 0)
        out = capsys.readouterr()
        done[name] = (code, out.out, out.err)
    assert_help_only("rt", done)
    assert [p for p in tmp_path.rglob("*") if p not in (hosts, home, state, empty)] == []


@pytest.mark.parametrize("argv", [["vm.reap", "-h"], ["vm.reap", "--dry-run", "-h"], ["vm.stop", "train2", "-h"],
                                  ["jobs.clean", "--user", "x", "-h"], ["sandbox.up", "-h", "3"]])
@pytest.mark.parametrize("cli", sorted(PROGRAMS))
def test_dash_h_anywhere_in_a_task_is_its_help(cli, argv):
    done = run_cli(*argv, timeout=60, program=cli,
                   env={**os.environ, "PATH": "/nonexistent", "INVOKE_HOSTS_FILE": "/nonexistent/hosts.yaml"})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.startswith(f"Usage: {USAGE_NAMES[cli]} [--core-opts] {argv[0]} "), done.stdout[:200]


def fleet_now(sandbox) -> dict[str, str]:
    """What is on the sandbox fleet: each host's containers (every state) and each VM's power state."""
    import json

    seen = {}
    for host in ("desktop", "vm-train", "vm-train2", "vm-train3"):
        ps = subprocess.run(["ssh", "-F", str(sandbox["root"] / ".sandbox" / "ssh_config"), host,
                             "docker ps -a --no-trunc --format '{{.ID}} {{.State}}' | sort"],
                            capture_output=True, text=True, timeout=60)
        seen[host] = ps.stdout if ps.returncode == 0 else "unreachable"
    status = run_cli("vm.status", "--json", timeout=120, program="rt",
                     env={**os.environ, "INVOKE_HOSTS_FILE": str(sandbox["hosts_file"])})
    seen["power"] = json.dumps(sorted((row["name"], row["state"]) for row in json.loads(status.stdout)))
    return seen


@pytest.mark.parametrize("cli", sorted(PROGRAMS))
def test_dash_h_on_every_listed_task_leaves_the_sandbox_fleet_as_it_was(sandbox, cli, tmp_path):
    """`rt TASK -h` and `inv TASK -h`, as processes, for every task `--list` shows, pointed at the sandbox
    fleet: each prints its help, and no container, VM, sample, ledger line or docker context appears."""
    home, state = tmp_path / "home", tmp_path / "state"
    home.mkdir(), state.mkdir()
    env = {**os.environ, "HOME": str(home), "INVOKE_VM_STATE_DIR": str(state),
           "INVOKE_JOBS_LEDGER": str(state / "ledger.jsonl"),
           "INVOKE_HOSTS_FILE": str(sandbox["hosts_file"])}
    before = fleet_now(sandbox)
    done = help_on_every_task(cli, env)
    assert_help_only(USAGE_NAMES[cli], {name: (r.returncode, r.stdout, r.stderr) for name, r in done.items()})
    assert fleet_now(sandbox) == before
    assert sorted(tmp_path.rglob("*")) == sorted([home, state])


# -- ports, and an output apart from its inputs ------------------------------------------------------

CURRENT = ROOT / "docker" / "sandbox" / "checkouts" / "positronic-a060cbea" / "docker"
HOSTS_ONE = "hosts:\n  desktop: {ssh: root@127.0.0.1:9, gpu_memory_gb: 12}\n"


def _plan(job, port=None):
    from remote_training.errors import PreflightError
    from remote_training.jobs.catalog import load_checkout
    from remote_training.jobs.run import plan_job

    checkout = load_checkout(CURRENT)
    images = {name: f"registry.example/positro/{name}:v1" for name in checkout.services}
    try:
        return plan_job(job, checkout, parse_inventory(HOSTS_ONE, Path("f.yaml")), images, host="desktop", port=port)
    except PreflightError as refused:
        return refused


BAD_PORTS = ["0", 0, "8000:8000 -v /:/host", "8000:8000", "", " ", "abc", "70000", "65536", "-1", "8000-8010",
             "1e3", "8000 9000", "0x1f40", "80", True, "9000/udp", "--publish=1:1"]


@pytest.mark.parametrize("port", BAD_PORTS, ids=[repr(p) for p in BAD_PORTS])
def test_a_port_that_is_not_one_port_in_range_is_refused_never_defaulted(port):
    from remote_training.errors import PreflightError
    from remote_training.jobs.services import GrootServer, ServiceRun

    for job in (GrootServer("s3://checkpoints/run/"), ServiceRun("groot-server", ("phail",))):
        refused = _plan(job, port)
        assert isinstance(refused, PreflightError), (port, refused)
        [(check, message, fix)] = refused.failures
        assert check == "arguments" and "port" in message and "\n" not in message and fix, (message, fix)


def test_good_ports_come_through_as_numbers_and_none_is_the_servers_own():
    from remote_training.jobs.services import GrootServer

    assert _plan(GrootServer("s3://checkpoints/run/"), "9001").spec.port == 9001
    assert _plan(GrootServer("s3://checkpoints/run/"), " 65535 ").spec.port == 65535
    assert _plan(GrootServer("s3://checkpoints/run/")).spec.port == 8000  # the era's server port


def test_a_port_for_a_job_that_serves_nothing_is_refused():
    from remote_training.jobs.services import Stats

    refused = _plan(Stats("s3://interim/ds/", "s3://interim/ds-stats/"), "9000")
    assert "serves nothing" in str(refused) and "drop --port" in str(refused)


OVERLAPS = [("s3://interim/ds/", "s3://interim/ds/", "is the input"),
            ("s3://interim/ds", "s3://interim/ds/run/", "is inside the input"),
            ("s3://interim/ds/", "s3://interim/ds/a/b/c", "is inside the input"),
            ("s3://interim/ds/sub/", "s3://interim/ds/", "holds the input"),
            ("s3://interim", "s3://interim/anything/", "is inside the input")]


@pytest.mark.parametrize("source,output,said", OVERLAPS)
def test_an_output_inside_an_input_or_holding_it_is_refused(source, output, said):
    from remote_training.errors import PreflightError
    from remote_training.jobs.services import GrootTrain, Stats

    for job in (Stats(source, output), GrootTrain(source, output, exp_name="x")):
        refused = _plan(job)
        assert isinstance(refused, PreflightError) and said in str(refused), (job, refused)
    assert validate.output_apart([source], output)[0].fix


def test_the_openpi_stats_input_counts_too_and_siblings_pass():
    from remote_training.errors import PreflightError
    from remote_training.jobs.services import OpenpiTrain

    inside = OpenpiTrain("s3://interim/ds/", "s3://checkpoints/pi/", exp_name="x",
                         stats_path="s3://checkpoints/pi/assets/")
    assert isinstance(_plan(inside), PreflightError)
    assert "holds the input 's3://checkpoints/pi/assets/'" in str(_plan(inside))
    # beside, and a name that merely starts the same (ds vs ds2): both fine
    assert validate.output_apart(["s3://interim/ds/", "s3://interim/ds-stats/assets/"], "s3://interim/ds2/") == []
    assert validate.output_apart(["s3://interim/ds"], "s3://interim/ds-out") == []


@pytest.mark.parametrize("args", [["jobs.run", "groot-server", "--port", "8000:8000 -v /:/host", "--host", "desktop"],
                                  ["serve.groot", "--checkpoints", "s3://checkpoints/r/", "--modality", "ee",
                                   "--port", "0",
                                   "--host", "desktop"],
                                  ["jobs.logs", "x", "--tail", "last"], ["jobs.wait", "x", "--timeout", "0"],
                                  ["jobs.wait", "x", "--timeout", "soon"], ["dataset.convert", "--dataset", "@a.b",
                                   "--codec", "@c.d", "--output", "s3://interim/o/", "--fps", "fast"]])
def test_bad_numbers_on_the_command_line_are_one_refusal_not_a_traceback(tmp_path, args):
    hosts = tmp_path / "hosts.yaml"
    hosts.write_text(HOSTS_ONE)
    done = _inv(*args, hosts=hosts,
                env={"INVOKE_JOBS_COMPOSE_PROJECT": str(CURRENT), "INVOKE_VM_STATE_DIR": str(tmp_path)})
    assert done.returncode in (ExitCode.BAD_INPUT, ExitCode.PREFLIGHT), done.stderr
    assert "Traceback" not in done.stderr and done.stderr.startswith("error: ") and "(fix: " in done.stderr
    assert "127.0.0.1" not in done.stderr  # refused before any host was tried


def test_resume_and_force_together_are_the_plans_refusal_with_every_other_problem():
    """The plan stage owns every argument check (preflight checks none again): --resume with --force is one
    row beside a bad value, before any host is asked."""
    from remote_training.errors import PreflightError
    from remote_training.jobs.catalog import load_checkout
    from remote_training.jobs.run import plan_job
    from remote_training.jobs.services import GrootTrain

    job = GrootTrain("s3://interim/ds/", "s3://checkpoints/out/", "e1", steps=-3, resume=True)
    checkout = load_checkout(CURRENT)
    with pytest.raises(PreflightError) as refused:
        plan_job(job, checkout, parse_inventory(HOSTS_ONE, Path("f.yaml")), {}, host="desktop", force=True)
    problems = [message for _, message, _ in refused.value.failures]
    assert "--resume and --force both given" in problems and any("steps must be positive" in p for p in problems)
