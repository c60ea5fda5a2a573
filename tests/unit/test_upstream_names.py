"""Names read from the positronic checkout's own Python (jobs/upstream.py), checked before launch.

Fast tier: the verbatim sources under docker/sandbox/checkouts/ are read with `ast`, never imported. The
expected lists are upstream's, as ../shared/upstream/positronic-*/ENTRYPOINTS.md records them per commit.
"""
from __future__ import annotations

import os
import shutil

import pytest

from remote_training.errors import ExitCode, InputError, PreflightError
from remote_training.jobs import catalog, services
from remote_training.jobs.run import checked_argv
from remote_training.jobs.upstream import REQUIRED, Sources, _relative
from tests.support import ROOT, run_cli

CHECKOUTS = ROOT / "docker" / "sandbox" / "checkouts"
RUNBOOK = catalog.load_checkout(CHECKOUTS / "positronic-4261b1aa" / "docker")
CURRENT = catalog.load_checkout(CHECKOUTS / "positronic-a060cbea" / "docker")
OUT = "s3://interim/names/x"


def argv(job, checkout=CURRENT):
    svc, _ = checkout.service(job.service) if job.role == "service" else checkout.role(job.role)
    return checked_argv(job, checkout, svc)


def refused(job, checkout=CURRENT) -> list[str]:
    """Each refusal as the one line the user reads (problem and fix)."""
    with pytest.raises((InputError, PreflightError)) as info:
        argv(job, checkout)
    error = info.value
    rows = [f"{p} (fix: {f})" for _, p, f in error.failures] if isinstance(error, PreflightError) else [str(error)]
    assert all("\n" not in row for row in rows), rows
    return rows


def test_the_reader_lists_what_upstream_defines() -> None:
    """4261b1aa ENTRYPOINTS.md §3.1: every observation and action config of positronic/cfg/policy/."""
    sources = Sources.of(RUNBOOK.compose_dir)
    assert sources.module("positronic.cfg.policy.observation").configs == (
        "general", "eepose_grip", "joints_grip", "eepose_grip_joints", "eepose", "joints", "eepose_q",
        "openpi_positronic", "openpi_eeq", "openpi_droid", "groot", "groot_ee_absolute", "groot_rot6d",
        "groot_joints", "groot_rot6d_joints")
    assert sources.module("positronic.cfg.policy.action").configs == (
        "absolute_position", "groot_absolute", "groot", "groot_rot6d", "joint_delta")
    assert sources.scripts()["positronic-to-lerobot"] == "positronic.training.to_lerobot"


@pytest.mark.parametrize("program,commands,presets", [  # a060cbea ENTRYPOINTS.md §3.3-3.6
    ("positronic.vendors.openpi.server", "serve ee ee_joints ee_traj ee_joints_traj joints_traj ee_flip_grip",
     "phail sim_stack droid droid_jointpos libero"),
    ("positronic.vendors.gr00t.server", "serve ee ee_joints ee_rot6d ee_rot6d_joints ee_rot6d_rel ee_rot6d_joints_rel",
     "phail sim_stack"),
    ("positronic.vendors.lerobot_0_3_3.server", "serve ee joints ee_traj joints_traj joints_ik joints_ik_sim ee_flip",
     "phail sim_stack demo"),
    ("positronic.vendors.lerobot.server", "serve ee joints joints_ik joints_ik_sim", "phail"),
    ("positronic.vendors.lerobot.train", "expert_only full_finetune", ""),
    ("positronic.vendors.lerobot_0_3_3.to_lerobot", "convert append", ""),
    ("positronic.vendors.gr00t.train", None, None),
])
def test_command_trees_and_presets_of_the_current_era(program, commands, presets) -> None:
    tree = Sources.of(CURRENT.compose_dir).commands(program)
    if commands is None:
        assert tree is None  # cfn.cli(main): no command word
        return
    assert [k for k, c in tree.items() if not c.preset] == commands.split()
    assert [k for k, c in tree.items() if c.preset] == presets.split()


