"""Jobs logic that needs no host: progress parsing, project hashing and the exact launch command
(quoting round-trips through a shell). Typed arguments per era: tests/unit/test_catalog.py."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from remote_training.errors import InputError
from remote_training.fleet.inventory import parse_inventory
from remote_training.fleet.remote import quote_command
from remote_training.jobs import compose, monitor, project
from remote_training.jobs.spec import JobSpec, new_job_id

INVENTORY = parse_inventory("hosts:\n  vm-train: {ssh: u@vm, gpu: H100, gpu_memory_gb: 80, compose: docker compose}\n",
                            Path("hosts.yaml"))


def test_progress_takes_the_last_tqdm_update() -> None:
    text = ("Training\r  5%|5         | 1000/20000 [00:10<03:10, 99.1it/s]\r"
            " 20%|##        | 4000/20000 [12:01<48:05, 5.54it/s]\rsaving checkpoint-4000\n")
    p = monitor.parse_progress(text)
    assert (p.percent, p.step, p.total, p.elapsed, p.eta) == (20, 4000, 20000, "12:01", "48:05")
    assert monitor.parse_progress("loading 37% done\n").percent == 37
    assert monitor.parse_progress("no progress yet\n").percent is None


def test_error_lines_grep_like_the_runbook() -> None:
    text = "ok\nValueError: setting an array element\nall good\r CUDA out of memory\nTraining finished\n"
    assert monitor.error_lines(text) == ["ValueError: setting an array element", "CUDA out of memory"]


def test_project_hash_is_content_addressed_and_skips_env_files(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / ".env.wandb").write_text("WANDB_API_KEY=secret\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Dockerfile").write_text("FROM x\n")
    first = project.collect(tmp_path, {".env": "RT_IMAGE_GR00T=a\n"})
    assert [f[0] for f in first.files] == [".env", "docker-compose.yml"]
    assert project.collect(tmp_path, {".env": "RT_IMAGE_GR00T=a\n"}).digest == first.digest
    assert project.collect(tmp_path, {".env": "RT_IMAGE_GR00T=b\n"}).digest != first.digest
    (tmp_path / "docker-compose.yml").write_text("services: {x: {}}\n")
    assert project.collect(tmp_path, {".env": "RT_IMAGE_GR00T=a\n"}).digest != first.digest
    assert first.remote_dir("~/remote-training") == f"remote-training/project-{first.digest}"


def test_launch_command_round_trips_through_a_real_shell() -> None:
    """Every piece reaches compose exactly as built, hostile text included."""
    nasty = "--exp_name=$(touch /tmp/pwned);`id`'\""
    spec = JobSpec(new_job_id("groot-server"), "groot-server", "serve", "vm-train", ("--port=9000", nasty),
                   image="localhost:5000/positro/gr00t:src-abc", port=9001, gpu_mem_mb=6000, container_port=9000,
                   program="positronic.vendors.gr00t.server", era="4261b1aa", client="groot_ee")
    argv = compose.compose_argv(INVENTORY.get("vm-train"), spec, ["WANDB_API_KEY"])
    # Replace the compose command by a printer, keep the rest: what would compose receive?
    line = quote_command(["sh", "-c", 'for a in "$@"; do printf "%s\\n" "$a"; done', "sh", *argv])
    out = subprocess.run(["sh", "-c", line], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == argv
    assert argv[:8] == ["docker", "compose", "-f", "docker-compose.yml", "-f", project.OVERRIDE, "run", "-d"]
    labels = dict(argv[i + 1].split("=", 1) for i, a in enumerate(argv) if a == "-l")
    assert labels["rt.job"] == spec.job_id and labels["rt.kind"] == "serve" and labels["rt.gpu_mem_mb"] == "6000"
    assert labels["rt.client"] == "groot_ee" and labels["rt.program"] == "positronic.vendors.gr00t.server"
    assert json.loads(labels["rt.args"]) == ["--port=9000", nasty]
    # Only the server's own port, at the host port asked for: never the service's other ports.
    assert "--service-ports" not in argv and argv[argv.index("-p") + 1] == "9001:9000"
    assert argv[-3:] == ["groot-server", "--port=9000", nasty]
    assert ["-e", "WANDB_API_KEY"] == argv[argv.index("WANDB_API_KEY") - 1:argv.index("WANDB_API_KEY") + 1]


def test_every_planned_job_runs_python_unbuffered_so_its_prints_reach_the_log_while_it_runs() -> None:
    """A detached compose run has no terminal: without PYTHONUNBUFFERED upstream's print() lines would wait in
    Python's buffer until the job exits. It is plain container env (`-e NAME=VALUE`), and a task's own env adds
    to it."""
    from remote_training.jobs.catalog import load_checkout
    from remote_training.jobs.run import plan_job
    from remote_training.jobs.services import GrootTrain
    from tests.support import ROOT

    checkout = load_checkout(ROOT / "docker" / "sandbox" / "checkouts" / "positronic-a060cbea" / "docker")
    images = {name: f"registry.example/positro/{name}:v1" for name in checkout.services}
    job = GrootTrain("s3://interim/x/", "s3://checkpoints/x/", modality="ee_rot6d_q", exp_name="e1")
    plan = plan_job(job, checkout, INVENTORY, images, host="vm-train", env={"MUJOCO_GL": "egl"})
    assert plan.spec.env == {"PYTHONUNBUFFERED": "1", "MUJOCO_GL": "egl"}
    argv = compose.compose_argv(INVENTORY.get("vm-train"), plan.spec, [])
    at = argv.index("PYTHONUNBUFFERED=1")
    assert argv[at - 1:at + 1] == ["-e", "PYTHONUNBUFFERED=1"]


def test_env_file_quotes_values_and_rejects_bad_names(tmp_path: Path) -> None:
    text = compose.env_file_text({"WANDB_API_KEY": "a b'c$(x)", "AWS_ENDPOINT_URL": "http://h:1"})
    script = tmp_path / "f.env"
    script.write_text(text)
    out = subprocess.run(["sh", "-c", f'set -a; . "{script}"; printf "%s" "$WANDB_API_KEY"'],
                         capture_output=True, text=True, check=True).stdout
    assert out == "a b'c$(x)"
    with pytest.raises(InputError):
        compose.env_file_text({"BAD NAME": "x"})


def test_job_ids_are_valid_container_names() -> None:
    job_id = new_job_id("positronic-to-lerobot", now=0)
    assert job_id.startswith("positronic-to-lerobot-700101-000000-") and len(job_id.rsplit("-", 1)[1]) == 4


def test_job_record_from_the_snapshots_docker_ps_line() -> None:
    """monitor reads jobs from the host snapshot: `docker ps -a` rendered as JSON, no `docker inspect`."""
    from remote_training.fleet.snapshot import DOCKER_PS, LABELS, parse_container

    labels = {"rt.job": "groot-server-1", "rt.service": "groot-server", "rt.kind": "serve",
              "rt.args": json.dumps(["--port=9000"]), "rt.user": "vertix", "rt.port": "9000",
              "rt.started": "2026-01-04T10:00:00Z", "rt.gpu_mem_mb": "6000"}
    row = (["f00d" * 16, "groot-server-1", "exited", "Exited (137) 3 minutes ago", ""]
           + [labels.get(k, "") for k in LABELS])
    job = parse_container("vm-train", json.dumps(row))
    assert (job.job_id, job.kind, job.exit_code, job.port, job.gpu_mem_mb) == ("groot-server-1", "serve",
                                                                               137, 9000, 6000)
    assert job.args == ("--port=9000",) and not job.running and job.finished == "3 minutes ago"
    assert job.container == "f00d" * 16 and job.host == "vm-train" and job.to_dict()["args"] == ["--port=9000"]
    running = parse_container("vm-train", json.dumps(row[:2] + ["running", "Up 5 seconds"] + row[4:]))
    assert running.running and running.exit_code is None and running.finished == ""
    assert "inspect" not in DOCKER_PS and "-a" in DOCKER_PS  # every state; no environment leaves the host


def test_every_jobs_task_flag_has_help() -> None:
    import inspect

    from rt_tasks import dataset, infer, jobs, serve, train

    for module in (dataset, train, serve, infer, jobs):
        for name, task in module.ns.tasks.items():
            params = list(inspect.signature(task.body).parameters)[1:]
            assert params and all(p in (task.help or {}) for p in params), (module.__name__, name)
            assert task.__doc__ and "\n" not in task.__doc__.strip(), (module.__name__, name)
