"""Property tests: no free-text argument can run anything on a host.

Hostile strings (hypothesis text, mixed with shell-injection fragments) go through
the validators, and then, validated or not, through the real launch command
(jobs/compose.py: LAUNCH_SCRIPT + compose_argv, quoted by RemoteRunner) on a sandbox
host, with `printf` standing in for compose so the host prints back what the program
would receive. Every argument must arrive byte for byte, and a canary file that the
fragments try to create must never exist. 1000+ examples run against the host.
"""
from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from remote_training import validate
from remote_training.errors import InputError
from remote_training.fleet.inventory import load_inventory
from remote_training.fleet.remote import RemoteRunner
from remote_training.jobs.compose import LAUNCH_SCRIPT, compose_argv
from remote_training.jobs.project import MARKER
from remote_training.jobs.spec import JobSpec

CANARY = f"/tmp/rt-canary-{uuid.uuid4().hex[:10]}"
FRAGMENTS = [f"$(touch {CANARY})", f"`touch {CANARY}`", f"; touch {CANARY}", f"&& touch {CANARY} &&",
             f"| touch {CANARY}", f"\ntouch {CANARY}\n", f"' ; touch {CANARY} ; '", f'" ; touch {CANARY} ; "',
             f"$(IFS=,;touch${{IFS}}{CANARY})", f"\\'; touch {CANARY} #", f"${{PATH:0:0}}$(touch {CANARY})",
             f"> {CANARY}", f"\r\ntouch {CANARY}", "-rf", "--entrypoint=sh", "*", "~root", "$HOME", "%s%n"]
# argv cannot carry NUL (preflight refuses it, see below); everything else is fair game.
CHARS = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
TEXT = st.text(CHARS, max_size=40)
HOSTILE = st.one_of(TEXT, st.builds(lambda a, f, b: a + f + b, st.text(CHARS, max_size=8), st.sampled_from(FRAGMENTS),
                                    st.text(CHARS, max_size=8)))
# Every argument NUL-terminated, as one hex dump: three processes a launch, not three an argument.
ECHO_HEX = ("sh", "-c", """printf '%s\\0' "$@" | od -An -v -tx1 | tr -d ' \\n'""", "echo-hex")
SLOW = settings(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])


# -- validators: any text is either accepted clean or refused with one line ---------------
@settings(max_examples=1000, deadline=None, database=None)
@given(HOSTILE, st.sampled_from([validate.s3_url, validate.exp_name, validate.modality, validate.observation,
                                 validate.action, validate.config_ref, validate.checkpoint, validate.port,
                                 validate.steps, validate.fps]))
def test_validators_accept_clean_values_or_refuse_in_one_line(text, check):
    try:
        value = check(text)
    except InputError as exc:
        assert "\n" not in exc.message or "control characters" in exc.message
        return
    if isinstance(value, str):
        assert not set(value) & set("$`;|&<>'\"\\\n\r\t *?~%"), (check.__name__, value)


def test_the_plan_refuses_nul_and_control_characters_before_any_host_is_asked():
    """jobs.run passes its arguments through as given: the plan stage refuses control characters in them,
    every one at once (checks on or off: nothing later validates arguments again)."""
    from remote_training.errors import PreflightError
    from remote_training.fleet.inventory import parse_inventory
    from remote_training.jobs.catalog import load_checkout
    from remote_training.jobs.run import plan_job
    from remote_training.jobs.services import ServiceRun
    from tests.support import ROOT

    checkout = load_checkout(ROOT / "docker" / "sandbox" / "checkouts" / "positronic-a060cbea" / "docker")
    inventory = parse_inventory("hosts:\n  vm-train: {ssh: u@vm, gpu: H100, gpu_memory_gb: 80}\n", Path("f.yaml"))
    job = ServiceRun("groot-server", ("--exp_name=a\x00b", "--note=x\ny"))
    with pytest.raises(PreflightError) as refused:
        plan_job(job, checkout, inventory, {}, host="vm-train")
    assert [r[1] for r in refused.value.failures][:2] == ["argument '--exp_name=a\\x00b' contains control characters",
                                                          "argument '--note=x\\ny' contains control characters"]
    assert {r[0] for r in refused.value.failures} == {"arguments"}


# -- the real launch command on a sandbox host ------------------------------------------
@pytest.fixture(scope="module")
def echo_host(sandbox):
    """A sandbox host whose 'compose' is printf, and a project folder with the launch marker."""
    inventory = load_inventory(Path(sandbox["hosts_file"]))
    runner = RemoteRunner(inventory)
    # The arguments come back as hex: the SSH output decoder splits multi-byte characters at chunk
    # boundaries, so printing them raw would blame the wrong layer.
    host = dataclasses.replace(inventory.get("desktop"), compose=ECHO_HEX)
    project = f"rt-free-text-{uuid.uuid4().hex[:6]}"
    runner.run(host, ["sh", "-c", 'mkdir -p "$1" && touch "$1/$2"', "sh", project, MARKER])
    yield runner, host, project
    runner.run(host, ["rm", "-rf", project], check=False)
    assert runner.run(host, ["test", "-e", CANARY], check=False).exit_status == 1, "canary created on the host"
    runner.close()
    assert not Path(CANARY).exists(), "canary created locally"


def launch_echo(echo_host, spec: JobSpec) -> tuple[list[str], list[str]]:
    """Run the launch command exactly as jobs/compose.py builds it; return (received, sent) arguments."""
    runner, host, project = echo_host
    sent = compose_argv(host, spec, [])
    argv = ["sh", "-c", LAUNCH_SCRIPT, "sh", project, "", "", *sent]
    out = runner.run(host, argv, timeout=30)
    received = [arg.decode() for arg in bytes.fromhex(out.stdout.strip()).split(b"\0")[:-1]]
    return received, sent[sent.index(ECHO_HEX[-1]) + 1:]


def job(**kw) -> JobSpec:
    return JobSpec(job_id=f"groot-train-{uuid.uuid4().hex[:6]}", kind=kw.pop("kind", "train"), host="desktop", **kw)


@settings(SLOW, max_examples=600)
@given(exp=HOSTILE, output=HOSTILE, modality=HOSTILE, extra=HOSTILE)
def test_training_arguments_reach_the_program_unchanged(echo_host, exp, output, modality, extra):
    spec = job(service="groot-train", program="positronic.vendors.gr00t.train", era="4261b1aa",
               args=(f"--exp_name={exp}", f"--output_path={output}", f"--modality_config={modality}", extra),
               exp_name=exp)
    received, sent = launch_echo(echo_host, spec)
    assert received == sent
    assert received[-4:] == list(spec.args)


@settings(SLOW, max_examples=420)
@given(checkpoints=HOSTILE, dataset=HOSTILE, observation=HOSTILE, env_value=HOSTILE)
def test_server_and_convert_arguments_and_labels_reach_the_program_unchanged(echo_host, checkpoints, dataset,
                                                                            observation, env_value):
    spec = job(service="groot-server", kind="serve", port=9000, container_port=9000, env={"NOTE": env_value},
               program="positronic.vendors.gr00t.server", era="4261b1aa", client="groot_ee",
               args=(f"--checkpoints_dir={checkpoints}", f"--dataset={dataset}",
                     f"--dataset.observation={observation}"), output=checkpoints)
    received, sent = launch_echo(echo_host, spec)
    assert received == sent
    assert f"NOTE={env_value}" in received
    assert f"rt.output={checkpoints}" in received or not checkpoints  # an empty output gets no label