def test_a_command_tree_two_levels_deep_and_a_default_command() -> None:
    sources = Sources.of(CURRENT.compose_dir)
    tree = sources.commands("positronic")  # robolab-eval: `positronic eval run`, the tree imported from cli/eval
    assert "run" in tree["eval"].children and sources.check_command("positronic", ["eval", "run"]) is None
    assert "did you mean 'run'" in str(sources.check_command("positronic", ["eval", "rnu"]))
    assert "" in sources.commands("positronic.vendors.molmoact2.server")  # configuronic 0.7's default command
    assert sources.check_command("positronic.vendors.molmoact2.server", ["--port=8000"]) is None


@pytest.mark.parametrize("observation,action", [  # the list: refused by the old tables, defined upstream
    (".openpi_positronic", ".absolute_position"), (".eepose_q", ".joint_delta"), (".openpi_eeq", ".groot_absolute"),
    (".groot_ee_absolute", ".groot_absolute"), ("groot_rot6d_joints", "groot_rot6d"),
])
def test_every_runbook_observation_and_action_upstream_defines_is_accepted(observation, action) -> None:
    job = services.Convert("@positronic.cfg.phail.sim_stack_groot_ft", OUT, None, observation, action)
    args = argv(job, RUNBOOK)
    assert args[2:4] == [f"--dataset.observation=.{observation.lstrip('.')}", f"--dataset.action=.{action.lstrip('.')}"]


def test_unknown_runbook_names_are_all_refused_at_once_with_a_did_you_mean() -> None:
    job = services.Convert("@positronic.cfg.phail.sim_stack_groot_fx", OUT, None, ".groot_rot6d_joint", ".teleport")
    rows = refused(job, RUNBOOK)
    assert len(rows) == 3, rows
    assert "unknown --dataset '@positronic.cfg.phail.sim_stack_groot_fx'" in rows[0]
    assert "did you mean '@positronic.cfg.phail.sim_stack_groot_ft'" in rows[0]
    assert "unknown --dataset.observation '.groot_rot6d_joint'" in rows[1]
    assert "did you mean '.groot_rot6d_joints'" in rows[1] and ".openpi_eeq" in rows[1]  # the module's own list
    assert "unknown --dataset.action '.teleport'" in rows[2] and "positronic/cfg/policy/action.py" in rows[2]


def test_current_era_dataset_and_codec_are_read_from_the_checkout() -> None:
    good = services.Convert("@positronic.cfg.ds.sim.sim_stack_cubes", OUT,
                            codec="@positronic.vendors.gr00t.codecs.ee_rot6d_joints")
    assert argv(good)[1:3] == ["--dataset.dataset=@positronic.cfg.ds.sim.sim_stack_cubes",
                               "--dataset.codec=@positronic.vendors.gr00t.codecs.ee_rot6d_joints"]
    bad = services.Convert("@positronic.cfg.ds.no_such", OUT, codec="@positronic.vendors.gr00t.codecs.ee_rot6d_joint")
    rows = refused(bad)
    assert "unknown --dataset.dataset '@positronic.cfg.ds.no_such': positronic.cfg.ds" in rows[0]
    assert "did you mean '@positronic.vendors.gr00t.codecs.ee_rot6d_joints'" in rows[1]
    runbook_preset = services.Convert("@positronic.cfg.phail.sim_stack_groot_ft", OUT, codec="@positronic.vendors."
                                      "gr00t.codecs.ee_rot6d")  # a runbook-era preset, gone at a060cbea
    assert "defines no 'sim_stack_groot_ft'" in refused(runbook_preset)[0]


def test_a_server_pipeline_the_checkout_does_not_define_is_refused() -> None:
    rows = refused(services.LerobotServer("s3://checkpoints/act/run1", pipeline="ee_flipp"))
    assert rows == ["positronic.vendors.lerobot_0_3_3.server has no command 'ee_flipp' in this checkout (fix: did you "
                    "mean 'ee_flip'? its commands: serve, ee, joints, ee_traj, joints_traj, joints_ik, joints_ik_sim, "
                    "ee_flip, phail, sim_stack, demo)"]
    openpi = services.OpenpiServer("s3://checkpoints/o/x", pipeline="ee_jointz", ee_frame="None")
    assert "did you mean 'ee_joints'" in refused(openpi)[0]
    assert argv(services.LerobotServer("s3://checkpoints/act/run1", pipeline="ee_flip"))[0] == "ee_flip"


