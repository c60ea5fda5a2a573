"""The demo's pipeline, end to end on the sandbox, as `make demo` runs it."""
from __future__ import annotations

import os
import uuid

from tests.support import run_cli

ERAS = ("4261b1aa", "a060cbea")
CHAIN = ["dataset.convert", "dataset.stats", "train.groot", "train.openpi", "train.lerobot", "serve.groot",
         "infer.sim vs groot", "serve.stop groot", "serve.openpi", "infer.sim vs openpi", "serve.stop openpi"]
STEPS = (["images", "vm.start"] + [f"[{era}] {step}" for era in ERAS for step in CHAIN]
         + ["[4261b1aa] serve.lerobot (refused)", "[a060cbea] serve.lerobot", "[a060cbea] infer.sim vs lerobot",
            "jobs.list", "jobs.history", "vm.reap", "vm.status"])


def test_demo_runs_the_whole_runbook_on_the_sandbox(sandbox):
    import boto3

    run_id = f"demo-test-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    try:
        out = run_cli("demo", "--run-id", run_id, env=env, timeout=900)
    finally:
        # The demo ends with vm.reap stopping its VM; the rest of the suite expects the fleet up.
        run_cli("vm.start", "--host", "vm-train3", env={**env, "INVOKE_HOSTS_FILE": sandbox["hosts_file"]}, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    for step in STEPS:
        assert f"== {step}" in out.stdout, f"step {step} did not run"
    assert "100%|" in out.stdout  # training progress was shown live
    assert f"demo {run_id}" in out.stdout and "GPU-hours" in out.stdout
    # What the pipeline made is really in the sandbox's S3: the trained checkpoints and the run record.
    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    for era in ERAS:
        run = f"{run_id}-{era}"
        listed = s3.list_objects_v2(Bucket="checkpoints", Prefix=f"demo/{run}/")
        keys = [o["Key"] for o in listed.get("Contents", [])]
        assert f"demo/{run}/groot/{run}/checkpoint-2000/config.json" in keys, keys
        assert any(k.startswith(f"demo/{run}/openpi/pi05_positronic_lowmem/{run}/1000/") for k in keys), keys
        assert any(k.startswith(f"demo/{run}/act/{run}/checkpoints/001000/pretrained_model/") for k in keys), keys
        # run.json sits beside each run folder, never inside the prefix the trainer syncs
        assert f"demo/{run}/groot/.rt-runs/{run}/run.json" in keys, keys
        assert not any(k.endswith("run.json") and "/.rt-runs/" not in k for k in keys), keys
    assert "runbook era" in out.stdout  # the runbook-era LeRobot server is refused, naming the era
