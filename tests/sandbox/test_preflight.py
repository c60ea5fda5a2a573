"""Preflight on the sandbox: real sshd hosts, their own docker engines, moto S3 and the registry."""
from __future__ import annotations

import dataclasses
import random
import uuid
from pathlib import Path

import pytest

from remote_training import preflight
from remote_training.errors import PreflightError
from remote_training.fleet.inventory import load_inventory
from remote_training.fleet.remote import RemoteRunner
from remote_training.jobs.spec import JobSpec

MISSING_IMAGE = "localhost:5000/positro/never-pushed:nope"
GROOT_TRAIN = "positronic.vendors.gr00t.train"


@pytest.fixture(scope="module")
def fleet(sandbox):
    import boto3

    inventory = load_inventory(Path(sandbox["hosts_file"]))
    runner = RemoteRunner(inventory)
    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    yield {"inventory": inventory, "runner": runner, "s3": s3, "image": sandbox["base_image"]}
    runner.close()


@pytest.fixture
def fake_jobs(fleet):
    """Start job-labelled containers (a stand-in for a running job); removed after the test."""
    made: list[tuple[str, str]] = []

    def start(host: str, service: str, mem: int, port: int | None = None) -> str:
        name = f"rt-test-{service}-{uuid.uuid4().hex[:6]}"
        argv = ["docker", "run", "-d", "--gpus", "all", "--name", name, "--label", f"rt.job={name}", "--label",
                f"rt.service={service}",
                "--label", f"rt.gpu_mem_mb={mem}"]
        if port:
            argv += ["-p", f"{port}:{port}"]
        fleet["runner"].run(host, [*argv, fleet["image"], "sleep", "300"], timeout=120)
        made.append((host, name))
        return name

    yield start
    for host, name in made:
        fleet["runner"].run(host, ["docker", "rm", "-f", name], check=False)


@pytest.fixture
def root():
    return f"preflight-test/{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    return random.randint(20000, 39999)


def spec(fleet, **kw) -> JobSpec:
    fields = dict(job_id=f"job-{uuid.uuid4().hex[:6]}", service="groot-train", kind="train", host="vm-train",
                  args=(), image=fleet["image"], gpu_mem_mb=0, program=GROOT_TRAIN, era="4261b1aa", layout="groot")
    fields.update(kw)
    return JobSpec(**fields)


def train_spec(fleet, root, exp="e1", **kw) -> JobSpec:
    data, out = f"s3://interim/{root}/dataset/", f"s3://checkpoints/{root}/groot/"
    args = (f"--input_path={data}", f"--output_path={out}", f"--exp_name={exp}", "--num_train_steps=20",
            "--save_steps=10", "--num_workers=2", "--modality_config=ee_rot6d_q")
    options = {"input_path": data, "output_path": out, "exp_name": exp, "steps": 20, "save_steps": 10, "workers": 2,
               "modality": "ee_rot6d_q"}
    return spec(fleet, args=args, inputs=(data,), output=out, exp_name=exp, run_folder=f"{out}{exp}/",
                options=options, **kw)


def server_spec(fleet, root, host, port, checkpoint=None, **kw) -> JobSpec:
    ckpts = f"s3://checkpoints/{root}/groot/e1/"
    args = (f"--checkpoints_dir={ckpts}", "--modality_config=ee_rot6d_q", "--port=9000",
            *([f"--checkpoint={checkpoint.removeprefix('checkpoint-')}"] if checkpoint else []))
    options = {"checkpoints_dir": ckpts, "modality": "ee_rot6d_q", **({"checkpoint": checkpoint} if checkpoint else {})}
    return spec(fleet, service="groot-server", kind="serve", host=host, args=args, inputs=(ckpts,), port=port,
                program="positronic.vendors.gr00t.server", checkpoints=ckpts, checkpoint=checkpoint,
                container_port=9000, client="groot_ee_rot6d_joints", options=options, **kw)


def put(fleet, url: str) -> None:
    bucket, _, key = url[5:].partition("/")
    fleet["s3"].put_object(Bucket=bucket, Key=key, Body=b"x")


def containers_of(fleet, job: JobSpec) -> list[str]:
    """Containers of this job on any host that answers (other tests power-cycle a spare VM)."""
    found = []
    for host in fleet["inventory"].hosts:
        try:
            out = fleet["runner"].run(host, ["docker", "ps", "-aq", "--filter", f"name={job.job_id}"], check=False)
        except Exception:
            continue
        found += out.stdout.split()
    return found