def test_jobs_run_passthrough_names_are_checked_too() -> None:
    job = services.ServiceRun("lerobot-0_3_3-convert", ("convrt", "--dataset.dataset=@positronic.cfg.ds.sim.nope",
                                                        "--dataset.codec=@lerobot.not.ours", f"--output_dir={OUT}"))
    rows = refused(job)
    assert len(rows) == 2 and "did you mean 'convert'" in rows[0] and "'@positronic.cfg.ds.sim.nope'" in rows[1]
    spaced = services.ServiceRun("lerobot-0_3_3-convert", ("convert", "--dataset.codec", "@positronic.vendors.gr00t."
                                                           "codecs.ee_rot6d_joint", "--output_dir", OUT))
    assert "did you mean '@positronic.vendors.gr00t.codecs.ee_rot6d_joints'" in refused(spaced)[0]


def test_the_inference_client_policy_is_resolved_where_upstream_resolves_it() -> None:
    assert argv(services.Inference("remote", "h", 8000))[1] == "--policy=.remote"
    assert argv(services.Inference("groot_ee_rot6d_joints", "h", 9000), RUNBOOK)[1] == "--policy=.groot_ee_rot6d_joints"
    assert "did you mean '.groot_ee_rot6d_joints'" in refused(services.Inference("groot_ee_rot6d_joint", "h", 9000),
                                                              RUNBOOK)[0]


def test_relative_references_follow_configuronic() -> None:
    assert _relative(".x", "positronic.cfg.policy.observation") == "positronic.cfg.policy.observation.x"
    assert _relative("..action.x", "positronic.cfg.policy.observation") == "positronic.cfg.policy.action.x"


def test_a_checkout_without_its_python_sources_warns_and_accepts(tmp_path, capsys) -> None:
    shutil.copytree(CURRENT.compose_dir, tmp_path / "docker")
    bare = catalog.load_checkout(tmp_path / "docker")
    job = services.Convert("@positronic.cfg.ds.no_such", OUT, codec="@positronic.vendors.gr00t.codecs.nope")
    assert argv(job, bare)[1] == "--dataset.dataset=@positronic.cfg.ds.no_such"
    assert "has no positronic/ sources beside docker/" in capsys.readouterr().err
    assert "--modality_config=ee_wide" in argv(services.GrootTrain("s3://interim/d", OUT, "e1", modality="ee_wide"),
                                               bare)  # upstream's trainer takes it as a path; its own to judge
    assert argv(services.OpenpiServer("s3://checkpoints/o/x"), bare)[0] == "ee"  # the frame: upstream's, at start
    assert capsys.readouterr().err.count("\n") == 2  # one warning line a job
    assert refused(services.GrootServer("s3://checkpoints/g/e1", modality="ee_q"), bare) == [
        "which positronic.vendors.gr00t.server pipeline serves modality 'ee_q' is read from the checkout's Python, "
        "and it has no positronic/ beside docker/ (fix: use a full positronic checkout (git clone), or --preset)"]


# -- GR00T modalities and the servers' pipelines: the checkout's own definitions ----------------------------------
@pytest.mark.parametrize("checkout,modalities", [  # 4261b1aa ENTRYPOINTS.md §3.5, a060cbea §3.4 "modality configs"
    (RUNBOOK, "ee ee_q ee_rot6d ee_rot6d_rel ee_rot6d_q ee_rot6d_q_rel"),
    (CURRENT, "ee ee_q ee_rot6d ee_rot6d_rel ee_rot6d_q ee_rot6d_q_rel joints"),
])
def test_groot_modalities_are_the_keys_of_the_checkouts_modality_configs(checkout, modalities) -> None:
    keys = Sources.of(checkout.compose_dir).module("positronic.vendors.gr00t").dict_keys["MODALITY_CONFIGS"]
    assert keys == tuple(modalities.split())
    for modality in keys:
        assert f"--modality_config={modality}" in argv(services.GrootTrain("s3://interim/d", OUT, "e1",
                                                                           modality=modality),
                                                        checkout)


