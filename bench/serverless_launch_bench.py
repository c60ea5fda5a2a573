"""Bench: `inv train.groot --host cloud` against a bare SDK `JobService.create` plus the wait for its operation.

Both talk to the sandbox's Nebius Serverless stand-in (`inv sandbox.up`) through the real SDK client,
each as a fresh Python process, and create the same job (the task's own dry-run spec: image pinned by
digest, the same args, env, volumes and secret references; the bare side gets the secret ids resolved
beforehand, as a script with ids written in would). The task does everything a user gets on top:
argument checks, the S3 input/output checks and run.json claim, the registry digest, the ledger.
Prints both medians and their ratio (must be <= 1.3). Jobs it starts are cancelled at the end.
Run: python3 bench/serverless_launch_bench.py [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SANDBOX = ROOT / ".sandbox"
ERA = "a060cbea"  # the serverless workflow is upstream's current one
CHECKOUT = ROOT / "docker" / "sandbox" / "checkouts" / f"positronic-{ERA}" / "docker"
BARE = r'''
import datetime, json, sys
import nebius.api.nebius.ai.v1 as ai
from nebius.aio.channel import NoCredentials
from nebius.api.nebius.common.v1 import ResourceMetadata
from nebius.base.options import INSECURE
from nebius.base.resolver import Constant
from nebius.sdk import SDK

spec, ids = json.loads(sys.argv[1]), json.loads(sys.argv[2])
address = "127.0.0.1:9556"
sdk = SDK(resolver=Constant(address), address_options={address: [(INSECURE, True)]}, credentials=NoCredentials(),
          user_agent_prefix="bench/1")
Env, Ref, Vol = ai.JobSpec__EnvironmentVariable, ai.JobSpec__MysteryBoxSecretRef, ai.JobSpec__VolumeMount
env = [Env(name=k, value=v) for k, v in spec["env"].items()]
env += [Env(name=k, mysterybox_secret=Ref(secret_id=ids[v])) for k, v in spec["secret_env"].items()]
request = ai.CreateJobRequest(
    metadata=ResourceMetadata(parent_id=spec["parent_id"], name=sys.argv[3]),
    spec=ai.JobSpec(image=spec["image"], container_command=spec["container_command"], args=spec["args"],
                    working_dir=spec["working_dir"], platform=spec["platform"], preset=spec["preset"],
                    environment_variables=env, subnet_id=spec["subnet_id"],
                    timeout=datetime.timedelta(hours=spec["timeout_hours"]),
                    disk=ai.JobSpec__DiskSpec(type=1, size_bytes=spec["disk_gb"] * 2**30),  # 1: NETWORK_SSD
                    volumes=[Vol(source=s, container_path=p, mode=ai.JobSpec__VolumeMount__Mode.READ_WRITE)
                             for s, p, _ in spec["volumes"]]))
if ids.get("__registry_version__"):  # the same private-registry credentials the task sends
    request.spec.registry_credentials = ai.JobSpec__RegistryCredentials(
        mysterybox_secret_version=ids["__registry_version__"])
op = ai.JobServiceClient(sdk).create(request, timeout=20).wait()
op.sync_wait(interval=0.1, timeout=120)  # the task polls as often (client.POLL_S)
print(op.resource_id)
sdk.sync_close()
'''


def env_for(ledger: Path) -> dict[str, str]:
    """As the tests run the current era (tests/conftest.py jobs_env, era_env): its verbatim compose file and its
    job image, which runs upstream's own programs."""
    from rt_sandbox import standin_image

    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "AWS_", "WANDB_"))}
    env.update(INVOKE_HOSTS_FILE=str(SANDBOX / "hosts.yaml"),
               INVOKE_IMAGES_ENV_FILE=str(standin_image.env_file(ROOT, ERA)),
               INVOKE_JOBS_COMPOSE_PROJECT=str(CHECKOUT), INVOKE_JOBS_LEDGER=str(ledger),
               AWS_ACCESS_KEY_ID="sandbox", AWS_SECRET_ACCESS_KEY="sandbox")
    return env


def inv(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="launches per side (median)")
    args = parser.parse_args()
    from rt_sandbox import fleet, standin_image

    fleet.ensure_up(ROOT)
    standin_image.ensure(ROOT, standin_image.RECORDING_ERA)  # its image records the sim dataset into S3 once
    standin_image.ensure_named(ROOT, ERA)
    work = Path(tempfile.mkdtemp(prefix="rt-sl-bench-"))
    env = env_for(work / "ledger.jsonl")
    run = f"serverless-bench/{uuid.uuid4().hex[:8]}"
    data = f"s3://interim/{run}/groot/"
    # internal.sim_stack: the sandbox's recording (sim_stack_cubes reads a public bucket the sandbox cannot reach)
    made = inv(env, "dataset.convert", "--host", "cloud", "--dataset", "@positronic.cfg.ds.internal.sim_stack",
               "--codec", "@positronic.vendors.gr00t.codecs.ee_rot6d_joints", "--output", data, "--wait")
    assert made.returncode == 0, made.stdout + made.stderr

    def task_args(name: str) -> list[str]:
        return ["train.groot", "--host", "cloud", "--input", data, "--output", f"s3://checkpoints/{run}/",
                "--exp-name", name, "--modality", "ee_rot6d_q", "--steps", "100000"]

    dry = inv(env, *task_args("dry"), "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    spec = json.loads(dry.stdout[dry.stdout.index("\n{") + 1:])
    from remote_training.fleet.inventory import load_inventory
    from remote_training.preflight import image_digest
    from remote_training.serverless.launch import client_for, pinned

    inventory = load_inventory(SANDBOX / "hosts.yaml")
    api = client_for(inventory.serverless_target("cloud"), inventory)
    ids = {name: api.secret_id(name) for name in spec["secret_env"].values()}
    if spec.get("registry_auth", "").startswith("mysterybox:"):
        ids["__registry_version__"] = api.secret_version(spec["registry_auth"].split(":", 1)[1])
    spec["image"] = pinned(spec["image"], image_digest(spec["image"]))
    task_times, bare_times, ids_started = [], [], []
    for i in range(args.rounds):
        began = time.monotonic()
        done = inv(env, *task_args(f"r{i}"))
        task_times.append(time.monotonic() - began)
        assert done.returncode == 0, done.stdout + done.stderr
        ids_started.append(done.stdout.split("(job ", 1)[1].split(",", 1)[0])
        began = time.monotonic()
        bare = subprocess.run([sys.executable, "-c", BARE, json.dumps(spec), json.dumps(ids),
                               f"bench-bare-{uuid.uuid4().hex[:8]}"], capture_output=True, text=True, timeout=300)
        bare_times.append(time.monotonic() - began)
        assert bare.returncode == 0, bare.stderr
        ids_started.append(bare.stdout.strip())
    for resource_id in ids_started:
        api.cancel_job(resource_id)
    task, plain = statistics.median(task_times), statistics.median(bare_times)
    print(f"inv train.groot --host cloud: median {task:.2f}s  ({', '.join(f'{t:.2f}' for t in task_times)})")
    print(f"bare SDK create + wait:       median {plain:.2f}s  ({', '.join(f'{t:.2f}' for t in bare_times)})")
    print(f"ratio {task / plain:.2f} (target <= 1.3)")
    return 0 if task / plain <= 1.3 else 1


if __name__ == "__main__":
    raise SystemExit(main())
