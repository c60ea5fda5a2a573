"""The command line itself (no sandbox): `rt` (rt_rt_tasks/program.py) and `inv` from the repository root, which
follows the same rules once it has loaded the tasks. Every command-line test runs through both."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Collection, Exit, Program, task

from rt_tasks.program import RTProgram, adopt, as_exit, optional_positional

ROOT = Path(__file__).resolve().parent.parent
CLIS = {"inv": ([sys.executable, "-m", "invoke"], "inv[oke]"), "rt": ([sys.executable, "-m", "rt_tasks"], "rt")}


@pytest.fixture(params=sorted(CLIS))
def cli(request, tmp_path):
    """Runs one of the two commands in the repository root, with a bare environment and an empty HOME."""
    command, binary = CLIS[request.param]

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
        full = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path / "home"), **(env or {})}
        return subprocess.run([*command, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=60)

    run.binary = binary  # type: ignore[attr-defined]
    return run


@pytest.mark.parametrize("task_name", ["vm.start", "vm.stop", "jobs.logs", "jobs.stop", "jobs.wait", "images.push"])
def test_help_after_a_task_whose_positional_is_missing_prints_its_help(cli, task_name):
    # Plain Invoke (2.x and 3.x) would run the task with "--help" as the positional value (invoke#982).
    out = cli(task_name, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Usage: {cli.binary} [--core-opts] {task_name} ") and "Docstring:" in out.stdout
    assert "--help" not in out.stderr and out.stderr == ""


def test_help_after_a_given_positional_and_before_the_task_still_work(cli):
    after = cli("vm.stop", "train2", "--help")
    before = cli("--help", "vm.stop")
    assert after.returncode == before.returncode == 0 and after.stdout == before.stdout
    assert after.stdout.startswith(f"Usage: {cli.binary} [--core-opts] vm.stop ")


def test_image_names_are_an_optional_positional(cli):
    env = {"INVOKE_IMAGES_CATALOG": str(ROOT / "docker/sandbox/images.yaml")}
    # No names: every image (whatever the registry says, the parser let it through).
    assert "did not receive required positional arguments" not in cli("images.plan", "--json", env=env).stderr
    named = cli("images.plan", "nope", "--json", env=env)
    assert named.returncode == 2 and "unknown image 'nope'" in named.stderr, named.stderr
    flag_first = cli("images.plan", "--json", "nope", env=env)
    assert flag_first.returncode == 2 and "unknown image 'nope'" in flag_first.stderr, flag_first.stderr


def test_a_positional_that_is_missing_still_fails_clearly(cli):
    out = cli("vm.start")
    assert out.returncode != 0 and "'vm.start' did not receive required positional arguments: 'host'" in out.stderr


@pytest.mark.parametrize("argv", [["--dry", "vm.start", "train2"], ["-R", "vm.start", "train2"],
                                  ["vm.start", "--dry", "train2"], ["vm.start", "train2", "-R"]])
def test_invokes_dry_flag_is_the_tasks_dry_run(cli, argv):
    # vm.start would call the Nebius API; its --dry-run prints the call instead, and so does Invoke's --dry,
    # wherever it is typed (before the host too, where plain Invoke would take it for the host).
    expected = cli("vm.start", "train2", "--dry-run")
    assert expected.returncode == 0 and "InstanceService.Start" in expected.stdout, expected.stderr
    out = cli(*argv)
    assert (out.returncode, out.stdout, out.stderr) == (0, expected.stdout, "")


def test_a_core_error_is_one_stderr_line_and_its_exit_code(cli):
    out = cli("vm.start", "nope")
    assert out.returncode == 3, out.stderr  # InventoryError: unknown host
    assert out.stderr.startswith("error: unknown host 'nope'") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_rt_runs_from_any_directory(tmp_path):
    # inv finds the tasks from the repository root only; rt loads them wherever it runs (installed package).
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run([*CLIS["rt"][0], "--list"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "vm.start" in out.stdout and "images.push" in out.stdout, out.stderr


def test_rt_console_script_is_declared():
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    assert cfg["options.entry_points"]["console_scripts"].split() == ["rt", "=", "rt_tasks.program:program.run"]


# The Program on a collection of its own: the rules without the project's tasks.

@task(positional=["host"], help={"host": "a host", "dry_run": "act on nothing"})
def stop(c, host, dry_run=False):
    """Stop HOST."""
    print(f"stop host={host!r} dry_run={dry_run}")


@task(positional=["names"])
def plan(c, names=None, json=False):
    """Plan NAMES."""
    print(f"plan names={names!r} json={json}")


@task(positional=["src", "dst"])
def copy(c, src, dst):
    """Copy SRC to DST."""
    from remote_training.errors import InputError

    raise InputError(f"cannot copy {src} to {dst}", fix="copy something else")


optional_positional("plan", "names")


def run_program(capsys, *argv: str) -> tuple[int, str, str]:
    ns = Collection(stop, plan, copy)
    code = 0
    try:
        RTProgram(namespace=ns, name="t", binary="t").run(["t", *argv])
    except SystemExit as done:
        code = int(done.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("argv, expected", [
    (["stop", "a"], "stop host='a' dry_run=False"),
    (["stop", "--dry", "a"], "stop host='a' dry_run=True"),
    (["-R", "stop", "a"], "stop host='a' dry_run=True"),
    (["stop", "a", "--dry-run"], "stop host='a' dry_run=True"),
    (["stop", "--dry-run", "a"], "stop host='a' dry_run=True"),
    (["stop", "--", "x"], None),  # the remainder is not the positional: still missing
    (["plan"], "plan names='' json=False"),
    (["plan", "--json"], "plan names='' json=True"),
    (["plan", "--json", "x"], "plan names='x' json=True"),
    (["plan", "x", "stop", "b"], "plan names='x' json=False\nstop host='b' dry_run=False"),
    (["plan", "stop", "b"], None),  # as Invoke does: a missing positional takes the next word, task name or not
    (["plan", "--json=false"], None),  # a bool flag takes no value: Invoke's error
    (["--echo", "plan"], "plan names='' json=False"),
    (["plan", "x", "--hide", "both"], "plan names='x' json=False"),  # a core flag's value stays with it
    (["plan", "--hide", "both", "--json"], "plan names='' json=True"),
    (["stop", "-T", "5", "a"], "stop host='a' dry_run=False"),
    (["stop", "--command-timeout=5", "a", "-R"], "stop host='a' dry_run=True"),
])
def test_the_program_reads_argv_as_invoke_does_but_for_its_rules(capsys, argv, expected):
    code, out, err = run_program(capsys, *argv)
    if expected is None:
        assert code != 0 and err, (out, err)
    else:
        assert (code, out.strip(), err) == (0, expected, "")


@pytest.mark.parametrize("argv, name", [
    (["stop", "--help"], "stop"), (["stop", "x", "--help"], "stop"), (["--help", "stop"], "stop"),
    (["plan", "-h"], "plan"), (["plan", "--json", "--help"], "plan"), (["copy", "a", "--help"], "copy"),
    (["plan", "x", "stop", "y", "--help"], "stop"), (["copy", "--help", "a", "b"], "copy"),
])
def test_task_help_wherever_it_is_asked(capsys, argv, name):
    code, out, err = run_program(capsys, *argv)
    assert code == 0 and err == "" and out.startswith(f"Usage: t [--core-opts] {name} "), (out, err)


def test_dash_h_is_help_even_where_a_plain_tasks_flag_took_it(capsys):
    # `host` of a plain `@task` gets -h from Invoke; `stop -h` would ask for the host's value and
    # `stop -h a` would stop host a. Here both print the help and run nothing.
    for argv in (["stop", "-h"], ["stop", "-h", "a"], ["stop", "a", "-h"], ["stop", "-hx"]):
        code, out, err = run_program(capsys, *argv)
        assert code == 0 and err == "" and out.startswith("Usage: t [--core-opts] stop "), (argv, out, err)
    assert run_program(capsys, "stop", "--dry-run", "--", "-h")[0] != 0  # after --: not ours, and host missing


def test_project_tasks_never_take_dash_h_and_keep_every_other_short_flag():
    """`rt_task` (rt_tasks._cli.RTTask) drops only the `h` Invoke would give; each other flag keeps its letter."""
    from invoke import Task

    from rt_tasks import ns
    from rt_tasks._cli import RTTask

    for name in ns.task_names:
        mine = ns[name]
        assert isinstance(mine, RTTask), name
        # copies: Invoke's get_arguments consumes a task's help mapping
        ours, plain = (kind(mine.body, positional=mine.positional, optional=mine.optional, iterable=mine.iterable,
                            incrementable=mine.incrementable) for kind in (RTTask, Task))
        ours = {a.name: a.names for a in ours.get_arguments()}
        invokes = {a.name: tuple(n for n in a.names if n != "h") for a in plain.get_arguments()}
        assert ours == invokes, name
        assert all("h" not in names for names in ours.values()), name


def test_a_typed_error_leaves_as_one_line_and_its_code(capsys):
    code, out, err = run_program(capsys, "copy", "a", "b")
    assert (code, out, err) == (2, "", "error: cannot copy a to b (fix: copy something else)\n")


def test_as_exit_is_the_mapping():
    from remote_training.errors import JobFailed, NoCapacityError

    assert as_exit(NoCapacityError("none")).code == 7 and as_exit(NoCapacityError("none")).message == "error: none"
    assert as_exit(KeyboardInterrupt()).code == 130
    failed = JobFailed("job x failed", exit_code=42)
    assert isinstance(as_exit(failed), Exit) and as_exit(failed).code == 42


def test_only_a_plain_invoke_program_is_adopted():
    plain, other = Program(), type("Other", (Program,), {})()
    adopt(plain), adopt(other)
    assert type(plain) is RTProgram and type(other).__name__ == "Other"


# Each default is declared once, in its domain's ns.configure.

def _setting_calls() -> list[tuple[Path, int, list[ast.expr]]]:
    calls = []
    for path in sorted((ROOT / "rt_tasks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setting":
                calls.append((path, node.lineno, node.args))
    return calls


def test_every_setting_is_read_without_a_second_default_and_is_declared():
    from rt_tasks import ns

    declared = ns.configuration()
    calls = _setting_calls()
    assert len(calls) > 10
    for path, line, args in calls:
        where = f"{path.relative_to(ROOT)}:{line}"
        assert len(args) == 2 and isinstance(args[1], ast.Constant), f"{where}: setting(c, KEY) only"
        node = declared
        for part in args[1].value.split("."):
            assert isinstance(node, dict) and part in node, f"{where}: {args[1].value} is not in ns.configure"
            node = node[part]


def test_setting_falls_back_to_the_declared_default():
    from invoke import Config, Context

    from rt_tasks._cli import setting

    c = Context(Config(overrides={"vm": {"start_timeout": 5}}))
    assert setting(c, "vm.start_timeout") == 5 and setting(c, "vm.stop_timeout") == 600
    assert setting(c, "hosts.file") == "" and setting(c, "hosts.connect_timeout") == 5
    with pytest.raises(KeyError, match="ns.configure"):
        setting(c, "vm.no_such_key")


def test_the_fast_exit_loses_no_output_and_keeps_exit_codes(cli, tmp_path):
    """The process ends without the interpreter's teardown (rt_tasks/program.leave): a long piped listing
    still arrives whole, and a failing task still exits with its own code and one stderr line."""
    import json

    hosts = tmp_path / "hosts.yaml"
    hosts.write_text("hosts:\n" + "".join(f"  host-{i:03d}:\n    ssh: root@10.213.9.{i}\n    gpu: H100\n    gpu_memory_gb: 80\n"
                                          for i in range(200)))
    listed = cli("hosts.list", "--json", env={"INVOKE_HOSTS_FILE": str(hosts)})
    assert listed.returncode == 0, listed.stderr
    assert [h["name"] for h in json.loads(listed.stdout)] == [f"host-{i:03d}" for i in range(200)]
    failed = cli("vm.start", "nope", "--dry-run", env={"INVOKE_HOSTS_FILE": str(hosts)})
    from remote_training.errors import InventoryError, exit_code_for

    code = exit_code_for(InventoryError("unknown host", "fix"))
    assert failed.returncode == code != 0 and failed.stderr.count("\n") == 1 and "unknown host 'nope'" in failed.stderr