def test_wrong_modalities_are_refused_with_the_checkouts_list_and_every_problem_at_once() -> None:
    joints = services.GrootTrain("s3://interim/d", OUT, "e1", modality="joints")  # the current era's, not the runbook's
    assert refused(joints, RUNBOOK) == [
        "unknown modality 'joints': MODALITY_CONFIGS in positronic/vendors/gr00t/__init__.py has no such key (fix: "
        "choose one of: ee, ee_q, ee_rot6d, ee_rot6d_rel, ee_rot6d_q, ee_rot6d_q_rel)"]
    rows = refused(services.GrootTrain("s3://interim/d", "s3://checkpoints", "a b", modality="ee_rot6q"))
    assert len(rows) == 3, rows  # the two shapes, then the name
    assert "bucket root" in rows[0] and "'a b'" in rows[1] and "did you mean 'ee_rot6d_q'" in rows[2]
    server = services.GrootServer("s3://checkpoints/g/e1", modality="ee_qq")
    assert "unknown modality 'ee_qq'" in refused(server, RUNBOOK)[0]
    assert "did you mean 'ee_q'" in refused(server, RUNBOOK)[0]


@pytest.mark.parametrize("modality,pipeline", [  # a060cbea ENTRYPOINTS.md §3.4 "server subcommands"
    ("ee", "ee"), ("ee_q", "ee_joints"), ("ee_rot6d", "ee_rot6d"), ("ee_rot6d_q", "ee_rot6d_joints"),
    ("ee_rot6d_rel", "ee_rot6d_rel"), ("ee_rot6d_q_rel", "ee_rot6d_joints_rel"),
])
def test_the_current_groot_servers_pipeline_for_each_modality_is_read_from_its_commands(modality, pipeline) -> None:
    assert argv(services.GrootServer("s3://checkpoints/g/e1", modality=modality))[0] == pipeline


def test_a_modality_no_current_pipeline_serves_is_refused() -> None:
    assert refused(services.GrootServer("s3://checkpoints/g/e1", modality="joints")) == [
        "no positronic.vendors.gr00t.server pipeline serves modality 'joints' in this checkout (fix: it serves: ee, "
        "ee_q, ee_rot6d, ee_rot6d_q, ee_rot6d_rel, ee_rot6d_q_rel)"]
    assert "did you mean 'ee_rot6d_q'" in refused(services.GrootServer("s3://checkpoints/g/e1", modality="ee_rot6q"))[0]


def test_the_openpi_pipelines_that_need_an_ee_frame_are_those_binding_none() -> None:
    """a060cbea ENTRYPOINTS.md §3.3: `--pipeline.ee_frame` REQ for serve/ee/ee_joints/ee_traj/ee_joints_traj/
    ee_flip_grip; `joints_traj` and every preset bind their own."""
    sources, server = Sources.of(CURRENT.compose_dir), "positronic.vendors.openpi.server"
    assert [w for w in sources.commands(server) if sources.bound(server, w, "pipeline.ee_frame") is REQUIRED] == \
        ["serve", "ee", "ee_joints", "ee_traj", "ee_joints_traj", "ee_flip_grip"]
    assert argv(services.OpenpiServer("s3://checkpoints/o/x", pipeline="joints_traj")) == [
        "joints_traj", "--pipeline.source.checkpoints_dir=s3://checkpoints/o/x/"]
    assert refused(services.OpenpiServer("s3://checkpoints/o/x", pipeline="ee_traj")) == [
        "the current era (positronic a060cbea) OpenPI pipeline 'ee_traj' needs --ee-frame (fix: give the frame the "
        "checkpoint was trained in, or --ee-frame None for the rig's default)"]
    assert argv(services.OpenpiServer(preset="libero")) == ["libero"]


