"""Jobs on the sandbox fleet: real sshd hosts, their own docker engines (26, Compose v2), moto S3, and
upstream's verbatim compose files run with stand-in images that speak upstream's entrypoints.

The runbook's chain end to end, a client killed mid-job, jobs found from another
process, stop, failing exit codes, secrets, and --dry-run starting nothing.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import time
import urllib.request
from typing import Any

import pytest

from tests.support import ACT_DATASET_INFO, ROOT, cli_argv, era_env, inv, jobs_json, keys, put, ssh, started_job

# gr00t's PolicyServer protocol (gr00t/policy/server_client.py, as positronic's current-era server.py speaks it):
# msgpack requests over a ZeroMQ REQ socket, numpy arrays as .npy bytes; get_action answers [action, info].
GR00T_ZMQ_CLIENT = """
import io, sys, msgpack, numpy as np, zmq
sock = zmq.Context().socket(zmq.REQ)
sock.setsockopt(zmq.RCVTIMEO, 10000)
sock.connect(f"tcp://{sys.argv[1]}:{sys.argv[2]}")
def call(endpoint, data=None):
    sock.send(msgpack.packb({"endpoint": endpoint, "data": data}))
    return msgpack.unpackb(sock.recv(), object_hook=lambda o: np.load(io.BytesIO(o["as_npy"])) if "as_npy" in o else o)
print(call("ping")["status"])
action, info = call("get_action", {"observation": {"state": {}}, "options": None})
for key in sorted(action):
    print(key, "x".join(map(str, action[key].shape)))
