"""`inv jobs.run SERVICE -- ARGS`: any service of the checkout, with the typed tasks' whole machinery.

The current era's compose file has services no typed task knows (lerobot-convert for SmolVLA,
the dataset viewer positronic-server, ...): a new upstream service works the day it lands.
"""
from __future__ import annotations

import json
import os
import ssl
import time
import urllib.error
import urllib.request

import pytest

from tests.support import era_env, inv, jobs_json, keys, started_job

CURRENT = era_env("a060cbea")
UNVERIFIED = ssl._create_unverified_context()  # the viewer's certificate is self-signed by design


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
    """The dataset viewer is upstream's own positronic_server.py, with its defaults: TLS with the certificate it
    makes with the openssl program. The readiness probe's handshake and GET / (the catalog's) say it answers."""
    env = {**jobs_env, **CURRENT}
    port = 9400 + os.getpid() % 400
    result = inv(env, "jobs.run", "positronic-server", "--host", "desktop", "--port", str(port), "--",
                 "--dataset=@positronic.cfg.ds.internal.sim_stack")
    job = started_job(result)
    cleanup.append(("desktop", job))
    assert result.returncode == 0, result.stdout + result.stderr
    address = sandbox["hosts"]["desktop"]["address"]
    base = f"https://{address}:{port}"
    assert f"answers on {base}/ " in result.stdout  # the URL to open; published on the asked port
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(f"{base}/", timeout=5)  # its own self-signed cert, which nobody vouches for
    deadline = time.monotonic() + 60  # the dataset loads in a thread after the port opens (pos3 download)
    while not (status := get_json(f"{base}/api/dataset_status"))["loaded"]:
        assert status["loading"] and time.monotonic() < deadline, status
        time.sleep(0.5)
    assert get_json(f"{base}/api/dataset_info")["num_episodes"] == 2
    listed = get_json(f"{base}/api/episodes")
    assert [c["key"] for c in listed["columns"]] == ["__index__", "__duration__", "task"]
    assert [row[0] for row in listed["episodes"]] == [0, 1], listed  # the recording's 2 episodes
    with urllib.request.urlopen(f"{base}/", timeout=5, context=UNVERIFIED) as page:
        assert page.status == 200 and b"/static/app.js" in page.read()
    with urllib.request.urlopen(f"{base}/episode/1", timeout=10, context=UNVERIFIED) as page:
        assert page.status == 200 and b"rerun" in page.read().lower()
    # The episode as a Rerun recording: upstream's stream_episode_rrd (PyAV decodes the video, rerun-sdk encodes).
    with urllib.request.urlopen(f"{base}/api/episode_rrd/0", timeout=60, context=UNVERIFIED) as rrd:
        assert rrd.status == 200 and len(rrd.read()) > 1000
    # The port is now held: a second one is refused before anything starts, naming the holder, as typed tasks do.
    again = inv(env, "jobs.run", "positronic-server", "--host", "desktop", "--port", str(port))
    assert again.returncode == 8 and f"port {port} on desktop is held by" in again.stderr and job in again.stderr
    assert inv(env, "jobs.stop", job).returncode == 0


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10, context=UNVERIFIED) as reply:
        return json.loads(reply.read())


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