def test_a_modality_and_pipelines_the_checkout_adds_are_taken_from_it(tmp_path) -> None:
    """Nothing tabled: a checkout that defines one more modality, a pipeline for it and a frame-bound OpenPI
    pipeline is followed as written."""
    root = tmp_path / "positronic"
    shutil.copytree(CHECKOUTS / "positronic-a060cbea", root)
    gr00t = root / "positronic" / "vendors" / "gr00t"
    init = (gr00t / "__init__.py").read_text()
    (gr00t / "__init__.py").write_text(init.replace("MODALITY_CONFIGS = {", "MODALITY_CONFIGS = {\n    'ee_wide': "
                                                    "ModalityConfig(_CONFIG_DIR / 'positronic_ee_wide.py', _EE_QUAT),"))
    server = (gr00t / "server.py").read_text()
    (gr00t / "server.py").write_text(server.replace("COMMANDS = {",
                                                    "wide = pipeline.override(**{'source.modality_config"
                                                    "': 'ee_wide'})\nCOMMANDS = {\n    'ee_wide_pipe': serve.override("
                                                    "pipeline=wide),"))
    openpi = root / "positronic" / "vendors" / "openpi" / "server.py"
    openpi.write_text(openpi.read_text().replace("COMMANDS = {", "COMMANDS = {\n    'ee_rig': serve.override(pipeline="
                                                 "ee.override(ee_frame=None)),"))
    edited = catalog.load_checkout(root / "docker")
    assert "--modality_config=ee_wide" in argv(services.GrootTrain("s3://interim/d", OUT, "e1", modality="ee_wide"),
                                               edited)
    assert argv(services.GrootServer("s3://checkpoints/g/e1", modality="ee_wide"), edited)[0] == "ee_wide_pipe"
    assert argv(services.OpenpiServer("s3://checkpoints/o/x", pipeline="ee_rig"), edited)[0] == "ee_rig"
    assert "needs --ee-frame" in refused(services.OpenpiServer("s3://checkpoints/o/x", pipeline="ee"), edited)[0]


def test_one_wrong_name_is_bad_input() -> None:
    with pytest.raises(InputError) as info:
        argv(services.LerobotServer("s3://checkpoints/act/run1", pipeline="nope"))
    assert info.value.exit_code == ExitCode.BAD_INPUT


# -- following upstream's HEAD (a060cbea): the arguments ENTRYPOINTS.md §3.4-3.7 lists ---------------------------
def test_smolvla_convert_train_and_serve_run_lerobot_0_4s_services() -> None:
    convert = services.SmolvlaConvert("@positronic.cfg.ds.sim.sim_stack_cubes", OUT,
                                      codec="@positronic.vendors.lerobot.codecs.joints")
    assert CURRENT.role(convert.role)[0].name == "lerobot-convert" and argv(convert)[0] == "convert"
    traj = services.SmolvlaConvert("@positronic.cfg.ds.sim.sim_stack_cubes", OUT,
                                   # ACT's codecs have it, not 0.4's
                                   codec="@positronic.vendors.lerobot.codecs.ee_traj")
    assert "positronic.vendors.lerobot.codecs (positronic/vendors/lerobot/codecs.py) defines no 'ee_traj'" in \
        refused(traj)[0]
    train = services.SmolvlaTrain("s3://interim/d", "s3://checkpoints/s", "e1", 100, False, "full_finetune", ".joints")
    assert CURRENT.role(train.role)[0].name == "lerobot-train"
    assert argv(train) == ["full_finetune", "--input_path=s3://interim/d/", "--exp_name=e1",
                           "--output_dir=s3://checkpoints/s/", "--num_train_steps=100", "--codec=.joints"]
    assert "did you mean 'expert_only'" in refused(services.SmolvlaTrain("s3://interim/d", "s3://checkpoints/s", "e1",
                                                                         mode="expert_onl"))[0]
    server = services.SmolvlaServer("s3://checkpoints/s/e1", "000100", None, "joints")
    assert CURRENT.role(server.role)[0].name == "lerobot-server"
    assert argv(server) == ["joints", "--pipeline.source.checkpoints_dir=s3://checkpoints/s/e1/",
                            "--pipeline.source.checkpoint=000100"]
    with pytest.raises(InputError, match="has no smolvla-train service"):
        RUNBOOK.role("smolvla-train")


