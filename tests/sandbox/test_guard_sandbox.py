"""Preflight, placement and the ledger inside real launches (`inv` on the sandbox, stand-in images):
run.json beside the run folder (outside what the job syncs), secrets kept out, a held output refused then resumed, a
taken port refused then --replace'd, a second GR00T server refused on the 12 GB desktop, two launches racing for one
output (exactly one starts), and a failed start giving its claim back."""
from __future__ import annotations

import json
import uuid

from tests.support import ROOT, cli_argv, inv, jobs_json, keys, put, started_job

SECRET = "wandb-secret-" + uuid.uuid4().hex


def _dataset(s3, prefix):
    data = f"s3://interim/{prefix}/data/"
    put(s3, data + "meta/info.json", '{"observation": ".groot_rot6d_joints"}')
    return data


def test_run_json_lands_beside_the_run_folder_without_secrets(jobs_env, s3, prefix, cleanup, tmp_path):
    data, out = _dataset(s3, prefix), f"s3://checkpoints/{prefix}/groot/"
    ledger_file = tmp_path / "ledger.jsonl"
    extra = {"WANDB_API_KEY": SECRET, "INVOKE_JOBS_LEDGER": str(ledger_file)}
    train = ("train.groot", "--input", data, "--output", out, "--modality", "ee_rot6d_q", "--exp-name", "e1",
             "--steps", "4", "--save-steps", "2", "--host", "vm-train", "--wait")
    first = inv(jobs_env, *train, extra_env=extra)
    assert first.returncode == 0, first.stdout + first.stderr
    job = started_job(first)
    cleanup.append(("vm-train", job))
    saved = keys(s3, out + "e1/")
    assert "checkpoint-4/config.json" in saved and "run.json" not in saved  # the job syncs e1/; the record is outside
    assert keys(s3, out + ".rt-runs/e1/") == ["run.json"]
    record = json.loads(s3.get_object(Bucket="checkpoints", Key=f"{prefix}/groot/.rt-runs/e1/run.json")["Body"].read())
    [run] = record["launches"]
    assert run["job_id"] == job and run["exit_code"] == 0 and run["host"] == "vm-train"
    assert run["run_folder"] == out + "e1/"
    assert run["image"].startswith("localhost:5000/") and run["image_digest"].startswith("sha256:")
    assert "--modality_config=ee_rot6d_q" in run["args"] and run["ended"]
    for text in (json.dumps(run), ledger_file.read_text(), first.stdout, first.stderr):
        assert SECRET not in text
    traced = inv(jobs_env, "jobs.history", "--json", "--trace", out + "e1/checkpoint-4/", extra_env=extra)
    assert [e["job_id"] for e in json.loads(traced.stdout)] == [job], traced.stderr
    elsewhere = inv(jobs_env, "jobs.history", "--json", "--trace", out + "e1/checkpoint-4/",
                    extra_env={"INVOKE_JOBS_LEDGER": str(tmp_path / "another-laptop.jsonl")})  # only S3 knows
    assert json.loads(elsewhere.stdout)[0]["image_digest"] == run["image_digest"], elsewhere.stderr

    again = inv(jobs_env, *train, extra_env=extra)
    assert again.returncode == 8 and f"{out}e1/ already holds a run" in again.stderr, again.stderr
    assert "--resume" in again.stderr and "started " not in again.stdout
    resumed = inv(jobs_env, *train, "--resume", extra_env=extra)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    cleanup.append(("vm-train", started_job(resumed)))
    assert "--resume: continuing the run" in resumed.stdout
    # --resume keeps the earlier launch in the record and adds its own
    record = json.loads(s3.get_object(Bucket="checkpoints", Key=f"{prefix}/groot/.rt-runs/e1/run.json")["Body"].read())
    assert [e["job_id"] for e in record["launches"]] == [job, started_job(resumed)]