def rows_of(info) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list] = {}
    for row in info.value.failures:
        out.setdefault(row[0], []).append(row)
    return out


def check(fleet, job: JobSpec, **kw):
    return preflight.run_preflight(job, fleet["runner"], fleet["inventory"], s3=fleet["s3"], **kw)


def test_a_clean_training_launch_passes_and_reports_the_digest(fleet, root):
    put(fleet, f"s3://interim/{root}/dataset/meta/info.json")
    report = check(fleet, train_spec(fleet, root))
    assert report.image_digest and report.image_digest.startswith("sha256:")
    assert report.host_state.power == "running" and report.host_state.gpu_total_mb == 81559


def test_every_failure_is_reported_at_once_and_nothing_is_created(fleet, root):
    put(fleet, f"s3://checkpoints/{root}/groot/e1/checkpoint-10/model")  # an earlier run
    job = train_spec(fleet, root, image=MISSING_IMAGE)  # and the dataset was never made
    with pytest.raises(PreflightError) as info:
        check(fleet, job)
    rows = rows_of(info)
    assert set(rows) == {"inputs", "output", "image"}, info.value.failures
    assert rows["inputs"][0][1] == f"s3://interim/{root}/dataset/ does not exist"
    assert rows["output"][0][1].startswith(f"s3://checkpoints/{root}/groot/e1/ already holds a run")
    assert "--resume" in rows["output"][0][2] and "--force" in rows["output"][0][2]
    assert rows["image"][0] == ("image", f"{MISSING_IMAGE} is not in the registry", "push it first: inv images.push")
    assert info.value.exit_code == 8
    assert containers_of(fleet, job) == []


def test_output_holding_a_run_is_accepted_with_resume_or_force(fleet, root):
    put(fleet, f"s3://interim/{root}/dataset/meta/info.json")
    put(fleet, f"s3://checkpoints/{root}/groot/e1/checkpoint-10/model")
    resumed = check(fleet, train_spec(fleet, root, resume=True))
    assert any("--resume: continuing the run" in n for n in resumed.notes)
    forced = check(fleet, train_spec(fleet, root, force=True))
    assert any("--force" in n for n in forced.notes)
    assert check(fleet, train_spec(fleet, root, exp="e2"))  # another experiment name is free


def test_groot_training_on_the_desktop_is_refused(fleet, root):
    put(fleet, f"s3://interim/{root}/dataset/meta/info.json")
    with pytest.raises(PreflightError) as info:
        check(fleet, train_spec(fleet, root, host="desktop"))
    assert info.value.failures == [("host", "GR00T training needs an H100; desktop has RTX 3060",
                                    "use --host auto or one of: vm-train, vm-train2, vm-train3")]


def test_a_second_groot_server_on_the_12gb_desktop_is_refused(fleet, root, fake_jobs):
    put(fleet, f"s3://checkpoints/{root}/groot/e1/checkpoint-10/model")
    first = fake_jobs("desktop", "groot-server", 6000)
    with pytest.raises(PreflightError) as info:
        check(fleet, server_spec(fleet, root, "desktop", free_port(), gpu_mem_mb=6000))
    [row] = rows_of(info)["gpu memory"]
    assert "the job needs 6000 MiB" in row[1] and f"held by {first} (6000 MiB)" in row[1]


def test_a_taken_port_names_the_holder_and_replace_is_offered(fleet, root, fake_jobs):
    put(fleet, f"s3://checkpoints/{root}/groot/e1/checkpoint-10/model")
    port = free_port()
    holder = fake_jobs("vm-train", "groot-server", 6000, port)
    with pytest.raises(PreflightError) as info:
        check(fleet, server_spec(fleet, root, "vm-train", port, gpu_mem_mb=6000))
    assert info.value.failures == [("port", f"port {port} on vm-train is held by container {holder} "
                                    f"(job {holder}, groot-server)",
                                    f"add --replace to stop {holder} first, or choose another --port")]
    report = check(fleet, server_spec(fleet, root, "vm-train", port, gpu_mem_mb=6000, replace=True))
    assert holder in report.replaces
    assert any(f"{holder}" in n and "will be stopped" in n for n in report.notes)


