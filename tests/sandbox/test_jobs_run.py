"""`inv jobs.run SERVICE -- ARGS`: any service of the checkout, with the typed tasks' whole machinery.

The current era's compose file has services no typed task knows (lerobot-convert for SmolVLA,
the dataset viewer positronic-server, ...): a new upstream service works the day it lands.
"""
from __future__ import annotations

import json
import os
import urllib.request

from tests.support import era_env, inv, jobs_json, keys, started_job

CURRENT = era_env("a060cbea")


def test_a_service_no_typed_task_knows_runs_with_labels_logs_and_ledger(jobs_env, s3, prefix, cleanup) -> None:
    env = {**jobs_env, **CURRENT}
    out = f"s3://interim/{prefix}/smolvla/"
    # internal.sim_stack: the team's recording in the sandbox S3 (sim_stack_cubes reads a public bucket out of reach)
    result = inv(env, "jobs.run", "lerobot-convert", "--host", "desktop", "--wait", "--",
                 "convert", "--dataset.dataset=@positronic.cfg.ds.internal.sim_stack",
                 "--dataset.codec=@positronic.vendors.lerobot.codecs.ee", f"--output_dir={out}")
    job = started_job(result)
    cleanup.append(("desktop", job))
    assert result.returncode == 0, result.stdout + result.stderr
    # the streamed log: upstream's to_lerobot.py (lerobot 0.4's v3.0 writer is the stub) logging its last line
    assert "Dataset converted and saved to " in result.stdout, result.stdout[-3000:]
    assert {"meta/info.json", "data/chunk-000/file-000.parquet"} <= set(keys(s3, out))
    listed = jobs_json(env, "--host", "desktop")[job]
    assert (listed["service"], listed["state"], listed["exit_code"]) == ("lerobot-convert", "exited", 0)
    assert listed["args"][0] == "convert" and listed["user"]
    history = json.loads(inv(env, "jobs.history", "--json", "--job", job).stdout)
    assert history and history[0]["service"] == "lerobot-convert" and history[0]["exit_code"] == 0


def test_a_server_no_typed_task_knows_returns_once_its_port_answers(jobs_env, sandbox, cleanup) -> None:
    env = {**jobs_env, **CURRENT}
    port = 9400 + os.getpid() % 400
    result = inv(env, "jobs.run", "positronic-server", "--host", "desktop", "--port", str(port), "--",
                 "--dataset=@positronic.cfg.ds.sim.sim_stack_cubes")
    job = started_job(result)
    cleanup.append(("desktop", job))
    assert result.returncode == 0, result.stdout + result.stderr
    address = sandbox["hosts"]["desktop"]["address"]
    assert f"answers on {address}:{port}" in result.stdout  # published on the asked port, the service's own inside
    with urllib.request.urlopen(f"http://{address}:{port}/api/v1/models", timeout=5) as reply:
        assert reply.status == 200
    # The port is now held: a second one is refused before anything starts, naming the holder, as typed tasks do.
    again = inv(env, "jobs.run", "positronic-server", "--host", "desktop", "--port", str(port))
    assert again.returncode == 8 and f"port {port} on desktop is held by" in again.stderr and job in again.stderr
    assert inv(env, "jobs.stop", job).returncode == 0


def test_bad_service_host_and_gpu_are_refused_like_the_typed_tasks(jobs_env) -> None:
    env = {**jobs_env, **CURRENT}
    typo = inv(env, "jobs.run", "lerobot-convrt", "--host", "desktop")
    assert typo.returncode == 2 and "did you mean 'lerobot-convert'" in typo.stderr
    host = inv(env, "jobs.run", "lerobot-convert", "--host", "nosuch")
    assert host.returncode != 0 and "nosuch" in host.stderr and "\nstarted " not in host.stdout
    unsized = inv(env, "jobs.run", "molmoact2-server")
    assert unsized.returncode == 2 and "--host" in unsized.stderr
    # A program the catalog knows keeps its rules when run by service name: GR00T training needs an H100.
    gpu = inv(env, "jobs.run", "groot-train", "--host", "desktop", "--", "--input_path=s3://interim/x/")
    assert gpu.returncode == 8 and "needs an H100" in gpu.stderr, gpu.stderr
