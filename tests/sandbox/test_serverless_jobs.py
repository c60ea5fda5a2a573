"""`--host cloud`: the same tasks on Nebius Serverless (the sandbox's stand-in of AI Jobs, Endpoints and
MysteryBox, spoken to by the real SDK client; each job really runs as a container).

Every path the issue names: success with its record, a failure's exit code, cancel, capacity and quota
errors, the API restarted mid-job, overflow placement, endpoint auth, and secrets kept out of every text.
"""
from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from remote_training.errors import ExitCode
from tests.support import ROOT, cli_argv, era_env, inv, jobs_json, keys, put, started_job

STATE = ROOT / ".sandbox" / "nebius"
# A wait's plain progress line off a terminal (remote_training/progress.py): "WHAT: PHASE (Ns)".
PROGRESS_LINE = re.compile(r"^\S+: .* \(\d+s\)$")
# The team's recording in the sandbox's S3 (sim_stack_cubes reads a public bucket the sandbox cannot reach):
# the era image runs upstream's own converter.
DATASET = ["--dataset", "@positronic.cfg.ds.internal.sim_stack",
           "--codec", "@positronic.vendors.gr00t.codecs.ee_rot6d_joints"]


@pytest.fixture()
def cloud(jobs_env: dict[str, str]) -> dict[str, str]:
    """The current era (the serverless workflow is upstream's current one), checks and ledger on."""
    return {**jobs_env, **era_env("a060cbea")}


