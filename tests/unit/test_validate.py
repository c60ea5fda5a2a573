"""Argument validation: value shapes. Pure, no I/O. (Which names the checkout defines, with did-you-mean:
tests/unit/test_upstream_names.py.)"""
from __future__ import annotations

import pytest

from remote_training import validate as v
from remote_training.errors import ExitCode, InputError

# (validator, bad value, text the one-line message must contain)
BAD_INPUTS = [
    (v.modality, "", "modality is empty"),
    (v.modality, "ee rot6d", "modality 'ee rot6d' is not a name"),
    (v.observation, "groot rot6d", "observation '.groot rot6d' is not a config reference"),
    (v.action, "@positronic..cfg", "action '@positronic..cfg' is not a config reference"),
    (v.s3_url, "interim/data", "not an s3:// URL"),
    (v.s3_url, "s3:/interim/data", "write s3:// then bucket/path"),
    (v.s3_url, "https://x.example/data", "only s3:// URLs"),
    (v.s3_url, "s3://In_Valid/x", "bad bucket name"),
    (v.s3_url, "s3://interim/a b", "contains ' '"),
    (v.s3_url, "s3://interim/$(id)", "contains"),
    (v.s3_url, "s3://interim/a//b", "empty, '.' or '..' path segment"),
    (v.s3_url, "s3://interim/../x", "'..' path segment"),
    (v.port, 70000, "port 70000 is out of range"),
    (v.port, 0, "port 0 is out of range"),
    (v.port, "90x", "port must be a whole number"),
    (v.steps, -5, "steps must be positive"),
    (v.steps, 0, "steps must be positive"),
    (v.steps, 10**9, "implausibly large"),
    (v.steps, "2e4", "must be a whole number"),
    (v.fps, "fast", "fps must be a number"),
    (v.fps, -15, "fps must be in (0, 1000]"),
    (v.exp_name, "", "experiment name is empty"),
    (v.exp_name, "my run", "experiment name 'my run' is not allowed"),
    (v.exp_name, "-rf", "is not allowed"),
    (v.exp_name, "a\nb", "control characters"),
    (v.workers, 1000, "workers must be 0-256"),
    (v.config_name, "pi05;rm", "not an identifier"),
    (v.checkpoint, "latest", "is not a step"),
    (v.config_ref, "@positronic.cfg.$x", "is not a config reference"),
]


@pytest.mark.parametrize("check, value, expected", BAD_INPUTS)
def test_bad_input_gives_one_clear_line(check, value, expected):
    with pytest.raises(InputError) as info:
        check(value)
    text = str(info.value)
    assert expected in text
    assert "\n" not in text, "one line: message and fix together"
    assert info.value.fix, "every refusal carries a fix"
    assert info.value.exit_code == ExitCode.BAD_INPUT


def test_at_least_twenty_distinct_bad_inputs():
    assert len(BAD_INPUTS) >= 20


def test_observation_and_action_shapes():
    """Whether the checkout defines the name is tests/unit/test_upstream_names.py's; here only its shape."""
    assert v.observation("groot_joints") == ".groot_joints"  # the leading dot may be left out
    assert v.observation(".openpi_positronic") == ".openpi_positronic"
    assert v.action("@positronic.cfg.actions.custom") == "@positronic.cfg.actions.custom"


def test_client_policy_follows_the_seed_mapping_per_era():
    """The client policies moved to the typed servers (jobs/services.py); the runbook table's entries
    tests/unit/test_catalog.py does not already check, and the current era's single `remote` client."""
    from remote_training.jobs import catalog, services

    runbook, current = catalog.ERAS
    assert (runbook.name, current.name) == (services.RUNBOOK, services.CURRENT)

    def groot(modality):
        return services.GrootServer("s3://checkpoints/g/260105", modality=modality)

    assert groot("ee").client(runbook) == "groot_ee"
    assert groot("ee_q").client(runbook) == "groot_ee_joints"
    assert groot("ee_rot6d_rel").client(runbook) == "groot_ee_rot6d"
    assert groot("ee_rot6d_q_rel").client(runbook) == "groot_ee_rot6d_joints"
    assert services.OpenpiServer("s3://checkpoints/o/x").client(runbook) == "openpi_positronic"
    assert {groot(m).client(current) for m in ("ee", "ee_q", "ee_rot6d_q_rel")} == {"remote"}
    assert services.OpenpiServer("s3://checkpoints/o/x").client(current) == "remote"
    with pytest.raises(InputError, match="did you mean 'ee_rot6d_q'"):
        groot("ee_rot6q").client(runbook)


def test_good_values_come_back_cleaned():
    assert v.s3_url(" s3://interim/sim_ft/groot_rot6d_q/ ") == "s3://interim/sim_ft/groot_rot6d_q/"
    assert v.split_s3("s3://checkpoints/a/b/") == ("checkpoints", "a/b/")
    assert v.port("9000") == 9000
    assert v.steps("20000") == 20000
    assert v.fps("15") == 15 and v.fps(7.5) == 7.5
    assert v.exp_name("040126") == "040126"
    assert v.checkpoint("checkpoint-2000") == "checkpoint-2000"


def test_check_options_reports_every_problem_at_once():
    problems = v.check_options({"modality_config": "ee rot", "num_train_steps": "-1", "save_steps": 5,
                                "output_path": "s3://checkpoints/x", "exp_name": "bad name", "unrelated": "x"})
    messages = [p.message for p in problems]
    assert len(messages) == 3, messages
    assert any("modality" in m for m in messages) and any("steps" in m for m in messages)


def test_save_steps_beyond_total_is_refused():
    problems = v.check_options({"num_train_steps": 100, "save_steps": 500})
    assert [p.message for p in problems] == [
        "save steps 500 exceed the 100 training steps: no checkpoint would be saved"]


def test_a_server_to_reach_may_listen_on_any_port_a_published_one_is_unprivileged():
    """infer.sim's server may be an https endpoint (443); the port the tool publishes on a host is not under 1024."""
    from remote_training.jobs.services import Inference

    assert v.check_options(Inference("remote", "127.0.0.1", 443).options) == []
    refused = v.check_options(Inference("remote", "127.0.0.1", 0).options)
    assert len(refused) == 1 and "port 0 is out of range" in str(refused[0])
    with pytest.raises(InputError, match="port 443 is out of range"):
        v.port(443)