print(*(f"{v:g}" for v in np.concatenate([action["ee_pose"][0, 0], action["grip"][0, 0]])))
"""


@pytest.mark.parametrize("era", ["4261b1aa", "a060cbea"])
def test_chain_convert_stats_train_serve_infer(era, jobs_env, s3, prefix, sandbox, cleanup) -> None:
    """The runbook's chain through each era's verbatim compose file, with each era's own arguments."""
    env = {**jobs_env, **era_env(era)}
    runbook = era == "4261b1aa"
    data, stats, ckpt = f"s3://interim/{prefix}/groot_q/", f"s3://interim/{prefix}/stats/", f"s3://checkpoints/{prefix}/g/"
    recipe = (["--dataset", "@positronic.cfg.phail.sim_stack_groot_ft", "--observation", ".groot_rot6d_joints",
               "--action", ".groot_rot6d"] if runbook else
              ["--dataset", "@positronic.cfg.ds.internal.sim_stack", "--codec",  # sim_stack_cubes: a public
               "@positronic.vendors.gr00t.codecs.ee_rot6d_joints"])  # bucket the sandbox cannot reach
    convert = inv(env, "dataset.convert", *recipe, "--output", data)
    assert convert.returncode == 0, convert.stderr
    job = started_job(convert)
    cleanup.append(("desktop", job))
    assert inv(env, "jobs.wait", job).returncode == 0, inv(env, "jobs.logs", job).stdout
    assert "meta/info.json" in keys(s3, data)
    service = jobs_json(env, "--host", "desktop")[job]["service"]
    assert service == ("positronic-to-lerobot" if runbook else "lerobot-0_3_3-convert")  # upstream's own names

    result = inv(env, "dataset.stats", "--input", data, "--output", stats)
    cleanup.append(("desktop", started_job(result)))
    assert "project unchanged" in result.stdout  # the second launch on desktop sent nothing
    assert inv(env, "jobs.wait", started_job(result)).returncode == 0
    assert any(k.startswith("assets/") for k in keys(s3, stats))

    train = inv(env, "train.groot", "--input", data, "--output", ckpt, "--modality", "ee_rot6d_q",
                "--exp-name", "e1", "--steps", "4", "--save-steps", "2", "--host", "train2")
    assert train.returncode == 0, train.stderr
    cleanup.append(("vm-train2", started_job(train)))
    assert inv(env, "jobs.wait", started_job(train)).returncode == 0
    saved = keys(s3, ckpt + "e1/")
    assert "checkpoint-2/config.json" in saved and "checkpoint-4/config.json" in saved
    assert any(k.startswith("run_metadata_") for k in saved)
    assert not any(k.endswith("run.json") for k in saved)  # the record lives beside the synced prefix
    assert "run.json" in keys(s3, ckpt + ".rt-runs/e1/")

    openpi = inv(env, "train.openpi", "--input", data, "--stats", stats + "assets/", "--output",
                 f"s3://checkpoints/{prefix}/pi/", "--exp-name", "e1", "--steps", "2000", "--host", "train2", "--wait")
    cleanup.append(("vm-train2", started_job(openpi)))
    assert openpi.returncode == 0, openpi.stdout + openpi.stderr
    assert any(k.startswith("pi05_positronic_lowmem/e1/2000/") for k in keys(s3, f"s3://checkpoints/{prefix}/pi/"))
    # upstream's own train.py ran openpi's scripts/train.py (the model stub); the current era's passes the LR
    # schedule's length too, and first found the tokenizer in the host's cache (seeded at sandbox.up)
    schedule = "" if runbook else " --lr-schedule.decay-steps=2000"
    command = ("Running command: `/usr/local/bin/uv run --frozen --project /openpi -- python scripts/train.py "
               f"pi05_positronic_lowmem --exp-name e1 --overwrite --num-train-steps=2000{schedule} --assets-base-dir ")
    assert command in openpi.stdout, openpi.stdout

    port = 9300 + os.getpid() % 500
    serve = inv(env, "serve.groot", "--checkpoints", ckpt + "e1/", "--modality", "ee_rot6d_q",
                "--port", str(port), "--host", "train2")
    assert serve.returncode == 0, serve.stdout + serve.stderr
    server = started_job(serve)
    cleanup.append(("vm-train2", server))
    address = sandbox["hosts"]["vm-train2"]["address"]
    assert f"answers on {address}:{port}" in serve.stdout
    if runbook:  # upstream's server.py hands the port to gr00t's own ZeroMQ server (the model stub under it)
        from rt_sandbox import standin_image

        image = standin_image.tag_for(ROOT, era)
        reply = ssh(sandbox, "vm-train2", f"docker run --rm --network host --entrypoint /.venv/bin/python {image} "
                                          f"-c {shlex.quote(GR00T_ZMQ_CLIENT)} {address} {port}")
        # the rest action: zero position and grip, the identity rotation as rot6d
        assert reply.split() == ["ok", "ee_pose", "1x16x9", "grip", "1x16x1", *"000100010", "0"], reply
        started = "Running command: `/.venv/bin/python gr00t/eval/run_gr00t_server.py --model_path "
    else:  # upstream's own offboard server, the gr00t subprocess behind it
        with urllib.request.urlopen(f"http://{address}:{port}/api/v1/models", timeout=5) as reply:
            assert json.load(reply)["models"] == ["2", "4"]  # every step, unpadded
        started = "Pinned default checkpoint at startup: 4"
    log = inv(env, "jobs.logs", server).stdout  # upstream's own lines, then gr00t's stub listening
    assert started in log and "Server is ready and listening on tcp://" in log, log
    smi = ssh(sandbox, "vm-train2", "nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits")
    assert int(smi.strip()) >= 6000  # the server's GPU request and rt.gpu_mem_mb label reach the GPU stand-in

    # the fleet path: upstream's own client, one trial of 3 simulated seconds against the GR00T server (runbook:
    # .groot_ee_rot6d_joints over gr00t's ZeroMQ, the stub's rest action decoded; current: .remote), its world
    # brought down when the trial ended (nothing recorded: no --output-dir)
    client = inv(env, "infer.sim", "--server", server, "--host", "vm-train2", "--simulation-time", "3")
    assert client.returncode == 0, client.stdout + client.stderr
    cleanup.append(("vm-train2", started_job(client)))
    assert "Stopping background processes" in client.stdout, client.stdout[-3000:]  # pimm's world, at its end
    if not runbook:
        assert "Warming up policy endpoints" in client.stdout, client.stdout[-3000:]

    assert inv(env, "serve.stop", server).returncode == 0
    assert jobs_json(env, "--host", "train2")[server]["state"] == "exited"


