"""Bad inputs through the real `inv` tasks on the sandbox: each is refused with a clear message
and a non-zero exit, and no job container appears on any host."""
from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests.support import ROOT, run_cli

RUN = uuid.uuid4().hex[:8]
USER = f"rt-badinput-{RUN}"  # the launch labels every container rt.user=<this>: the test looks for it
DATA, CKPTS, HELD = (f"s3://{b}/preflight-cli/{RUN}/{name}/" for b, name in
                     (("interim", "data"), ("checkpoints", "groot"), ("checkpoints", "held")))
MISSING = f"s3://interim/preflight-cli/{RUN}/missing/"
GOOD_TRAIN = ["--input", DATA, "--output", CKPTS, "--modality", "ee_rot6d_q", "--steps", "4", "--save-steps", "2"]
CONVERT = ["dataset.convert", "--dataset", "@positronic.cfg.phail.sim_stack_groot_ft", "--observation", ".groot",
           "--action", ".groot", "--output", DATA]

BAD = [  # (inv arguments, a piece of the message)
    (["train.groot", *GOOD_TRAIN, "--host", "vm-trian"], "unknown host 'vm-trian'"),
    (["train.groot", *GOOD_TRAIN[:4], "--modality", "ee_rot6", "--host", "vm-train"], "unknown modality 'ee_rot6'"),
    ([*CONVERT[:4], ".grot", *CONVERT[5:]], "'.grot'"),
    ([*CONVERT[:6], ".teleport", *CONVERT[7:]], "'.teleport'"),
    ([*CONVERT[:2], "positronic cfg", *CONVERT[3:]], "positronic cfg"),
    ([*CONVERT, "--fps", "0"], "fps"),
    (["train.groot", "--input", "interim/data", *GOOD_TRAIN[2:]], "interim/data"),
    (["train.groot", *GOOD_TRAIN[:2], "--output", "s3:/checkpoints/x", *GOOD_TRAIN[4:]], "s3:/checkpoints/x"),
    (["train.groot", "--input", MISSING, *GOOD_TRAIN[2:], "--host", "vm-train"], f"{MISSING} does not exist"),
    (["train.groot", *GOOD_TRAIN[:6], "--steps=-5"], "steps"),
    (["train.groot", *GOOD_TRAIN[:8], "--save-steps=0"], "save"),
    (["train.groot", *GOOD_TRAIN, "--workers=-1"], "workers"),
    (["train.groot", *GOOD_TRAIN, "--exp-name", "a b"], "a b"),
    (["train.groot", *GOOD_TRAIN, "--exp-name", "$(touch /tmp/rt-x)"], "$(touch /tmp/rt-x)"),
    (["train.groot", *GOOD_TRAIN, "--host", "desktop"], "GR00T training needs an H100; desktop has RTX 3060"),
    (["train.openpi", "--input", DATA, "--stats", MISSING, "--output", CKPTS, "--host", "desktop"],
     "OpenPI training needs an H100"),
    (["train.openpi", "--input", DATA, "--stats", MISSING, "--output", CKPTS, "--host", "vm-train"],
     f"{MISSING} does not exist"),
    (["train.groot", *GOOD_TRAIN[:2], "--output", HELD, *GOOD_TRAIN[4:], "--exp-name", "e1", "--host", "vm-train"],
     "already holds a run"),
    (["serve.groot", "--checkpoints", MISSING, "--modality", "ee_q", "--host", "vm-train"], "no checkpoint under"),
    (["serve.groot", "--checkpoints", CKPTS + "e1/", "--modality", "ee_q", "--checkpoint", "999", "--host",
      "vm-train"], "checkpoint 999 not found"),
    (["serve.groot", "--checkpoints", CKPTS + "e1/", "--modality", "ee_q", "--port", "70000", "--host", "vm-train"],
     "port 70000"),
    (["serve.groot", "--checkpoints", CKPTS + "e1/", "--modality", "ee_qq", "--host", "vm-train"], "'ee_qq'"),
    (["serve.openpi", "--checkpoints", CKPTS + "e1/", "--host", "desktop"], "openpi-server needs an H100"),
]


@pytest.fixture(scope="module")
def cli(sandbox, tmp_path_factory):
    import boto3

    from rt_sandbox import standin_image

    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    for url in (DATA + "meta/info.json", CKPTS + "e1/checkpoint-2/model", HELD + "e1/checkpoint-2/model"):
        bucket, _, key = url[5:].partition("/")
        s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    # Every service has a pushed image (the sandbox base, in the sandbox registry): a launch without one stops
    # before preflight, and each case here is about its own bad input. The runbook era's compose file.
    images = standin_image.write_env_file(tmp_path_factory.mktemp("images") / "images.env", sandbox["base_image"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "AWS_", "WANDB_"))}
    env.update(INVOKE_HOSTS_FILE=str(sandbox["hosts_file"]), INVOKE_IMAGES_ENV_FILE=str(images),
               INVOKE_JOBS_COMPOSE_PROJECT=str(ROOT / "docker/sandbox/checkouts/positronic-4261b1aa/docker"),
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", USER=USER,
               INVOKE_JOBS_LEDGER="/dev/null/nowhere")
    return env


@pytest.mark.parametrize("args, expected", BAD, ids=[f"{i:02d}-{a[0]}" for i, (a, _) in enumerate(BAD)])
def test_bad_input_is_refused_clearly(cli, args, expected):
    result = run_cli(*args, env=cli, timeout=120)
    assert result.returncode in (2, 3, 8), (result.returncode, result.stdout, result.stderr)
    assert expected in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert "started " not in result.stdout


def test_at_least_twenty_bad_inputs_and_no_container_was_created(cli, sandbox):
    assert len(BAD) >= 20
    config = sandbox["root"] / ".sandbox" / "ssh_config"
    for host in sandbox["hosts"]:
        out = subprocess.run(["ssh", "-F", str(config), host, "docker", "ps", "-aq", "--filter",
                              f"label=rt.user={USER}"], capture_output=True, text=True, timeout=60)
        if out.returncode == 255:
            continue  # a spare VM another test has powered off cannot have got a container either
        assert out.returncode == 0 and out.stdout.strip() == "", (host, out.stdout, out.stderr)