def test_a_port_held_by_another_service_is_not_replaceable(fleet, root, fake_jobs):
    put(fleet, f"s3://checkpoints/{root}/groot/e1/checkpoint-10/model")
    port = free_port()
    holder = fake_jobs("vm-train", "lerobot-server", 2000, port)
    with pytest.raises(PreflightError) as info:
        check(fleet, server_spec(fleet, root, "vm-train", port, replace=True))
    assert info.value.failures[0][2] == f"stop it first (inv jobs.stop {holder}) or choose another --port"


def test_server_checkpoints_resolve_to_the_latest_step(fleet, root):
    for step in (10, 200, 30):
        put(fleet, f"s3://checkpoints/{root}/groot/e1/checkpoint-{step}/model")
    report = check(fleet, server_spec(fleet, root, "vm-train", free_port()))
    assert report.checkpoint.name == "checkpoint-200"
    assert f"latest checkpoint: s3://checkpoints/{root}/groot/e1/checkpoint-200/ (step 200)" in report.notes
    for asked in ("30", "checkpoint-30"):  # a step number, or the folder name GR00T writes
        report = check(fleet, server_spec(fleet, root, "vm-train", free_port(), checkpoint=asked))
        assert f"checkpoint: s3://checkpoints/{root}/groot/e1/checkpoint-30/" in report.notes
    with pytest.raises(PreflightError) as info:
        check(fleet, server_spec(fleet, root, "vm-train", free_port(), checkpoint="999"))
    assert info.value.failures[0][1] == (f"checkpoint 999 not found under s3://checkpoints/{root}/groot/e1/ "
                                         "(latest is checkpoint-200)")
    assert info.value.failures[0][2] == "use --checkpoint 200, or leave it out for the latest"


def test_missing_checkpoints_are_refused(fleet, root):
    with pytest.raises(PreflightError) as info:
        check(fleet, server_spec(fleet, root, "vm-train", free_port()))
    assert info.value.failures[0][:2] == ("inputs", f"no checkpoint under s3://checkpoints/{root}/groot/e1/ "
                                                    "(groot layout)")


def test_lerobot_takes_the_exact_folder_name_and_openpi_a_step(fleet, root):
    ckpts = f"s3://checkpoints/{root}/act/e1/"
    for step in ("005000", "020000"):
        put(fleet, f"{ckpts}checkpoints/{step}/pretrained_model/model.safetensors")

    def lerobot(checkpoint):
        return spec(fleet, service="lerobot-0_3_3-server", kind="serve", host="vm-train2", port=free_port(),
                    container_port=8000, inputs=(ckpts,), program="positronic.vendors.lerobot_0_3_3.server",
                    checkpoints=ckpts, checkpoint=checkpoint, layout="lerobot", gpu_mem_mb=2000,
                    options={"checkpoints_dir": ckpts})

    report = check(fleet, lerobot("005000"))
    assert f"checkpoint: {ckpts}checkpoints/005000/" in report.notes and report.checkpoint.name == "020000"
    with pytest.raises(PreflightError) as info:
        check(fleet, lerobot("5000"))  # the step, not the zero-padded folder LeRobot names
    assert info.value.failures == [("inputs", f"checkpoint 5000 not found under {ckpts} (latest is 020000)",
                                    "use --checkpoint 020000, or leave it out for the latest")]
    pi = f"s3://checkpoints/{root}/pi/pi05_positronic_lowmem/e1/"
    put(fleet, f"{pi}3000/params/x")

    def openpi(checkpoint):
        return spec(fleet, service="openpi-server", kind="serve", host="vm-train2", port=free_port(),
                    container_port=8000, inputs=(pi,), program="positronic.vendors.openpi.server", checkpoints=pi,
                    checkpoint=checkpoint, layout="openpi", gpu_mem_mb=2000, options={"checkpoints_dir": pi})

    for asked in ("3000", "checkpoint-3000"):
        assert f"checkpoint: {pi}3000/" in check(fleet, openpi(asked)).notes


