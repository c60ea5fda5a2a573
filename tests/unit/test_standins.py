"""The sandbox stand-ins of the upstream positronic programs, run directly with busybox sh.

They must accept exactly what the real programs accept (upstream ENTRYPOINTS.md per era) and fail
like them on anything else, so a wrong flag fails a sandbox job the way it fails a real one. The
rejection cases need neither root nor the sandbox: every argument is checked before any S3 call
(AWS_ENDPOINT_URL points nowhere to prove it). The happy paths use the sandbox's moto S3: they ask for
the `sandbox` fixture, so they run in the sandbox tier.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.support import ROOT

BIN = ROOT / "docker" / "sandbox" / "repos" / "positronic" / "bin"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"
RB = ["run", "--python", "3.11"]
CUR = ["run", "--python", "3.13"]
L033 = CUR + ["--extra", "lerobot_0_3_3", "python", "-m"]
L04 = CUR + ["--extra", "lerobot", "python", "-m"]
OPENPI_CUR = CUR + ["--extra", "openpi", "python", "-m", "positronic.vendors.openpi.server"]


@pytest.fixture(scope="module")
def applets(tmp_path_factory) -> Path:
    """A PATH holding only busybox applets, like the sandbox base image."""
    if not Path(BUSYBOX).exists():
        pytest.skip("busybox is not installed")
    folder = tmp_path_factory.mktemp("busybox")
    listing = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for name in listing:
        (folder / name).symlink_to(BUSYBOX)
    return folder


def uv(applets: Path, *args: str, endpoint: str = "http://127.0.0.1:9", timeout: float = 30,
       **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": f"{applets}:{BIN}", "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "standin-tests",
               "RT_STANDIN_TICK": "0", "HOME": "/tmp", **env}
    return subprocess.run([BUSYBOX, "sh", str(BIN / "uv"), *args], capture_output=True, text=True,
                          env=environ, timeout=timeout, cwd="/tmp")


# (call, text the error line must hold). Each one is rejected by the real program of that era.
REJECTED = {
    # uv itself
    "uv-python-3.12": (["run", "--python", "3.12", "python", "-m", "positronic.vendors.gr00t.train"],
                       "error: No interpreter found for Python 3.12"),
    "uv-no-python": (["run", "positronic-inference", "sim"], "error: No interpreter found"),
    "uv-runbook-extra": (RB + ["--extra", "lerobot", "python", "-m", "positronic.vendors.lerobot.server"],
                         "error: Extra `lerobot` is not defined"),
    "uv-runbook-extra-openpi": (RB + ["--extra", "openpi", "python", "-m", "positronic.vendors.openpi.server"],
                                "error: Extra `openpi` is not defined"),
    "uv-current-extra": (CUR + ["--extra", "lerobot_0_4", "python", "-m", "positronic.vendors.lerobot.train"],
                         "error: Extra `lerobot_0_4` is not defined"),
    "uv-unknown-option": (CUR + ["--frozenn", "positronic-inference"], "error: unexpected argument '--frozenn'"),
    "uv-not-run": (["sync", "--python", "3.13"], "error: unrecognized subcommand 'sync'"),
    "uv-unknown-module": (CUR + ["python", "-m", "positronic.vendors.groot.train"],
                          "No module named positronic.vendors.groot.train"),
    "uv-runbook-lacks-0_3_3": (RB + ["python", "-m", "positronic.vendors.lerobot_0_3_3.train"],
                               "No module named positronic.vendors.lerobot_0_3_3.train"),
    "uv-runbook-lacks-to_lerobot": (RB + ["python", "-m", "positronic.vendors.lerobot.to_lerobot"], "No module named"),
    # SmolVLA (lerobot 0.4) has no shell stand-in: the era's job image runs upstream's own code
    "uv-current-smolvla-job-image-only": (L04 + ["positronic.vendors.lerobot.train", "expert_only"],
                                          "runs upstream's own code in the era's job image"),
    "uv-current-lacks-to-lerobot-script": (CUR + ["positronic-to-lerobot", "convert"],
                                           "error: Failed to spawn: `positronic-to-lerobot`"),
    "uv-current-lacks-positronic-train": (CUR + ["positronic-train"], "error: Failed to spawn: `positronic-train`"),
    "uv-sandbox-only-name": (RB + ["groot-train", "--exp_name=x"], "error: Failed to spawn: `groot-train`"),
    "uv-missing-extra": (CUR + ["python", "-m", "positronic.vendors.lerobot_0_3_3.train", "--input_path=x"],
                         "ModuleNotFoundError: No module named 'lerobot'"),
    "uv-python-script": (RB + ["python", "train.py"], "can't open file"),

    # runbook: positronic-to-lerobot
    "rb-convert-no-command": (RB + ["positronic-to-lerobot", "--output_dir=s3://x/", "--fps=15"],
                              "ValueError: Command '--output_dir=s3://x/' not found. "
                              "Available commands: ['convert', 'append']"),
    "rb-convert-bad-command": (RB + ["positronic-to-lerobot", "export", "--fps=15"], "Command 'export' not found"),
    "rb-convert-no-fps": (RB + ["positronic-to-lerobot", "convert", "--output_dir=s3://x/",
                                "--dataset=@positronic.cfg.phail.sim_stack_groot_ft"],
                                "missing 1 required positional argument: 'fps'"),
    "rb-convert-unknown-flag": (RB + ["positronic-to-lerobot", "convert", "--output_dir=s3://x/", "--fps=15",
                                      "--dataset=@positronic.cfg.phail.sim_stack_groot_ft", "--observation=.groot"],
                                "unexpected keyword argument 'observation'"),
    "rb-convert-bad-observation": (RB + ["positronic-to-lerobot", "convert", "--output_dir=s3://x/", "--fps=15",
                                         "--dataset=@positronic.cfg.phail.sim_stack_groot_ft",
                                         "--dataset.observation=.groot_rot6d_q"], "ImportError"),
    "rb-convert-bad-preset": (RB + ["positronic-to-lerobot", "convert", "--output_dir=s3://x/", "--fps=15",
                                    "--dataset=@positronic.cfg.phail.sim_stack_cubes"], "ImportError"),
    "rb-convert-codec-flag": (RB + ["positronic-to-lerobot", "convert", "--output_dir=s3://x/", "--fps=15",
                                    "--dataset.codec=@positronic.vendors.gr00t.codecs.ee_rot6d"],
                              "Error instantiating \"dataset.base\""),
    "rb-append-video": (RB + ["positronic-to-lerobot", "append", "--output_dir=s3://x/", "--fps=15", "--video=False"],
                        "append() got an unexpected keyword argument 'video'"),

    # current: to_lerobot (both vendors)
    "cur-convert033-no-command": (L033 + ["positronic.vendors.lerobot_0_3_3.to_lerobot", "--output_dir=s3://x/"],
                                  "Command '--output_dir=s3://x/' not found"),
    "cur-convert033-no-codec": (L033 + ["positronic.vendors.lerobot_0_3_3.to_lerobot", "convert",
                                        "--output_dir=s3://x/",
                                        "--dataset.dataset=@positronic.cfg.ds.sim.sim_stack_cubes"], "'codec'"),
    "cur-convert033-no-output": (L033 + ["positronic.vendors.lerobot_0_3_3.to_lerobot", "convert",
                                         "--dataset.dataset=@d",
                                         "--dataset.codec=@positronic.vendors.gr00t.codecs.ee_rot6d"],
                                 "missing 1 required positional argument: 'output_dir'"),
    "cur-convert033-runbook-flags": (L033 + ["positronic.vendors.lerobot_0_3_3.to_lerobot", "convert",
                                             "--output_dir=s3://x/",
                                             "--dataset=@positronic.cfg.phail.sim_stack_groot_ft",
                                             "--dataset.observation=.groot_rot6d_joints"], "'codec'"),
    "cur-convert033-bad-codec": (L033 + ["positronic.vendors.lerobot_0_3_3.to_lerobot", "convert",
                                         "--output_dir=s3://x/",
                                         "--dataset.dataset=@d",
                                         "--dataset.codec=@positronic.vendors.gr00t.codecs.ee_rot6d_q"],
                                 "ImportError"),

    # openpi stats / train (same CLI in both eras)
    "rb-stats-no-output": (RB + ["python", "-m", "positronic.vendors.openpi.stats", "--input_path=s3://x/"],
                           "missing 1 required positional argument: 'output_path'"),
    "cur-stats-unknown": (CUR + ["python", "-m", "positronic.vendors.openpi.stats", "--input_path=s3://x/",
                                 "--output_path=s3://y/", "--config=pi05"], "unexpected keyword argument 'config'"),
    "rb-openpi-train-no-stats": (RB + ["python", "-m", "positronic.vendors.openpi.train", "--input_path=s3://x/",
                                       "--output_path=s3://y/", "--exp_name=e"], "'stats_path'"),
    "cur-openpi-train-unknown": (CUR + ["python", "-m", "positronic.vendors.openpi.train", "--input_path=s3://x/",
                                        "--stats_path=s3://s/", "--output_path=s3://y/", "--exp_name=e", "--steps=10"],
                                 "unexpected keyword argument 'steps'"),
    "cur-openpi-train-extra-args-str": (CUR + ["python", "-m", "positronic.vendors.openpi.train",
                                               "--input_path=s3://x/",
                                               "--stats_path=s3://s/", "--output_path=s3://y/", "--exp_name=e",
                                               "--extra_args=--fsdp-devices=2"],
                                               "TypeError: can only concatenate list"),

    # openpi server
    "rb-openpi-server-subcommand": (RB + ["python", "-m", "positronic.vendors.openpi.server", "ee",
                                          "--checkpoints_dir=s3://x/"], "Config:"),  # fire: help, exit 0 (see test)
    "rb-openpi-server-no-dir": (RB + ["python", "-m", "positronic.vendors.openpi.server", "--checkpoint=2000"],
                                "missing 1 required positional argument: 'checkpoints_dir'"),
    "rb-openpi-server-port": (RB + ["python", "-m", "positronic.vendors.openpi.server", "--checkpoints_dir=s3://x/",
                                    "--port=8000"], "Unrecognized or misplaced options: --port"),
    "rb-openpi-server-pipeline-flag": (RB + ["python", "-m", "positronic.vendors.openpi.server",
                                             "--pipeline.source.checkpoints_dir=s3://x/"],
                                             "Failed to override 'pipeline.source.checkpoints_dir'"),
    "cur-openpi-server-no-command": (OPENPI_CUR + ["--pipeline.source.checkpoints_dir=s3://x/",
                                                   "--pipeline.ee_frame=None"],
                                     "Available commands: ['serve', 'ee'"),
    "cur-openpi-server-no-ee-frame": (OPENPI_CUR + ["ee", "--pipeline.source.checkpoints_dir=s3://x/"],
                                      "missing 1 required positional argument: 'ee_frame'"),
    "cur-openpi-server-runbook-flag": (OPENPI_CUR + ["ee", "--pipeline.ee_frame=None", "--checkpoints_dir=s3://x/"],
                                       "unexpected keyword argument 'checkpoints_dir'"),
    "cur-openpi-server-no-dir": (OPENPI_CUR + ["joints_traj"], "'checkpoints_dir'"),
    "cur-openpi-server-preset": (OPENPI_CUR + ["droid"], "upstream storage"),

    # gr00t train
    "rb-groot-train-no-exp": (RB + ["python", "-m", "positronic.vendors.gr00t.train", "--input_path=s3://x/",
                                    "--output_path=s3://y/"], "missing 1 required positional argument: 'exp_name'"),
    "rb-groot-train-keep-optimizers": (RB + ["python", "-m", "positronic.vendors.gr00t.train", "--input_path=s3://x/",
                                             "--output_path=s3://y/", "--exp_name=e", "--keep_optimizers_for_last_n=2"],
                                       "unexpected keyword argument 'keep_optimizers_for_last_n'"),
    "rb-groot-train-joints-modality": (RB + ["python", "-m", "positronic.vendors.gr00t.train", "--input_path=s3://x/",
                                             "--output_path=s3://y/", "--exp_name=e", "--modality_config=joints"],
                                       "FileNotFoundError"),
    "cur-groot-train-server-name": (CUR + ["python", "-m", "positronic.vendors.gr00t.train", "--input_path=s3://x/",
                                           "--output_path=s3://y/", "--exp_name=e",
                                           "--modality_config=ee_rot6d_joints"],
                                    "FileNotFoundError"),
    "cur-groot-train-unknown": (CUR + ["python", "-m", "positronic.vendors.gr00t.train", "--input_path=s3://x/",
                                       "--output_path=s3://y/", "--exp_name=e", "--steps=4"],
                                       "unexpected keyword argument 'steps'"),
    "cur-groot-train-bad-int": (CUR + ["python", "-m", "positronic.vendors.gr00t.train", "--input_path=s3://x/",
                                       "--output_path=s3://y/", "--exp_name=e", "--num_train_steps=4k"],
                                       "invalid literal for int()"),

    # gr00t server
    "rb-groot-server-no-dir": (RB + ["python", "-m", "positronic.vendors.gr00t.server", "--port=9000"],
                               "'checkpoints_dir'"),
    "rb-groot-server-pipeline-flag": (RB + ["python", "-m", "positronic.vendors.gr00t.server",
                                            "--pipeline.source.checkpoints_dir=s3://x/"], "Failed to override"),
    "rb-groot-server-bad-modality": (RB + ["python", "-m", "positronic.vendors.gr00t.server",
                                           "--checkpoints_dir=s3://x/",
                                           "--modality_config=ee_rot6d_joints"], "FileNotFoundError"),
    "cur-groot-server-no-command": (CUR + ["python", "-m", "positronic.vendors.gr00t.server",
                                           "--pipeline.source.checkpoints_dir=s3://x/"],
                                           "Available commands: ['serve', 'ee'"),
    "cur-groot-server-training-name": (CUR + ["python", "-m", "positronic.vendors.gr00t.server", "ee_rot6d_q",
                                              "--pipeline.source.checkpoints_dir=s3://x/"],
                                              "Command 'ee_rot6d_q' not found"),
    "cur-groot-server-modality-flag": (CUR + ["python", "-m", "positronic.vendors.gr00t.server", "ee_rot6d_joints",
                                              "--pipeline.source.checkpoints_dir=s3://x/",
                                              "--modality_config=ee_rot6d_q"],
                                       "unexpected keyword argument 'modality_config'"),
    "cur-groot-server-runbook-dir": (CUR + ["python", "-m", "positronic.vendors.gr00t.server", "ee",
                                            "--checkpoints_dir=s3://x/"],
                                            "unexpected keyword argument 'checkpoints_dir'"),
    "cur-groot-server-prefixed-checkpoint": (CUR + ["python", "-m", "positronic.vendors.gr00t.server", "ee",
                                                    "--pipeline.source.checkpoints_dir=s3://x/",
                                                    "--pipeline.source.checkpoint=checkpoint-2000"],
                                                    "not a step number"),
    "cur-groot-server-no-dir": (CUR + ["python", "-m", "positronic.vendors.gr00t.server", "ee_rot6d"],
                                "'checkpoints_dir'"),

    # lerobot trainers
    "rb-act-train-no-run-name": (RB + ["positronic-train", "--dataset_root=s3://x/", "--output_dir=s3://y/"],
                                 "missing 1 required positional argument: 'run_name'"),
    "rb-act-train-current-flags": (RB + ["positronic-train", "--input_path=s3://x/", "--exp_name=e",
                                         "--output_dir=s3://y/"],
                                   "unrecognized arguments: --input_path=s3://x/"),
    "rb-act-train-unknown-cfg": (RB + ["positronic-train", "--dataset_root=s3://x/", "--run_name=r",
                                       "--output_dir=s3://y/",
                                       "--num_train_steps=10"], "unrecognized arguments: --num_train_steps=10"),
    "cur-act-train-runbook-flags": (L033 + ["positronic.vendors.lerobot_0_3_3.train", "--dataset_root=s3://x/",
                                            "--run_name=r", "--output_dir=s3://y/"],
                                            "unrecognized arguments: --dataset_root"),
    "cur-act-train-no-exp": (L033 + ["positronic.vendors.lerobot_0_3_3.train", "--input_path=s3://x/",
                                     "--output_dir=s3://y/"],
                             "missing 1 required positional argument: 'exp_name'"),
    "cur-act-train-bad-backbone": (L033 + ["positronic.vendors.lerobot_0_3_3.train", "--input_path=s3://x/",
                                           "--exp_name=e",
                                           "--output_dir=s3://y/", "--backbone=resnet34"], "Unknown backbone"),
    "cur-act-train-bad-codec": (L033 + ["positronic.vendors.lerobot_0_3_3.train", "--input_path=s3://x/",
                                        "--exp_name=e",
                                        "--output_dir=s3://y/", "--codec=@positronic.vendors.lerobot.codecs.ee_traj"],
                                "ImportError"),

    # lerobot servers
    "rb-lerobot-server-no-dir": (RB + ["python", "-m", "positronic.vendors.lerobot.server", "--checkpoint=020000"],
                                 "'checkpoints_dir'"),
    "rb-lerobot-server-subcommand-flags": (RB + ["python", "-m", "positronic.vendors.lerobot.server",
                                                 "--checkpoints_dir=s3://x/",
                                                 "--pipeline.source.checkpoint=020000"], "Failed to override"),
    "cur-act-server-no-command": (L033 + ["positronic.vendors.lerobot_0_3_3.server",
                                          "--pipeline.source.checkpoints_dir=s3://x/"],
                                  "Available commands: ['serve', 'ee', 'joints'"),
    "cur-act-server-runbook-flags": (L033 + ["positronic.vendors.lerobot_0_3_3.server", "ee",
                                             "--checkpoints_dir=s3://x/"],
                                     "unexpected keyword argument 'checkpoints_dir'"),
    "cur-act-server-demo-preset": (L033 + ["positronic.vendors.lerobot_0_3_3.server", "demo"], "upstream storage"),

    # positronic-inference
    "rb-infer-no-command": (RB + ["positronic-inference", "--policy=.groot_ee"],
                            "Available commands: ['sim', 'real', 'sim_pnp']"),
    "rb-infer-no-policy": (RB + ["positronic-inference", "sim", "--driver.show_gui=False"], "policy placeholder"),
    "rb-infer-unknown-policy": (RB + ["positronic-inference", "sim", "--policy=.groot_rot6d"], "ImportError"),
    "rb-infer-remote-with-base-host": (RB + ["positronic-inference", "sim", "--policy=.remote", "--policy.base.host=h"],
                                       "Failed to override 'policy.base.host'"),
    "rb-infer-groot-with-host": (RB + ["positronic-inference", "sim", "--policy=.groot_ee", "--policy.host=h"],
                                 "Failed to override 'policy.host'"),
    "rb-infer-current-flags": (RB + ["positronic-inference", "sim", "--policy=.remote", "--eval.trial_count=2"],
                               "Failed to override 'eval.trial_count'"),
    "rb-infer-url": (RB + ["positronic-inference", "sim", "--policy=.remote", "--policy.url=h:8000"],
                     "Failed to override 'policy.url'"),
    "rb-infer-act-no-dir": (RB + ["positronic-inference", "sim", "--policy=.act_absolute", "--driver.show_gui=False"],
                            "'checkpoints_dir'"),
    "rb-infer-gui-no-display": (RB + ["positronic-inference", "sim", "--policy=.groot_ee", "--driver.show_gui"],
                                "gladLoadGL"),
    "rb-infer-unknown-flag": (RB + ["positronic-inference", "sim", "--policy=.groot_ee", "--headless"],
                              "unexpected keyword argument 'headless'"),
    "cur-infer-no-command": (CUR + ["positronic-inference", "--policy=.remote"],
                             "Available commands: ['run', 'real', 'sim', 'stats']"),
    "cur-infer-show-gui": (CUR + ["positronic-inference", "sim", "--policy=.remote", "--driver.show_gui=False"],
                           "Failed to override 'driver.show_gui'"),
    "cur-infer-simulation-time": (CUR + ["positronic-inference", "sim", "--policy=.remote",
                                         "--driver.simulation_time=30"],
                                  "Failed to override 'driver.simulation_time'"),
    "cur-infer-vendor-policy": (CUR + ["positronic-inference", "sim", "--policy=.groot_ee_rot6d_joints"],
                                "ImportError"),
    "cur-infer-base-host": (CUR + ["positronic-inference", "sim", "--policy=.remote", "--policy.base.host=h"],
                            "Failed to override 'policy.base.host'"),
    "cur-infer-host-port": (CUR + ["positronic-inference", "sim", "--policy=.remote", "--policy.host=h"],
                            "Failed to override 'policy.host'"),
    "cur-infer-authed-no-url": (CUR + ["positronic-inference", "sim", "--policy=.authed_remote"], "'url'"),
    "cur-infer-authed-no-token": (CUR + ["positronic-inference", "sim", "--policy=.authed_remote",
                                         "--policy.url=h:8000"],
                                  "AUTH_TOKEN"),
    "cur-infer-bad-trials": (CUR + ["positronic-inference", "sim", "--policy=.remote", "--eval.trial_count=many"],
                             "invalid literal for int()"),

    # positronic-server
    "rb-viewer-unknown": (RB + ["positronic-server", "--root=/data"], "unexpected keyword argument 'root'"),
    "cur-viewer-unknown": (CUR + ["positronic-server", "--port=8400", "--reload"],
                           "unexpected keyword argument 'reload'"),
}


@pytest.mark.parametrize("case", sorted(REJECTED))
def test_rejected_arguments_fail_like_the_real_program(applets, case) -> None:
    args, message = REJECTED[case]
    result = uv(applets, *args, MUJOCO_GL="egl")
    if message == "Config:":  # fire binds a stray word to help=: the real program prints help and runs nothing
        assert result.returncode == 0 and result.stdout.startswith("Config:") and "Loaded" not in result.stdout
        return
    assert result.returncode != 0, (case, result.stdout)
    assert message in result.stderr, (case, result.stderr)
    # jobs.errors greps for "error"; python's own launcher lines are the exception, verbatim
    assert "error" in result.stderr.lower() or "python: " in result.stderr, result.stderr


@pytest.mark.parametrize("python,extra,expected", [
    ("3.11", None, 0), ("3.13", None, 0), ("3.11.9", None, 0),
    ("3.12", None, 2), ("3.10", None, 2), ("3", None, 2),
    ("3.11", "lerobot_0_3_3", 2), ("3.13", "lerobot_0_3_3", 0), ("3.13", "lance", 0), ("3.13", "molmoact2", 0),
])
def test_uv_python_and_extras(applets, python, extra, expected) -> None:
    args = ["run", "--python", python] + (["--extra", extra] if extra else []) + ["positronic-inference"]
    result = uv(applets, *args)
    assert result.returncode == expected, result.stderr
    if expected == 0:  # a bare multi-command program lists its commands, like configuronic
        assert result.stdout.startswith("Commands:") and "sim" in result.stdout
    else:
        assert result.stderr.startswith("error: ")


@pytest.mark.parametrize("python,modules", [
    ("3.11", ["positronic.vendors.lerobot_0_3_3.to_lerobot", "positronic.vendors.lerobot.train",
              "positronic.vendors.lerobot.to_lerobot", "positronic.vendors.dreamzero.server"]),
    ("3.13", ["positronic.training.to_lerobot", "positronic.vendors.gr00t.serve", "os"]),
])
def test_uv_unknown_modules_fail_like_python(applets, python, modules) -> None:
    for module in modules:
        result = uv(applets, "run", "--python", python, "python", "-m", module)
        assert result.returncode == 1 and f"No module named {module}" in result.stderr, (module, result.stderr)


@pytest.mark.parametrize("args", [
    ["--resume"], ["--resume=True"], ["--resume=true"], ["--resume=false"], ["--resume", "--num_workers=2"],
])
def test_configuronic_truthy_resume_reaches_the_dataset_check(applets, args) -> None:
    # every truthy spelling parses; the run then stops at the (unreachable) dataset, not at parsing
    result = uv(applets, *CUR, "python", "-m", "positronic.vendors.gr00t.train", "--input_path=s3://interim/none/",
                "--output_path=s3://checkpoints/none/", "--exp_name=e", *args)
    assert result.returncode == 2 and "no dataset at" in result.stderr, result.stderr
    assert ("Warning: --resume=" in result.stderr) == (args[0] in ("--resume=true", "--resume=false"))


# --- happy paths on the sandbox S3 ---------------------------------------------------------------

def _keys(s3: str, prefix: str) -> list[str]:
    bucket, _, key = prefix.removeprefix("s3://").partition("/")
    req = urllib.request.Request(f"{s3}/{bucket}?list-type=2&prefix={key}", headers={
        "Authorization": "AWS4-HMAC-SHA256 Credential=t/20260101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(req, timeout=10) as reply:
        body = reply.read().decode()
    return [k.split("</Key>")[0][len(key):] for k in body.split("<Key>")[1:]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_current_era_chain_convert_train_resume_serve_infer(applets, sandbox) -> None:
    s3 = sandbox["s3_endpoint"]
    run = f"standin-tests-{uuid.uuid4().hex[:8]}"
    data, ckpt = f"s3://interim/{run}/data/", f"s3://checkpoints/{run}/g/"
    convert = uv(applets, *L033, "positronic.vendors.lerobot_0_3_3.to_lerobot", "convert",
                 "--dataset.dataset=@positronic.cfg.ds.sim.sim_stack_cubes",
                 "--dataset.codec=@positronic.vendors.gr00t.codecs.ee_rot6d_joints", f"--output_dir={data}",
                 endpoint=s3)
    assert convert.returncode == 0 and "Conversion complete" in convert.stdout, convert.stderr
    saved = _keys(s3, data)
    assert {"meta/info.json", "meta/modality.json"} <= set(saved) and any(k.startswith("run_metadata_") for k in saved)

    train = uv(applets, *CUR, "python", "-m", "positronic.vendors.gr00t.train", f"--input_path={data}",
               f"--output_path={ckpt}", "--exp_name=e1", "--modality_config=ee_rot6d_q", "--num_train_steps=4000",
               endpoint=s3)
    assert train.returncode == 0 and "Training finished: 4000 steps" in train.stdout, train.stderr
    assert "100%|##########| 4000/4000 [" in train.stdout  # save_steps default max(4000 // 20, 2000)
    more = uv(applets, *CUR, "python", "-m", "positronic.vendors.gr00t.train", f"--input_path={data}",
              f"--output_path={ckpt}", "--exp_name=e1", "--modality_config=ee_rot6d_q", "--num_train_steps=6000",
              "--resume", endpoint=s3)
    assert more.returncode == 0 and "Resuming from step 4000" in more.stdout, more.stderr
    saved = _keys(s3, ckpt + "e1/")
    assert {f"checkpoint-{s}/config.json" for s in (2000, 4000, 6000)} <= set(saved)
    assert any(k.startswith("resume_metadata_") for k in saved)

    port = _free_port()
    env = {"PATH": f"{applets}:{BIN}", "AWS_ENDPOINT_URL": s3, "AWS_ACCESS_KEY_ID": "t", "RT_STANDIN_TICK": "0"}
    server = subprocess.Popen([BUSYBOX, "sh", str(BIN / "uv"), *CUR, "python", "-m", "positronic.vendors.gr00t.server",
                               "ee_rot6d_joints", f"--pipeline.source.checkpoints_dir={ckpt}e1",
                               "--pipeline.source.checkpoint=4000", f"--port={port}"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/tmp")
    try:
        infer = uv(applets, *CUR, "positronic-inference", "sim", "--policy=.remote",
                   f"--policy.url=ws://127.0.0.1:{port}/api/v1/session/6000", "--eval.trial_count=1",
                   "--eval.timeout=3",
                   endpoint=s3, MUJOCO_GL="egl")
        assert infer.returncode == 0 and "Simulation finished" in infer.stdout, infer.stderr
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/models", timeout=5) as reply:
            assert reply.read().decode().strip() == '{"models": ["2000", "4000", "6000"]}'
    finally:
        began = time.monotonic()
        server.terminate()
        server.wait(timeout=10)
    assert time.monotonic() - began < 5
    assert "Loaded checkpoint-4000" in server.stdout.read()


def test_runbook_era_act_layout_and_missing_checkpoint(applets, sandbox) -> None:
    s3 = sandbox["s3_endpoint"]
    run = f"standin-tests-{uuid.uuid4().hex[:8]}"
    data, out = f"s3://interim/{run}/data/", f"s3://checkpoints/{run}/act/"
    convert = uv(applets, *RB, "positronic-to-lerobot", "convert",
                 "--dataset=@positronic.cfg.phail.sim_stack_openpi_ft",
                 "--dataset.observation=.eepose", "--dataset.action=.absolute_position", f"--output_dir={data}",
                 "--fps=15", endpoint=s3)
    assert convert.returncode == 0, convert.stderr
    assert "meta/modality.json" not in _keys(s3, data)
    train = uv(applets, *RB, "positronic-train", f"--dataset_root={data}", "--run_name=r1", f"--output_dir={out}",
               "--steps=4", "--save_freq=2", "--batch_size=4", endpoint=s3)
    assert train.returncode == 0, train.stderr
    saved = _keys(s3, out + "r1/")
    assert "checkpoints/000004/pretrained_model/config.json" in saved
    assert any(k.startswith("run_metadata_") for k in saved)
    # the exact, zero-padded dir name is the id; 4 is not one
    wrong = uv(applets, *RB, "python", "-m", "positronic.vendors.lerobot.server", f"--checkpoints_dir={out}r1",
               "--checkpoint=4", endpoint=s3)
    assert wrong.returncode == 2 and "Error: checkpoint '4' not found" in wrong.stderr
    groot = uv(applets, *RB, "python", "-m", "positronic.vendors.gr00t.server", f"--checkpoints_dir={out}r1",
               endpoint=s3)
    assert groot.returncode == 2 and "Error: no checkpoint under" in groot.stderr