def test_two_launches_racing_for_one_output_start_exactly_one(jobs_env, s3, prefix, cleanup):
    """The claim is a conditional write of run.json: whichever launch makes it first runs, the other is
    refused before anything started; a refused launch leaves no claim behind."""
    import subprocess

    data, out = _dataset(s3, prefix), f"s3://checkpoints/{prefix}/race/"
    argv = cli_argv("train.groot", "--input", data, "--output", out, "--modality", "ee",
                    "--exp-name", "same", "--steps", "2", "--save-steps", "1")
    racers = [subprocess.Popen([*argv, "--host", host], cwd=ROOT, env=jobs_env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True) for host in ("vm-train", "vm-train2")]
    results = [(r.wait(timeout=120), *r.communicate()) for r in racers]
    started = [(code, o) for code, o, _ in results if code == 0]
    refused = [(code, e) for code, _, e in results if code != 0]
    assert len(started) == 1 and len(refused) == 1, results
    cleanup.append(("vm-train" if results[0][0] == 0 else "vm-train2", started_job_text(started[0][1])))
    code, err = refused[0]
    assert code == 8 and (f"{out}same/" in err) and ("claimed a moment ago" in err or "already holds a run" in err)
    record = json.loads(s3.get_object(Bucket="checkpoints", Key=f"{prefix}/race/.rt-runs/same/run.json")["Body"].read())
    assert [e["job_id"] for e in record["launches"]] == [started_job_text(started[0][1])]


def test_a_launch_that_fails_after_its_checks_gives_its_claim_back(jobs_env, s3, prefix, tmp_path):
    """Every check passes, then compose refuses to start the job (a fault put into a copy of the
    compose file): the output's claim is taken back, so the next launch is not refused."""
    data, out = _dataset(s3, prefix), f"s3://checkpoints/{prefix}/fail/"
    source = ROOT / "docker" / "sandbox" / "checkouts" / "positronic-a060cbea" / "docker" / "docker-compose.yml"
    text = source.read_text()
    assert "    shm_size: 8g\n    ipc: host  # Enable shared memory" in text
    broken = text.replace("    shm_size: 8g\n    ipc: host  # Enable shared memory",
                          "    shm_size: 8zz\n    ipc: host  # Enable shared memory")
    (tmp_path / "docker-compose.yml").write_text(broken)
    result = inv(jobs_env, "train.groot", "--input", data, "--output", out, "--modality", "ee", "--exp-name", "x",
                 "--host", "vm-train", extra_env={"INVOKE_JOBS_COMPOSE_PROJECT": str(tmp_path)})
    assert result.returncode == 5 and "compose run groot-train exited" in result.stderr, result.stdout + result.stderr
    assert keys(s3, out) == []  # no claim left behind, nothing written


def started_job_text(stdout: str) -> str:
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("started "))


def test_a_taken_port_is_refused_naming_the_holder_then_replaced(jobs_env, s3, prefix, cleanup):
    ckpts = f"s3://checkpoints/{prefix}/serve/e1/"
    put(s3, ckpts + "checkpoint-2/config.json", "{}")
    port = str(20000 + uuid.uuid4().int % 10000)
    serve = ("serve.groot", "--checkpoints", ckpts, "--modality", "ee_rot6d_q", "--port", port, "--host", "vm-train")
    first = inv(jobs_env, *serve)
    assert first.returncode == 0, first.stdout + first.stderr
    holder = started_job(first)
    cleanup.append(("vm-train", holder))
    assert "latest checkpoint: " + ckpts + "checkpoint-2/" in first.stdout

    second = inv(jobs_env, *serve)
    assert second.returncode == 8 and "started " not in second.stdout
    assert f"port {port} on vm-train is held by container {holder} (job {holder}, groot-server)" in second.stderr
    assert f"add --replace to stop {holder} first" in second.stderr

    replaced = inv(jobs_env, *serve, "--replace")
    assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    cleanup.append(("vm-train", started_job(replaced)))
    jobs = jobs_json(jobs_env, "--host", "vm-train")
    assert jobs[holder]["state"] != "running" and jobs[started_job(replaced)]["state"] == "running"


def test_a_second_groot_server_does_not_fit_the_desktop(jobs_env, s3, prefix, cleanup):
    ckpts = f"s3://checkpoints/{prefix}/desk/e1/"
    put(s3, ckpts + "checkpoint-2/config.json", "{}")
    base = 20000 + uuid.uuid4().int % 10000
    serve = ("serve.groot", "--checkpoints", ckpts, "--modality", "ee_rot6d_q", "--host", "desktop")
    first = inv(jobs_env, *serve, "--port", str(base))
    assert first.returncode == 0, first.stdout + first.stderr
    holder = started_job(first)
    cleanup.append(("desktop", holder))
    second = inv(jobs_env, *serve, "--port", str(base + 1))
    assert second.returncode == 8 and "started " not in second.stdout
    assert "gpu memory: desktop has" in second.stderr and f"held by {holder}" in second.stderr