def test_an_empty_run_folder_claimed_by_a_launch_counts_as_held(fleet, root):
    from remote_training.records.ledger import record_url

    put(fleet, f"s3://interim/{root}/dataset/meta/info.json")
    job = train_spec(fleet, root)
    put(fleet, record_url(job.run_folder))  # launched a moment ago; no checkpoint written yet
    with pytest.raises(PreflightError) as info:
        check(fleet, job)
    [(name, problem, fix)] = info.value.failures
    assert name == "output" and problem.startswith(f"{job.run_folder} already holds a run")
    assert f"claimed by the launch recorded in {record_url(job.run_folder)}" in problem
    assert "--resume" in fix
    assert any("--resume: continuing the run" in n for n in check(fleet, train_spec(fleet, root, resume=True)).notes)


def test_an_unknown_host_is_a_row_beside_every_other_failure(fleet, root):
    """The checks only check what the plan could not: the arguments were the plan stage's (jobs/run.plan_job,
    tests/unit/test_hardening_inputs.py), so a spec reaching here is taken as planned, and an unknown host is
    one row among the other checks' (the S3 checks still run), none of it creating anything."""
    bad = dataclasses.replace(train_spec(fleet, root), host="vm-trian")  # the dataset was never made
    with pytest.raises(PreflightError) as info:
        check(fleet, bad)
    rows = rows_of(info)
    assert set(rows) == {"host", "inputs"}, info.value.failures
    assert "unknown host 'vm-trian'" in rows["host"][0][1] and rows["host"][0][2]
    assert rows["inputs"][0][1] == f"s3://interim/{root}/dataset/ does not exist"
    assert all("\n" not in row[1] for row in info.value.failures)
    assert containers_of(fleet, bad) == []


def test_an_unreachable_host_is_one_row_with_a_fix(fleet, tmp_path):
    from remote_training.fleet.inventory import parse_inventory

    inventory = parse_inventory("hosts:\n  ghost: {ssh: 'root@127.0.0.1:9', gpu: H100, gpu_memory_gb: 80}\n",
                                tmp_path / "hosts.yaml")
    runner = RemoteRunner(inventory, connect_timeout=2)
    job = spec(fleet, host="ghost", image=None)
    with pytest.raises(PreflightError) as info:
        preflight.run_preflight(job, runner, inventory, check_image_tag=False)
    [(name, problem, fix)] = info.value.failures
    assert name == "host" and problem.startswith("ghost is unreachable: ghost (root@127.0.0.1:9): connection refused")
    assert fix == "check that ghost is on and its sshd answers"


def test_a_dataset_output_that_holds_data_is_refused_unless_forced(fleet, root):
    out = f"s3://interim/{root}/converted/"
    put(fleet, out + "meta/info.json")
    args = ("convert", "--dataset=@positronic.cfg.phail.sim_stack_groot_ft", "--dataset.observation=.groot",
            "--dataset.action=.groot", f"--output_dir={out}", "--fps=15")
    job = spec(fleet, service="positronic-to-lerobot", kind="convert", host="desktop", args=args, output=out,
               program="positronic-to-lerobot", layout=None, run_folder=out,
               options={"dataset": "@positronic.cfg.phail.sim_stack_groot_ft", "observation": ".groot",
                        "action": ".groot", "output_dir": out, "fps": 15})
    with pytest.raises(PreflightError) as info:
        check(fleet, job)
    assert info.value.failures == [("output", f"{out} already holds data (meta/info.json)",
                                    "choose another --output, or add --force to overwrite it")]
    assert check(fleet, dataclasses.replace(job, force=True))


def test_the_s3_checks_claim_a_free_output_exactly_once(fleet, root):
    """Two launches of the same run: the first claims its run.json before anything starts, the second is
    refused naming the first (the conditional put decides, not the listing before it)."""
    from remote_training.records.ledger import record_url

    put(fleet, f"s3://interim/{root}/dataset/meta/info.json")
    train = train_spec(fleet, root, exp="claimed")
    first, second = {"entry": {"job_id": "first", "user": "ann", "host": "vm-train"}}, {"entry": {"job_id": "second"}}
    assert preflight.check_storage(lambda: fleet["s3"], train, preflight.PreflightReport(train), first) == []
    assert first["url"] == record_url(train.run_folder)
    [(check, problem, _)] = preflight.check_storage(lambda: fleet["s3"], train,
                                                    preflight.PreflightReport(train), second)
    assert check == "output" and "url" not in second
    assert "claimed a moment ago by first (ann on vm-train)" in problem or "already holds a run" in problem
