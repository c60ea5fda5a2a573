"""The demo's pipeline, end to end on the sandbox, as `make demo` runs it."""
from __future__ import annotations

import os
import re
import uuid

from tests.support import CHECKOUTS, run_cli, ssh

ERAS = ("4261b1aa", "a060cbea")
CHAIN = ["dataset.convert", "dataset.stats", "train.groot", "train.openpi", "dataset.convert (act)", "train.lerobot",
         "serve.groot", "infer.sim vs groot", "serve.stop groot", "serve.openpi", "infer.sim vs openpi",
         "serve.stop openpi"]
STEPS = (["images", "vm.start"] + [f"[{era}] {step}" for era in ERAS for step in ["job image", *CHAIN]]
         + ["[4261b1aa] serve.lerobot (refused)", "[a060cbea] serve.lerobot", "[a060cbea] infer.sim vs lerobot",
            "[cloud] dataset.convert", "[cloud] train.groot", "[cloud] serve.groot", "[cloud] infer.sim vs groot",
            "jobs.list", "jobs.history", "vm.reap", "vm.status"])


def test_demo_runs_the_whole_runbook_on_the_sandbox(sandbox):
    import boto3

    run_id = f"demo-test-{uuid.uuid4().hex[:6]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    # moto takes any key: placeholders the demo hands its jobs, and must never show
    handed = {"AWS_ACCESS_KEY_ID": "AKIADEMOSANDBOX00001", "AWS_SECRET_ACCESS_KEY": f"demo-secret-{uuid.uuid4().hex}"}
    env.update(handed)
    try:
        out = run_cli("demo", "--run-id", run_id, env=env, timeout=1800)
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

    # The jobs ran upstream's own code: its "Running command:" line with its whole environment, secrets masked.
    assert not [value for value in handed.values() if value in out.stdout + out.stderr]
    assert "Running command: `/.venv/bin/python gr00t/experiment/launch_finetune.py" in out.stdout
    assert "'AWS_SECRET_ACCESS_KEY': '***'" in out.stdout
    # The serverless pass runs the current era's job image too: its train streams upstream's line from Loki.
    cloud = out.stdout.split("== [cloud] train.groot", 1)[1].split("\n== ", 1)[0]
    assert "Running command: `/.venv/bin/python gr00t/experiment/launch_finetune.py" in cloud, cloud[-3000:]
    # Every client is upstream's own, recording one trial into S3 by its dataset writer: the current era's on the
    # server's fleet host, the runbook era's and the serverless pass's on this machine. The runbook-era OpenPI
    # server (upstream's server.py over openpi's serve_policy.py) answered openpi's websocket protocol: its
    # metadata from the handshake is in the episode's static data.
    lanes = [("4261b1aa", s) for s in ("groot", "openpi")] + [("a060cbea", s) for s in ("groot", "openpi", "lerobot")]
    for era, server in [*lanes, ("cloud", "groot")]:
        client = out.stdout.split(f"== [{era}] infer.sim vs {server}", 1)[1].split("\n== ", 1)[0]
        assert "DsWriterAgent: [STOP] Episode 1" in client, client[-3000:]
        if era != "4261b1aa":
            assert "Warming up policy endpoints" in client, client[-3000:]  # the current era's eval client
        prefix = f"demo/{run_id}-{era}/sim-{server}/"
        recorded = [o["Key"] for o in s3.list_objects_v2(Bucket="interim", Prefix=prefix).get("Contents", [])]
        assert f"{prefix}000000000000/000000000000/meta.json" in recorded, recorded
    static = s3.get_object(Bucket="interim", Key=f"demo/{run_id}-4261b1aa/sim-openpi/000000000000/000000000000/"
                                                 "static.json")["Body"].read().decode()
    assert '"inference.policy.server.checkpoint": "1000"' in static, static[:2000]
    # Both eras' OpenPI train ran upstream's train.py over openpi's scripts/train.py (the model stub); the current
    # era's OpenPI server is upstream's too (positronic's offboard server over openpi_client and serve_policy.py),
    # and the client listed the one checkpoint the 1000 steps saved.
    for era in ERAS:
        train = out.stdout.split(f"== [{era}] train.openpi", 1)[1].split("\n== ", 1)[0]
        assert ("Running command: `/usr/local/bin/uv run --frozen --project /openpi -- python scripts/train.py "
                "pi05_positronic_lowmem --exp-name ") in train, train[-3000:]
    # Each era's desktop job containers (convert, stats) hold upstream's vendor programs, byte for byte.
    for era in ERAS:
        for step in ("dataset.convert", "dataset.stats"):
            section = out.stdout.split(f"== [{era}] {step}:", 1)[1]
            job = re.search(r"^started (\S+) on desktop", section, re.M)[1]
            container = ssh(sandbox, "desktop", f"docker ps -aq --filter label=rt.job={job}").split()[0]
            checkout = CHECKOUTS / f"positronic-{era}"
            files = sorted(p.relative_to(checkout) for name in ("train.py", "server.py")
                           for p in (checkout / "positronic" / "vendors").glob(f"*/{name}"))
            assert len(files) >= 4
            for path in files:
                shipped = ssh(sandbox, "desktop", f"docker cp {container}:/positronic/{path} - | tar -xO")
                assert shipped == (checkout / path).read_text(), (era, step, path)