@pytest.fixture(scope="module")
def dataset(jobs_env: dict[str, str]) -> str:
    """A converted dataset, made once on the cloud target (training needs a real one)."""
    out = f"s3://interim/jobs-test/serverless-{int(time.time())}/groot/"
    done = inv({**jobs_env, **era_env("a060cbea")}, "dataset.convert", "--host", "cloud", *DATASET, "--output", out,
               "--wait", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def secrets() -> dict[str, str]:
    """The stand-in's MysteryBox values, by secret name (what must never appear in any text)."""
    data = json.loads((STATE / "mysterybox.json").read_text())
    return {s["name"]: v for s in data["secrets"] for v in s["payload"].values()}


def api_job(name: str, kind: str = "job") -> Any:
    """The resource as the API holds it, through the SDK alone."""
    import nebius.api.nebius.ai.v1 as ai
    from nebius.aio.channel import NoCredentials
    from nebius.base.options import INSECURE
    from nebius.base.resolver import Constant
    from nebius.sdk import SDK

    address = "127.0.0.1:9556"
    sdk = SDK(resolver=Constant(address), address_options={address: [(INSECURE, True)]}, credentials=NoCredentials(),
              user_agent_prefix="rt-tests/1")
    try:
        if kind == "job":
            return ai.JobServiceClient(sdk).get_by_name(ai.GetJobByNameRequest(parent_id="project-sandbox", name=name),
                                                         timeout=10).wait()
        return ai.EndpointServiceClient(sdk).get_by_name(
            ai.GetEndpointByNameRequest(parent_id="project-sandbox", name=name), timeout=10).wait()
    finally:
        sdk.sync_close()


def ledger(env: dict[str, str], job: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for line in Path(env["INVOKE_JOBS_LEDGER"]).read_text().splitlines():
        event = json.loads(line)
        if event.get("job_id") == job:
            merged.update(event)
    return merged


@contextmanager
def control(**switches: Any):
    """Flip the stand-in's failure switches for the block."""
    path = STATE / "control.json"
    before = path.read_text() if path.exists() else None
    path.write_text(json.dumps({**json.loads(before or "{}"), **switches}))
    try:
        yield
    finally:
        if before is None:
            path.unlink()
        else:
            path.write_text(before)


def test_convert_runs_as_an_ai_job_recorded_pinned_and_without_secret_values(cloud, prefix, s3) -> None:
    out = f"s3://interim/{prefix}/groot/"
    done = inv(cloud, "dataset.convert", "--host", "cloud", *DATASET, "--output", out, "--wait", timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    job = started_job(done)
    assert keys(s3, out), "the container wrote nothing"  # it really ran, against the sandbox's S3
    spec = api_job(job).spec
    assert "@sha256:" in spec.image and spec.preset == "8vcpu-32gb" and spec.platform == "cpu-e2"
    by_name = {e.name: e for e in spec.environment_variables}
    assert by_name["AWS_SECRET_ACCESS_KEY"].mysterybox_secret.secret_id and not by_name["AWS_SECRET_ACCESS_KEY"].value
    entry = ledger(cloud, job)
    assert entry["target"] == "serverless" and entry["preset"] == "8vcpu-32gb" and entry["exit_code"] == 0
    listed = jobs_json(cloud, "--host", "cloud")[job]
    assert listed["state"] == "exited" and listed["exit_code"] == 0 and listed["host"] == "cloud"
    logs = inv(cloud, "jobs.logs", job)
    assert "Dataset converted and saved to" in logs.stdout, logs.stdout + logs.stderr  # upstream's to_lerobot.py
    records = [k for k in keys(s3, f"s3://interim/{prefix}/") if k.endswith("run.json")]
    assert records, "no run.json beside the output"
    bucket, _, key = f"interim/{prefix}/{records[0]}".partition("/")
    run_json = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert job in run_json and '"exit_code": 0' in run_json.replace(" ", "").replace('"exit_code":0', '"exit_code": 0')
    texts = [str(spec), json.dumps(entry), logs.stdout, done.stdout, done.stderr, run_json]
    for name, value in secrets().items():
        if len(value) >= 8:  # the sandbox's S3 keys are the word "sandbox"; every generated value is longer
            assert not any(value in text for text in texts), f"the value of {name} leaked"


def test_a_failing_job_exits_with_its_own_code_like_on_a_fixed_host(cloud) -> None:
    codes, jobs = {}, {}
    for host in ("cloud", "desktop"):
        done = inv(cloud, "jobs.run", "lerobot-0_3_3-convert", "--host", host, "--wait", "--", "convert",
                   "--no_such_flag=1", timeout=240)
        codes[host], jobs[host] = done.returncode, started_job(done)
        assert "exited" in (done.stdout + done.stderr), done.stdout + done.stderr
    assert codes["cloud"] == codes["desktop"] != 0
    details = api_job(jobs["cloud"]).status.state_details  # the container's own code, as the API reports it
    assert details.message == f"container exited with code {codes['cloud']}", details


def test_cancel_ends_the_job_and_wait_reports_it(cloud, prefix, dataset) -> None:
    out = f"s3://checkpoints/{prefix}/groot/"
    started = inv(cloud, "train.groot", "--host", "cloud", "--input", dataset, "--output", out,
                  "--exp-name", "c1", "--modality", "ee_rot6d_q", "--steps", "1000000")
    assert started.returncode == 0, started.stdout + started.stderr
    job = started_job(started)
    stopped = inv(cloud, "jobs.stop", job)
    assert stopped.returncode == 0 and "cancelled" in stopped.stdout, stopped.stdout + stopped.stderr
    waited = inv(cloud, "jobs.wait", job, "--timeout", "60")
    assert waited.returncode == 143, waited.stdout + waited.stderr
    assert api_job(job).status.state.name == "CANCELLED"


def said(stderr: str) -> list[str]:
    """What stderr says beside the waits' progress lines (the create's phase): the failure is one line."""
    return [line for line in stderr.strip().splitlines() if not PROGRESS_LINE.match(line)]


@pytest.mark.parametrize("switch,words", [("serverless_capacity_error", "no free capacity"),
                                          ("serverless_quota_error", "quota")])
def test_capacity_and_quota_errors_are_one_line_and_give_the_claim_back(cloud, prefix, s3, switch, words) -> None:
    out = f"s3://interim/{prefix}/groot/"
    with control(**{switch: True}):
        done = inv(cloud, "dataset.convert", "--host", "cloud", *DATASET, "--output", out, timeout=120)
    assert done.returncode == ExitCode.NO_CAPACITY, done.stdout + done.stderr
    lines = said(done.stderr)
    assert len(lines) == 1 and words in lines[0] and "(fix: " in lines[0], done.stderr
    assert keys(s3, f"s3://interim/{prefix}/") == []  # no run.json claim left behind: a rerun may go ahead


def test_the_api_restarted_mid_job_loses_nothing(cloud, prefix, dataset) -> None:
    from rt_sandbox import procs
    from rt_sandbox.layout import host_specs
    from rt_sandbox.nebius_process import ensure_sandbox_standin

    started = inv(cloud, "train.groot", "--host", "cloud", "--input", dataset, "--output",
                  f"s3://checkpoints/{prefix}/groot/", "--exp-name", "r1", "--modality", "ee_rot6d_q", "--steps", "60")
    job = started_job(started)
    pid_file = ROOT / ".sandbox" / "pids" / "nebius.pid"
    pid = procs.alive(pid_file, "--state-dir")
    assert pid
    import os
    import signal

    os.kill(pid, signal.SIGKILL)  # the API dies mid-job; the job's container carries on
    time.sleep(2)
    vms = {s.name: s.address for s in host_specs(4) if s.name.startswith("vm-")}
    ensure_sandbox_standin(ROOT, vms, serverless=True)
    waited = inv(cloud, "jobs.wait", job, "--timeout", "120", timeout=180)
    assert waited.returncode == 0, waited.stdout + waited.stderr
    assert "Training finished" in inv(cloud, "jobs.logs", job).stdout
    assert ledger(cloud, job)["exit_code"] == 0


def test_an_endpoint_answers_only_with_the_token_and_stops_or_pauses(cloud, prefix, s3, tmp_path) -> None:
    ckpts = f"s3://checkpoints/{prefix}/groot/e1/"
    put(s3, ckpts + "checkpoint-4/config.json", "{}")
    served = inv(cloud, "serve.groot", "--host", "cloud", "--checkpoints", ckpts, "--modality", "ee_rot6d_q",
                 timeout=240)
    assert served.returncode == 0, served.stdout + served.stderr
    job = started_job(served)
    # the waits said where they stood, on stderr, one plain line per phase (no terminal here)
    assert ": creating the endpoint " in served.stderr and ", waiting for GET /api/v1/models (" in served.stderr
    url = next(w for w in served.stdout.split() if w.startswith("https://"))
    token = secrets()["positronic-serverless-inference-token"]
    assert token not in served.stdout + served.stderr
    context = ssl.create_default_context(cafile=str(STATE / "tls" / "ca.pem"))

    def status(bearer: str | None) -> int:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        try:
            with urllib.request.urlopen(urllib.request.Request(url + "/api/v1/models", headers=headers), timeout=10,
                                        context=context) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert (status(None), status("wrong"), status(token)) == (401, 401, 200)
    bare = [u for u in api_job(job, "endpoint").status.public_endpoints if not u.startswith("https://")]
    assert bare and not any(b in served.stdout for b in bare)  # the token never goes to a bare IP:port
    paused = inv(cloud, "serve.stop", "cloud", "--pause")  # the target's name: every server up there
    assert paused.returncode == 0 and f"{job} on cloud: paused" in paused.stdout, paused.stdout + paused.stderr
    row = jobs_json(cloud, "--host", "cloud")[job]
    assert row["state"] == "stopped" and row["ports"] == url  # the URL is kept
    again = inv(cloud, "serve.stop", "cloud")  # a paused endpoint is not up: left for serve.stop JOB
    assert again.returncode == 0 and "no running server on cloud" in again.stdout, again.stdout + again.stderr
    assert jobs_json(cloud, "--host", "cloud")[job]["state"] == "stopped"
    deleted = inv(cloud, "serve.stop", job)
    assert deleted.returncode == 0 and "deleted" in deleted.stdout, deleted.stdout + deleted.stderr
    assert job not in jobs_json(cloud, "--host", "cloud")


def test_auto_overflows_to_serverless_only_when_allowed_and_no_fixed_host_fits(cloud, dataset, prefix) -> None:
    """An inventory whose only fixed host is the desktop: GR00T training needs an H100."""
    text = (ROOT / ".sandbox" / "hosts.yaml").read_text()
    hosts, _, _ = text.partition("  vm-train:")
    cloud_entry = text[text.index("  cloud:"):]
    small = ROOT / ".sandbox" / f"hosts-overflow-{id(cloud)}.yaml"
    small.write_text(hosts + cloud_entry)
    env = {**cloud, "INVOKE_HOSTS_FILE": str(small)}
    args = ["train.groot", "--host", "auto", "--input", dataset, "--output", f"s3://checkpoints/{prefix}/",
            "--modality", "ee_rot6d_q", "--dry-run"]  # a dry run: placed and checked, nothing created
    try:
        refused = inv(env, *args)
        assert refused.returncode != 0 and "no host can take" in refused.stderr, refused.stdout + refused.stderr
        placed = inv(env, *args, extra_env={"INVOKE_PLACEMENT_OVERFLOW": "cloud"})
        assert placed.returncode == 0, placed.stdout + placed.stderr
        assert "placement: cloud (Nebius Serverless, placement.overflow)" in placed.stdout
        assert "desktop" in placed.stdout and '"preset": "1gpu-16vcpu-200gb"' in placed.stdout
    finally:
        small.unlink()


def test_a_name_taken_in_the_project_is_one_clear_error(cloud) -> None:
    from remote_training.errors import ProviderError
    from remote_training.fleet.inventory import load_inventory
    from remote_training.fleet.serverless_target import Compute
    from remote_training.serverless.launch import client_for
    from remote_training.serverless.spec import ServerlessSpec

    inventory = load_inventory(Path(cloud["INVOKE_HOSTS_FILE"]))
    api = client_for(inventory.serverless_target("cloud"), inventory)
    name = f"rt-name-taken-{int(time.time())}"
    spec = ServerlessSpec("job", name, "project-sandbox", "localhost:5000/rt-sandbox/base:latest", "true", "x",
                          "/", Compute("cpu-e2", "2vcpu-8gb"))
    first = api.create(spec)
    with pytest.raises(ProviderError, match="already taken"):
        api.create(spec)
    api.wait_state("job", first, lambda r: r.final, 60)


def test_doctor_checks_the_targets_secrets_and_names_one_that_is_missing(cloud, tmp_path) -> None:
    done = inv(cloud, "doctor", "--host", "cloud", "--json")
    rows = [r for r in json.loads(done.stdout) if r["check"] == "serverless"]
    assert rows and rows[0]["status"] == "ok" and rows[0]["target"] == "cloud", done.stdout + done.stderr
    text = (ROOT / ".sandbox" / "hosts.yaml").read_text()
    broken = ROOT / ".sandbox" / f"hosts-doctor-{os.getpid()}.yaml"
    broken.write_text(text.replace("positronic-serverless-wandb-api-key", "no-such-secret"))
    try:
        done = inv({**cloud, "INVOKE_HOSTS_FILE": str(broken)}, "doctor", "--host", "cloud", "--json")
    finally:
        broken.unlink()
    row = next(r for r in json.loads(done.stdout) if r["check"] == "serverless")
    assert row["status"] == "fail" and "no-such-secret" in row["summary"] and "mysterybox" in row["fix"]


def _new_job(since: float, timeout: float = 60) -> dict[str, Any]:
    """The first job the stand-in created after `since` (its own record)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            items = json.loads((STATE / "serverless.json").read_text())["resources"]
        except (FileNotFoundError, ValueError, KeyError):
            items = []
        fresh = [r for r in items if r["kind"] == "job" and r["created"] >= since]
        if fresh:
            return min(fresh, key=lambda r: r["created"])
        time.sleep(0.1)
    raise AssertionError(f"no job created within {timeout}s")


def test_logs_wait_and_follow_print_every_line_once_across_pages_and_a_shared_timestamp(cloud, prefix, s3) -> None:
    """12,000 lines, 20 of them sharing one timestamp across the first 5000-line page boundary, read by a
    `--wait` launch while the job runs, then by `jobs.logs` and `jobs.logs -f` once it has ended. The
    test pushes them to the stand-in's Loki API as the platform's log shipper would, timed before the
    job's own first line, so that the page boundary falls where it must."""
    from rt_sandbox import serverless_io as io

    tag = f"rtlog-{prefix}"
    lines = [f"{tag} bulk {i}" for i in range(4990)] + [f"{tag} same-instant {i}" for i in range(20)]
    lines += [f"{tag} bulk {i}" for i in range(4990, 11980)]
    started = time.time()
    launch = subprocess.Popen(cli_argv("dataset.convert", "--host", "cloud", *DATASET,
                                       "--output", f"s3://interim/{prefix}/groot/", "--wait"),
                              cwd=ROOT, env=cloud, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        job = _new_job(started)
        base = (int(job["created"]) - 30) * 10**9  # after the readers' start (creation - 60 s), before any line
        stamps = [base + i * 1000 for i in range(4990)] + [base + 4990 * 1000] * 20
        stamps += [base + (5000 + i) * 1000 for i in range(6990)]
        labels = {"__bucket__": io.LOG_BUCKET, io.LOG_ID_LABEL["job"]: job["id"], "name": job["name"],
                  "parent_id": job["parent_id"]}
        entries = list(zip(stamps, lines))
        for at in range(0, len(entries), 5000):
            io.push(f"http://127.0.0.1:{io.SANDBOX_LOGS_PORT}", labels, entries[at:at + 5000])
        out, err = launch.communicate(timeout=240)
    finally:
        if launch.poll() is None:
            launch.kill()
    assert launch.returncode == 0, out + err
    printed = {"--wait": out, "jobs.logs": inv(cloud, "jobs.logs", job["name"]).stdout,
               "jobs.logs -f": inv(cloud, "jobs.logs", job["name"], "-f", timeout=60).stdout}
    for how, text in printed.items():
        mine = [line for line in text.splitlines() if line.startswith(tag + " ")]
        assert mine == lines, f"{how}: {len(mine)} of {len(lines)} lines, {len(set(mine))} distinct"
        assert "Dataset converted and saved to" in text, how  # and the job's own output (upstream's to_lerobot.py)


def test_rate_limiting_is_waited_out_and_the_launch_goes_ahead(cloud, prefix, s3) -> None:
    """Six creates refused with too_many_requests: more than the SDK's own three tries, so the project's
    backoff must carry the launch through."""
    with control(serverless_rate_limit=6):
        done = inv(cloud, "dataset.convert", "--host", "cloud", *DATASET, "--output", f"s3://interim/{prefix}/groot/",
                   timeout=180)
        left = json.loads((STATE / "control.json").read_text())["serverless_rate_limit"]
    assert done.returncode == 0, done.stdout + done.stderr
    assert left == 0
    assert api_job(started_job(done)).status.state.name in ("PROVISIONING", "STARTING", "IMAGE_PULLING", "RUNNING",
                                                            "COMPLETED")


def test_a_create_slower_than_the_wait_keeps_its_claim_and_its_ledger_row(cloud, prefix, s3) -> None:
    out = f"s3://interim/{prefix}/groot/"
    slow = {"INVOKE_JOBS_CREATE_TIMEOUT": "2"}
    with control(serverless_create_delay=8):
        done = inv(cloud, "dataset.convert", "--host", "cloud", *DATASET, "--output", out, extra_env=slow)
        assert done.returncode == ExitCode.PROVIDER, done.stdout + done.stderr
        lines = said(done.stderr)
        assert len(lines) == 1, done.stderr
        name = lines[0].split(" on cloud:", 1)[0].split()[-1]
        assert "keeps its claim" in lines[0] and f"inv jobs.wait {name}" in lines[0], lines[0]
        assert api_job(name).status.state.name in ("PROVISIONING", "STARTING", "IMAGE_PULLING", "RUNNING")
        assert ledger(cloud, name).get("host") == "cloud"  # the ledger has its row
        assert keys(s3, f"s3://interim/{prefix}/") != []  # its run.json claim is still there
        again = inv(cloud, "dataset.convert", "--host", "desktop", *DATASET, "--output", out)
    assert again.returncode != 0 and name in again.stderr, again.stdout + again.stderr
    waited = inv(cloud, "jobs.wait", name, "--timeout", "120", timeout=150)
    assert waited.returncode == 0, waited.stdout + waited.stderr


def test_a_create_interrupted_writes_its_intent_first_and_is_recorded_before_it_leaves(cloud, prefix, tmp_path) -> None:
    """As on a fixed host (targets/host.py): the ledger's launch line before the create is sent, and SIGINT
    during the create is held until the start is recorded; the launch then leaves with 130."""
    import signal

    env = {**cloud, "INVOKE_JOBS_LEDGER": str(tmp_path / "ledger.jsonl")}
    book = Path(env["INVOKE_JOBS_LEDGER"])

    def events() -> list[dict[str, Any]]:
        return [json.loads(line) for line in book.read_text().splitlines()] if book.exists() else []

    with control(serverless_create_delay=6):  # the create's operation lasts 6 s longer: SIGINT lands inside it
        proc = subprocess.Popen([sys.executable, "-m", "invoke", "dataset.convert", "--host", "cloud", *DATASET,
                                 "--output", f"s3://interim/{prefix}/groot/"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not any(e["event"] == "launch" for e in events()) and time.monotonic() < deadline:
            time.sleep(0.1)
        before = [e["event"] for e in events()]
        time.sleep(1.0)  # the create is under way (its operation takes 6 s more)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    assert before == ["launch"], (before, stderr)  # the intent, written before anything was sent
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr and "is recorded" in stderr, stderr
    [launch, start] = events()
    name = start["job_id"]
    assert (launch["event"], start["event"], launch["job_id"]) == ("launch", "start", name)
    assert start.get("container") and start.get("target") == "serverless", start
    try:
        assert api_job(name).status.state.name in ("PROVISIONING", "STARTING", "IMAGE_PULLING", "RUNNING",
                                                   "COMPLETED")
    finally:
        inv(env, "jobs.stop", name)


def test_the_dataset_viewer_starts_as_an_endpoint_without_the_idle_flag(cloud) -> None:
    """positronic-server's main() takes no --idle_timeout_min: the endpoint starts and answers. It is upstream's own
    viewer, which needs a dataset (its default, local_all, has no path) and checks no token: Nebius's token proxy
    guards it (the target's token secret), and it serves plain HTTP behind the TLS ingress (`--https=False`)."""
    done = inv(cloud, "jobs.run", "positronic-server", "--host", "cloud", "--",
               "--dataset=@positronic.cfg.ds.internal.sim_stack", timeout=300)
    try:
        assert done.returncode == 0, done.stdout + done.stderr
        assert ", waiting for GET / (" in done.stderr, done.stderr  # the catalog's path for the viewer, not the models
        job = started_job(done)
        endpoint = api_job(job, "endpoint")
        assert endpoint.status.state.name == "RUNNING" and "--idle_timeout_min" not in endpoint.spec.args
        assert endpoint.spec.args.split()[-1] == "--https=False"
        assert endpoint.spec.auth_token_mysterybox_secret.secret_id  # the proxy, not AUTH_TOKEN in its environment
        assert "AUTH_TOKEN" not in [v.name for v in endpoint.spec.environment_variables]
        url = next(w for w in done.stdout.split() if w.startswith("https://"))
        assert url.endswith("/") and "Authorization: Bearer" in done.stdout, done.stdout
        token = secrets()["positronic-serverless-inference-token"]
        assert token not in done.stdout + done.stderr
        context = ssl.create_default_context(cafile=str(STATE / "tls" / "ca.pem"))

        def page(bearer: str | None) -> tuple[int, bytes]:
            headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10,
                                            context=context) as answer:
                    return answer.status, answer.read()
            except urllib.error.HTTPError as exc:
                return exc.code, b""

        (refused, _), (wrong, _), (status, body) = page(None), page("wrong"), page(token)
        assert (refused, wrong, status) == (401, 401, 200)  # the proxy refuses; with the token, the viewer's page
        assert b"/static/app.js" in body
    finally:
        for line in done.stdout.splitlines():
            if line.startswith("started "):
                inv(cloud, "serve.stop", line.split()[1], timeout=120)


def test_serverless_is_refused_for_the_runbook_era_in_one_line(jobs_env) -> None:
    done = inv({**jobs_env, **era_env("4261b1aa")}, "jobs.run", "groot-server", "--host", "cloud")
    assert done.returncode == ExitCode.BAD_INPUT, done.stdout + done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "runbook-era" in done.stderr, done.stderr
    assert "started" not in done.stdout