@pytest.mark.parametrize("job,expected", [
    (services.GrootServer(preset="phail"), ["phail"]),
    (services.OpenpiServer(preset="sim_stack"), ["sim_stack"]),  # the preset binds its own ee_frame
    (services.LerobotServer(preset="demo"), ["demo"]),
    (services.LerobotServer("s3://checkpoints/act/mine", preset="sim_stack"),
     ["sim_stack", "--pipeline.source.checkpoints_dir=s3://checkpoints/act/mine/"]),
])
def test_server_presets_the_checkout_defines(job, expected) -> None:
    assert argv(job) == expected
    assert job.inputs == (tuple(a.partition("=")[2] for a in expected[1:]))  # preflight checks only what we name


def test_presets_that_are_not_or_not_here_are_refused() -> None:
    assert "did you mean 'phail'" in refused(services.SmolvlaServer(preset="phial"))[0]
    assert "'ee' is a pipeline, not a deployment" in refused(services.LerobotServer(preset="ee"))[0]
    assert "needs --checkpoints, or --preset" in refused(services.LerobotServer())[0]
    assert "--preset does not exist in the runbook era" in refused(services.GrootServer(preset="phail"), RUNBOOK)[0]


def test_infer_sim_records_episodes_and_runs_trials_in_each_era() -> None:
    job = services.Inference("remote", "h", 8000, output_dir="s3://inference/sim/run1", trials=3)
    assert argv(job)[-2:] == ["--output_dir=s3://inference/sim/run1", "--eval.trial_count=3"]
    old = services.Inference("groot_ee", "h", 9000, output_dir="/tmp/episodes", trials=2)
    assert argv(old, RUNBOOK)[-2:] == ["--output_dir=/tmp/episodes", "--driver.num_iterations=2"]
    rows = refused(services.Inference("remote", "h", 8000, output_dir="s3://inference", trials=0))
    assert any("bucket root" in r for r in rows) and any("trials must be positive" in r for r in rows)


def test_act_codec_and_backbone_are_read_from_the_checkout() -> None:
    job = services.LerobotTrain("s3://interim/d", "s3://checkpoints/act", "e1", codec="joints", backbone="dinov2")
    assert argv(job)[-2:] == ["--codec=.joints", "--backbone=dinov2"]
    rows = refused(services.LerobotTrain("s3://interim/d", "s3://checkpoints/act", "e1", codec=".jionts",
                                         backbone="resnet34"))
    assert "did you mean '.joints'" in rows[0]
    assert "unknown --backbone 'resnet34'" in rows[1] and "resnet18, resnet50, clip, dinov2, dinov3" in rows[1]
    assert "does not exist in the runbook era" in refused(job, RUNBOOK)[0]


def test_groot_keeps_optimizers_of_the_last_n_checkpoints_in_the_current_era() -> None:
    job = services.GrootTrain("s3://interim/d", "s3://checkpoints/g", "e1", keep_optimizers=3)
    assert argv(job)[-1] == "--keep_optimizers_for_last_n=3"
    assert "--keep-optimizers does not exist in the runbook era" in refused(job, RUNBOOK)[0]
    assert "keep optimizers must be 0 or more" in refused(services.GrootTrain("s3://interim/d", "s3://checkpoints/g",
                                                                              "e1", keep_optimizers=-1))[0]


@pytest.mark.parametrize("task,line", [
    (["serve.openpi", "--checkpoints", "s3://checkpoints/o/x", "--pipeline", "ee_jointz", "--ee-frame", "None"],
     "error: positronic.vendors.openpi.server has no command 'ee_jointz' in this checkout (fix: did you mean "
     "'ee_joints'?"),
    (["train.groot", "--input", "s3://interim/d", "--output", "s3://checkpoints/g", "--modality", "ee_rot6q"],
     "error: unknown modality 'ee_rot6q': MODALITY_CONFIGS in positronic/vendors/gr00t/__init__.py has no such key "
     "(fix: did you mean 'ee_rot6d_q'?"),
])
def test_a_wrong_name_reaches_the_user_as_one_line_and_starts_nothing(tmp_path, task, line) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    env.update(INVOKE_JOBS_COMPOSE_PROJECT=str(CURRENT.compose_dir), INVOKE_JOBS_PREFLIGHT="0",
               INVOKE_IMAGES_ENV_FILE=str(tmp_path / "none.env"))
    out = run_cli(*task, "--host", "vm-train", "--dry-run", env=env, timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(line), out.stderr