def test_job_survives_a_killed_client_and_keeps_its_whole_log(jobs_env, s3, prefix, cleanup) -> None:
    data = _dataset(jobs_env, prefix, cleanup)
    ckpt = f"s3://checkpoints/{prefix}/cut/"
    client = subprocess.Popen(cli_argv("train.groot", "--input", data, "--output", ckpt, "--modality", "ee_q",
                                       "--exp-name", "cut", "--steps", "12", "--save-steps", "1",
                                       "--host", "train", "--wait"),
                              cwd=ROOT, env=jobs_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    first = client.stdout.readline()
    job = first.split()[1]
    cleanup.append(("vm-train", job))
    assert first.startswith("started ") and client.stdout.read(1)  # the streamed log has begun
    os.killpg(client.pid, signal.SIGKILL)  # the laptop goes away: its SSH connection with it
    client.wait(timeout=10)
    assert jobs_json(jobs_env, "--running")[job]["state"] == "running"

    followed = inv(jobs_env, "jobs.logs", job, "--follow")  # a new client re-attaches until the end
    assert followed.returncode == 0 and "Training finished: 12 steps" in followed.stdout
    assert inv(jobs_env, "jobs.wait", job).returncode == 0
    log = inv(jobs_env, "jobs.logs", job).stdout
    # upstream's own train.py ran gr00t's launch_finetune.py (the model stub) as its subprocess
    assert "Running command: `/.venv/bin/python gr00t/experiment/launch_finetune.py --base_model_path" in log
    assert all(f"| {step}/12 [" in log for step in range(1, 13))
    progress = json.loads(inv(jobs_env, "jobs.progress", job, "--json").stdout)
    # The log's last tqdm bar: upstream's pos3 uploading the outputs at the end (its units are bytes), after
    # the trainer's 12/12.
    assert progress[0]["percent"] == 100 and "Uploading s3://" in log
    assert "checkpoint-12/config.json" in keys(s3, ckpt + "cut/")


def test_list_from_another_process_stop_and_failing_exit_codes(jobs_env, sandbox, s3, prefix, cleanup) -> None:
    from remote_training.fleet.inventory import load_inventory
    from remote_training.fleet.remote import RemoteRunner
    from remote_training.jobs import monitor

    # the dataset's meta/info.json is all the ACT trainer reads before its steps (lerobot's make_policy: features)
    data = f"s3://interim/{prefix}/act-data/"
    put(s3, data + "meta/info.json", ACT_DATASET_INFO)
    long = inv(jobs_env, "train.lerobot", "--input", data, "--output", f"s3://checkpoints/{prefix}/act/",
               "--exp-name", "long", "--steps", "200000", "--host", "desktop")
    job = started_job(long)
    cleanup.append(("desktop", job))

    runner = RemoteRunner(load_inventory(sandbox["hosts_file"]))
    try:  # this test process never launched it: it finds it by label, like another laptop would
        found = monitor.find_job(runner, runner.inventory.hosts, job)
    finally:
        runner.close()
    assert (found.host, found.service, found.kind, found.running) == ("desktop", "lerobot-train", "train", True)
    assert "--steps=200000" in found.args and found.user  # positronic-train: lerobot's own key

    began = time.monotonic()
    assert inv(jobs_env, "jobs.stop", job).returncode == 0
    assert time.monotonic() - began < 20
    stopped = jobs_json(jobs_env, "--host", "desktop")[job]
    assert stopped["state"] == "exited" and stopped["exit_code"] == 143
    assert inv(jobs_env, "jobs.wait", job).returncode == 143
    assert inv(jobs_env, "jobs.wait", job, "--rt-codes").returncode == 10  # rt's "a job failed", no other code

    bad = launch_jointless_train(jobs_env, s3, prefix, f"s3://checkpoints/{prefix}/never/", cleanup)
    waited = inv(jobs_env, "jobs.wait", bad)
    assert waited.returncode == 1 and "exited 1" in waited.stderr  # upstream's check=True: CalledProcessError
    errors = inv(jobs_env, "jobs.errors", bad)
    assert "needs joint observations" in errors.stdout and "exited 1" in errors.stdout
    assert "CalledProcessError" in errors.stdout

    attached = inv(jobs_env, "train.groot", "--input", f"s3://interim/{prefix}/nojoints/", "--output",
                   f"s3://checkpoints/{prefix}/never2/", "--modality", "ee_rot6d_q", "--host", "train", "--wait")
    cleanup.append(("vm-train", started_job(attached)))
    assert attached.returncode == 1 and "needs joint observations" in attached.stdout


def test_a_server_that_dies_fails_the_task_fast(jobs_env, s3, prefix, cleanup) -> None:
    ckpts = f"s3://checkpoints/{prefix}/act/"
    put(s3, ckpts + "checkpoints/1000/pretrained_model/config.json", "truncated upload")  # exists, unreadable
    result = inv(jobs_env, "serve.lerobot", "--checkpoints", ckpts, "--port", "9297", "--host", "desktop",
                 extra_env=era_env("a060cbea"))  # the runbook era has no LeRobot server
    cleanup.append(("desktop", started_job(result)))
    # the task's exit code is the server's own: Python's 1 for the exception upstream's server.py dies of; the
    # task ended on the exit, not on the readiness timeout (how fast that is: bench/, not a wall-clock assert)
    assert result.returncode == 1 and "exited 1 before its port 9297 answered" in result.stderr
    # the progress line names what readiness asks (catalog.SERVING: a model server's model list)
    assert re.search(r"^\S+: waiting for lerobot\S*-server to answer on http://\S+:9297/api/v1/models \(\d+s\)$",
                     result.stderr, re.M)
    # upstream's server.py loading it: lerobot's config reader (the stub's json.load, as draccus reads the file)
    assert "json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)" in result.stderr


def test_secrets_reach_the_job_but_no_command_line_or_file(jobs_env, sandbox, prefix, cleanup) -> None:
    secret = f"wandb-{os.urandom(6).hex()}"
    out = f"s3://interim/{prefix}/sec/"
    args = ("dataset.convert", "--dataset", "@positronic.cfg.phail.sim_stack_groot_ft", "--observation", ".groot",
            "--action", ".groot", "--output", out)
    dry = inv(jobs_env, *args, "--dry-run", extra_env={"WANDB_API_KEY": secret})
    assert dry.returncode == 0 and secret not in dry.stdout + dry.stderr and "WANDB_API_KEY" in dry.stdout
    real = inv(jobs_env, *args, extra_env={"WANDB_API_KEY": secret})
    job = started_job(real)
    cleanup.append(("desktop", job))
    assert secret not in real.stdout + real.stderr
    record = json.loads(ssh(sandbox, "desktop", f"docker inspect {job}"))[0]
    assert f"WANDB_API_KEY={secret}" in record["Config"]["Env"]  # it arrived, through the launch command's stdin
    assert secret not in json.dumps([record["Args"], record["Config"]["Cmd"], record["Config"]["Labels"]])
    # No file on the host holds it either (the values came on stdin, not in a file). Docker's own
    # record of the container (its data root, /var/lib/docker on a VM) is what `docker inspect` reads.
    held = ssh(sandbox, "desktop", f"grep -rls --exclude-dir=docker -- {secret} ~ /tmp 2>/dev/null || true")
    assert held.strip() == ""


def test_upstreams_printed_environment_is_masked_everywhere_the_log_shows(jobs_env, s3, prefix, cleanup) -> None:
    """The GR00T trainer prints its whole environment (upstream's `Running command: ... with env: {env}`): the
    streamed --wait log, jobs.logs (also --follow), jobs.errors and jobs.progress show it with every secret the
    tool handed the job masked. The WANDB value holds "error": unmasked, its line would be one jobs.errors shows."""
    data = _dataset(jobs_env, prefix, cleanup)
    secret = f"error-wandb-{os.urandom(6).hex()}"
    handed = (secret, jobs_env["AWS_ACCESS_KEY_ID"], jobs_env["AWS_SECRET_ACCESS_KEY"])
    run = inv(jobs_env, "train.groot", "--input", data, "--output", f"s3://checkpoints/{prefix}/env/", "--modality",
              "ee_q", "--exp-name", "env", "--steps", "2", "--save-steps", "1", "--host", "train", "--wait",
              extra_env={"WANDB_API_KEY": secret})
    job = started_job(run)
    cleanup.append(("vm-train", job))
    assert run.returncode == 0, run.stdout + run.stderr
    shown = {"--wait": run.stdout + run.stderr}
    for task in (("jobs.logs", job), ("jobs.logs", job, "--follow"), ("jobs.errors", job),
                 ("jobs.progress", job, "--json")):
        result = inv(jobs_env, *task)
        assert result.returncode == 0, result.stderr
        shown[" ".join(task[:1] + task[2:])] = result.stdout + result.stderr
    for name, text in shown.items():
        assert not [value for value in handed if value in text], (name, text)
    for name in ("--wait", "jobs.logs", "jobs.logs --follow"):
        assert "Running command: `/.venv/bin/python gr00t/experiment/launch_finetune.py" in shown[name], name
        assert "'WANDB_API_KEY': '***'" in shown[name] and "'AWS_SECRET_ACCESS_KEY': '***'" in shown[name], name


def test_every_dry_run_starts_nothing(jobs_env, sandbox, s3, prefix, cleanup) -> None:
    done = inv(jobs_env, "dataset.convert", "--dataset", "@positronic.cfg.phail.sim_stack_groot_ft", "--observation",
               ".groot", "--action", ".groot",
               "--output", f"s3://interim/{prefix}/d/", "--wait")
    finished = started_job(done)
    cleanup.append(("desktop", finished))
    before = _containers(sandbox)
    # Inputs that exist and an empty output, so preflight (it runs in a dry run too) lets every command through.
    data, ckpts, out = (f"s3://interim/{prefix}/{name}/" for name in ("in", "ck", "out"))
    put(s3, data + "meta/info.json", '{"observation": ".groot_joints"}')
    put(s3, data + "norm_stats.json", "{}")
    for key in ("checkpoint-2/config.json", "2000/config.json", "checkpoints/2000/pretrained_model/config.json"):
        put(s3, ckpts + key, "{}")
    launching = [
        ("dataset.convert", "--dataset", "@positronic.cfg.phail.sim_stack_groot_ft", "--observation", ".groot",
         "--action", ".groot", "--output", out),
        ("dataset.stats", "--input", data, "--output", out),
        ("train.groot", "--input", data, "--output", out, "--modality", "ee"),
        ("train.openpi", "--input", data, "--stats", data, "--output", out),
        ("train.lerobot", "--input", data, "--output", out),
        ("serve.groot", "--checkpoints", ckpts, "--modality", "ee_q", "--replace"),
        ("serve.openpi", "--checkpoints", ckpts),
        ("infer.sim", "--server", "vm-train:9000", "--policy", "groot_ee", "--host", "vm-train"),
    ]
    for args in launching:
        result = inv(jobs_env, *args, "--dry-run")
        assert result.returncode == 0, (args, result.stderr)
        assert "docker compose -f docker-compose.yml -f rt-override.yml run -d --name" in result.stdout, args
        assert "\nstarted " not in result.stdout, args
    for args in (("jobs.stop", finished), ("serve.stop", "desktop"), ("jobs.clean",)):
        result = inv(jobs_env, *args, "--dry-run")
        assert result.returncode == 0, (args, result.stderr)
    assert f"docker stop --time 30 {finished}" in inv(jobs_env, "jobs.stop", finished, "--dry-run").stdout
    assert _containers(sandbox) == before


def _containers(sandbox: dict[str, Any]) -> dict[str, str]:
    """Every container (id -> status) on the hosts that answer."""
    seen: dict[str, str] = {}
    for host in ("desktop", "vm-train", "vm-train2"):
        for line in ssh(sandbox, host, "docker ps -a --format '{{.ID}} {{.Status}}'").splitlines():
            cid, status = line.split(" ", 1)
            seen[f"{host}/{cid}"] = status.split(" (")[0].split(" ")[0]
    return seen


def _dataset(env: dict[str, str], prefix: str, cleanup: list) -> str:
    data = f"s3://interim/{prefix}/data/"
    result = inv(env, "dataset.convert", "--dataset", "@positronic.cfg.phail.sim_stack_groot_ft", "--observation",
                 ".groot_joints", "--action",
                 ".groot", "--output", data, "--wait")
    cleanup.append(("desktop", started_job(result)))
    assert result.returncode == 0, result.stdout + result.stderr
    return data


def test_a_start_that_fails_leaves_no_container(jobs_env, sandbox, s3, prefix, cleanup) -> None:
    ckpts = f"s3://checkpoints/{prefix}/srv/"
    put(s3, ckpts + "checkpoint-1/config.json", "{}")
    put(s3, ckpts + "1/config.json", "{}")
    port = "9296"
    first = inv(jobs_env, "serve.groot", "--checkpoints", ckpts, "--modality", "ee", "--port", port,
                "--host", "desktop")
    assert first.returncode == 0, first.stderr
    cleanup.append(("desktop", started_job(first)))
    # Preflight would refuse the taken port; with it off, docker refuses at start, after compose created the container.
    second = inv(jobs_env, "serve.openpi", "--checkpoints", ckpts, "--port", port, "--host", "desktop",
                 extra_env={"INVOKE_JOBS_PREFLIGHT": "0"})
    assert second.returncode == 5 and "compose run openpi-server exited" in second.stderr, second.stderr
    assert "already allocated" in second.stderr or "address already in use" in second.stderr
    left = ssh(sandbox, "desktop",
               "docker ps -a --filter label=rt.service=openpi-server --format '{{.Names}} {{.Status}}'")
    assert "Created" not in left
    assert inv(jobs_env, "serve.stop", started_job(first)).returncode == 0


def test_clean_removes_finished_jobs_and_user_narrows_it(jobs_env, sandbox, prefix, cleanup) -> None:
    alice, bob = (f"{name}-{os.urandom(3).hex()}" for name in ("alice", "bob"))
    made = {}
    for user in (alice, bob):
        done = inv(jobs_env, "dataset.convert", "--dataset", "@positronic.cfg.phail.sim_stack_groot_ft",
                   "--observation", ".groot", "--action",
                   ".groot", "--output", f"s3://interim/{prefix}/{user}/", "--wait", extra_env={"USER": user})
        made[user] = started_job(done)
        cleanup.append(("desktop", made[user]))
    assert {made[alice], made[bob]} <= set(jobs_json(jobs_env, "--host", "desktop"))
    dry = inv(jobs_env, "jobs.clean", "--host", "desktop", "--user", alice, "--dry-run")
    container = jobs_json(jobs_env, "--host", "desktop")[made[alice]]["container"]
    assert dry.returncode == 0 and f"docker rm {container}" in dry.stdout and made[bob] not in dry.stdout
    out = inv(jobs_env, "jobs.clean", "--host", "desktop", "--user", alice)
    assert out.returncode == 0 and out.stdout.strip() == f"removed 1 finished job(s): {made[alice]} (desktop)"
    left = jobs_json(jobs_env, "--host", "desktop")
    assert made[alice] not in left and left[made[bob]]["exit_code"] == 0  # bob's log and exit code stay
    assert inv(jobs_env, "jobs.clean", "--host", "desktop", "--user", bob).returncode == 0
    assert made[bob] not in jobs_json(jobs_env, "--host", "desktop")


def test_clean_removes_only_finished_containers_of_ours_by_id(jobs_env, sandbox, tmp_path) -> None:
    """A paused job stays; a label naming another container never removes that container; an
    unreachable host is named and the task fails."""
    tag = os.urandom(3).hex()
    base = sandbox["base_image"]
    bystander = f"pg-{tag}"  # a container of someone else's, not a job
    ssh(sandbox, "desktop", f"docker run -d --name {bystander} {base} true >/dev/null; docker wait {bystander}")
    decoy = f"rt-decoy-{tag}"  # an ended container whose rt.job label names the bystander
    ssh(sandbox, "desktop", f"docker run -d --name {decoy} --label rt.job={bystander} {base} true >/dev/null; "
                            f"docker wait {decoy}")
    paused = f"rt-paused-{tag}"
    ssh(sandbox, "desktop", f"docker run -d --name {paused} --label rt.job={paused} {base} sleep 300 >/dev/null; "
                            f"docker pause {paused}")
    try:
        out = inv(jobs_env, "jobs.clean", "--host", "desktop")
        assert out.returncode == 0, out.stderr
        left = ssh(sandbox, "desktop", "docker ps -a --format '{{.Names}} {{.State}}'")
        assert f"{bystander} exited" in left and f"{paused} paused" in left and decoy not in left
        ghost = tmp_path / "hosts.yaml"
        ghost.write_text(sandbox["hosts_file"].read_text().replace(
            "hosts:\n", "hosts:\n  ghost: {ssh: 'root@127.0.0.1:1', gpu: H100, gpu_memory_gb: 80}\n", 1)
            .replace("ssh_config: ssh_config", f"ssh_config: {sandbox['hosts_file'].parent / 'ssh_config'}")
            .replace("known_hosts: known_hosts", f"known_hosts: {sandbox['hosts_file'].parent / 'known_hosts'}")
            .replace("compose_project: ../", f"compose_project: {sandbox['hosts_file'].parent.parent}/"))
        missed = inv({**jobs_env, "INVOKE_HOSTS_FILE": str(ghost)}, "jobs.clean", "--dry-run")
        assert missed.returncode == 4 and "ghost" in missed.stderr, missed.stdout + missed.stderr
    finally:
        ssh(sandbox, "desktop", f"docker rm -f {bystander} {decoy} {paused} >/dev/null 2>&1 || true")


def launch_jointless_train(env, s3, prefix: str, output: str, cleanup) -> str:
    """A failure only the running program can see: ee_q needs joints, this dataset has none (the gr00t stub
    refuses it at once; upstream's train.py raises CalledProcessError: exit 1).
    Started detached on vm-train; its job id."""
    put(s3, f"s3://interim/{prefix}/nojoints/meta/info.json", '{"observation": ".groot", "action": ".groot"}')
    launched = inv(env, "train.groot", "--input", f"s3://interim/{prefix}/nojoints/", "--output", output,
                   "--modality", "ee_q", "--host", "train")
    assert launched.returncode == 0, launched.stderr
    cleanup.append(("vm-train", started_job(launched)))
    return started_job(launched)


def test_waiting_on_a_job_that_ended_earlier_records_its_own_end(jobs_env, s3, prefix, cleanup) -> None:
    """jobs.wait long after the end (a detached run never waited on): the ledger gets the container's end
    time from the engine, not the time of the wait, so jobs.history --cost stops counting there."""
    import calendar

    job = launch_jointless_train(jobs_env, s3, prefix, f"s3://checkpoints/{prefix}/late/", cleanup)
    for _ in range(60):  # the program refuses the dataset at once
        if jobs_json(jobs_env, "--host", "train")[job]["state"] == "exited":
            break
        time.sleep(0.5)
    time.sleep(4)
    asked = time.time()
    waited = inv(jobs_env, "jobs.wait", job)
    assert waited.returncode == 1, waited.stdout + waited.stderr
    events = [json.loads(line) for line in open(jobs_env["INVOKE_JOBS_LEDGER"]) if job in line]
    [end] = [e for e in events if e.get("event") == "end"]
    [start] = [e for e in events if e.get("event") == "start"]  # (the "launch" line before it: the intent)
    ended = calendar.timegm(time.strptime(end["ended"], "%Y-%m-%dT%H:%M:%SZ"))
    assert end["exit_code"] == 1 and ended <= asked - 3  # the container's end, seconds before the wait
    assert ended >= calendar.timegm(time.strptime(start["started"], "%Y-%m-%dT%H:%M:%SZ")) - 1
