"""The service catalog read from upstream's verbatim compose files, and typed jobs rendered per era.

No host, no root: these run in the fast tier. The compose files are the verbatim copies under
docker/sandbox/checkouts/ (checked against the reference pack when it is present).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from remote_training.errors import InputError
from remote_training.jobs import catalog, project, services
from remote_training.jobs.upstream import Sources
from remote_training.records.ledger import record_url
from tests.support import ROOT, run_cli

CHECKOUTS = ROOT / "docker" / "sandbox" / "checkouts"
PACK = ROOT.parent / "shared" / "upstream"
RUNBOOK = catalog.load_checkout(CHECKOUTS / "positronic-4261b1aa" / "docker")
CURRENT = catalog.load_checkout(CHECKOUTS / "positronic-a060cbea" / "docker")
CURRENT_SOURCES = Sources.of(CURRENT.compose_dir)  # what the current servers' pipelines bind


@pytest.mark.parametrize("commit", ["4261b1aa", "a060cbea"])
def test_checkout_copies_are_verbatim(commit: str) -> None:
    ours = (CHECKOUTS / f"positronic-{commit}" / "docker" / "docker-compose.yml").read_bytes()
    pack = PACK / f"positronic-{commit}" / "docker" / "docker-compose.yml"
    if pack.exists():  # the reference pack sits beside the clone on the team's machines
        assert ours == pack.read_bytes()
    assert b"uv\", \"run\"" in ours  # upstream's own entrypoints, not ours


def test_eras_are_recognised_from_the_files() -> None:
    assert (RUNBOOK.era.name, CURRENT.era.name) == ("4261b1aa", "a060cbea")
    svc, program = RUNBOOK.role("groot-server")
    assert (svc.name, svc.python, svc.ports, svc.gpu, program.layout) == ("groot-server", "3.11", ((9000, 9000),), True,
                                                                          "groot")
    svc, _ = CURRENT.role("convert")  # renamed upstream: followed through its program
    assert (svc.name, svc.extra, svc.program) == ("lerobot-0_3_3-convert", "lerobot_0_3_3",
                                                  "positronic.vendors.lerobot_0_3_3.to_lerobot")
    assert CURRENT.role("lerobot-server")[0].name == "lerobot-0_3_3-server"
    assert CURRENT.role("openpi-server")[0].repository == "positro/openpi"


def test_the_runbook_era_has_no_lerobot_server() -> None:
    with pytest.raises(InputError, match="runbook era.*no lerobot-server"):
        RUNBOOK.role("lerobot-server")


def test_an_unknown_layout_names_what_differs(tmp_path: Path) -> None:
    text = (CHECKOUTS / "positronic-a060cbea" / "docker" / "docker-compose.yml").read_text()
    (tmp_path / "docker-compose.yml").write_text(text.replace("positronic.vendors.gr00t.train", "positronic.gr00t.fit")
                                                 .replace('"3.13"', '"3.14"'))
    with pytest.raises(InputError) as info:
        catalog.load_checkout(tmp_path)
    assert "positronic.vendors.gr00t.train" in info.value.message and "3.14" in info.value.message
    with pytest.raises(InputError, match="docker-compose.yml missing"):
        catalog.load_checkout(tmp_path / "nowhere")


def test_groot_training_is_the_same_in_both_eras_and_booleans_are_bare() -> None:
    job = services.GrootTrain("s3://interim/ds", "s3://checkpoints/g", "260105", 4000, True, "ee_rot6d_q", 2000)
    for era in (RUNBOOK.era, CURRENT.era):
        assert job.argv(era) == ["--input_path=s3://interim/ds/", "--output_path=s3://checkpoints/g/",
                                 "--exp_name=260105", "--modality_config=ee_rot6d_q", "--num_train_steps=4000",
                                 "--save_steps=2000", "--resume"]  # configuronic: `--resume=true` is a string
        assert job.run_folder(era) == "s3://checkpoints/g/260105/"


def test_lerobot_training_speaks_each_eras_arguments() -> None:
    job = services.LerobotTrain("s3://interim/act", "s3://checkpoints/act", "run1", 500, True)
    assert job.argv(RUNBOOK.era) == ["--dataset_root=s3://interim/act/", "--run_name=run1",
                                     "--output_dir=s3://checkpoints/act/", "--steps=500", "--resume=True"]
    assert job.argv(CURRENT.era) == ["--input_path=s3://interim/act/", "--exp_name=run1",
                                     "--output_dir=s3://checkpoints/act/", "--num_train_steps=500", "--resume=True"]
    assert not any(a.startswith("--output_path") for era in (RUNBOOK.era, CURRENT.era) for a in job.argv(era))


def test_convert_per_era() -> None:
    old = services.Convert("@positronic.cfg.phail.sim_stack_groot_ft", "s3://interim/x", None, ".groot_rot6d_joints",
                           ".groot_rot6d")
    assert old.argv(RUNBOOK.era)[-1] == "--fps=15" and old.argv(RUNBOOK.era)[0] == "convert"
    with pytest.raises(InputError, match="--codec"):
        old.argv(CURRENT.era)
    new = services.Convert("@positronic.cfg.ds.sim.sim_stack_cubes", "s3://interim/x",
                           codec="@positronic.vendors.gr00t.codecs.ee_rot6d_joints")
    assert new.argv(CURRENT.era) == ["convert", "--dataset.dataset=@positronic.cfg.ds.sim.sim_stack_cubes",
                                     "--dataset.codec=@positronic.vendors.gr00t.codecs.ee_rot6d_joints",
                                     "--output_dir=s3://interim/x/"]
    with pytest.raises(InputError, match="does not exist in the runbook era"):
        new.argv(RUNBOOK.era)


def test_servers_get_a_step_number_and_their_eras_shape() -> None:
    job = services.GrootServer("s3://checkpoints/g/260105", "checkpoint-2000", None, "ee_rot6d_q")
    assert job.argv(RUNBOOK.era) == ["--checkpoints_dir=s3://checkpoints/g/260105/", "--modality_config=ee_rot6d_q",
                                     "--port=9000", "--checkpoint=2000"]  # the server adds `checkpoint-` itself
    assert job.argv(CURRENT.era, CURRENT_SOURCES) == ["ee_rot6d_joints", "--pipeline.source.checkpoints_dir=s3://checkpoints/g/260105/",
                                     "--pipeline.source.checkpoint=2000"]
    assert job.client(RUNBOOK.era) == "groot_ee_rot6d_joints" and job.client(CURRENT.era) == "remote"
    rot6d = services.GrootServer("s3://checkpoints/g/x", modality="ee_rot6d")
    assert rot6d.client(RUNBOOK.era) == "groot_ee_rot6d"  # upstream has it, the runbook's table does not
    openpi = services.OpenpiServer("s3://checkpoints/o/pi05_positronic_lowmem/x", "3000")
    assert openpi.argv(RUNBOOK.era) == ["--checkpoints_dir=s3://checkpoints/o/pi05_positronic_lowmem/x/",
                                        "--checkpoint=3000"]  # no --port: openpi's tyro refuses it (serves 8000)
    with pytest.raises(InputError, match="ee-frame"):
        openpi.argv(CURRENT.era, CURRENT_SOURCES)
    lerobot = services.LerobotServer("s3://checkpoints/act/run1", "050000")
    assert lerobot.argv(CURRENT.era)[-1] == "--pipeline.source.checkpoint=050000"  # exact folder name
    assert lerobot.client(CURRENT.era) == "remote"


def test_the_inference_client_per_era() -> None:
    old = services.Inference("groot_ee_rot6d_joints", "10.0.0.2", 9000)
    assert old.argv(RUNBOOK.era) == ["sim", "--policy=.groot_ee_rot6d_joints", "--policy.base.host=10.0.0.2",
                                     "--policy.base.port=9000", "--driver.show_gui=False",
                                     "--driver.simulation_time=10"]
    assert services.Inference("remote", "h", 8000).argv(RUNBOOK.era)[2:4] == ["--policy.host=h", "--policy.port=8000"]
    with pytest.raises(InputError, match="in-process"):
        services.Inference("act_absolute", "h", 8000).argv(RUNBOOK.era)
    assert services.Inference("remote", "h", 8001).argv(CURRENT.era) == ["sim", "--policy=.remote",
                                                                         "--policy.url=h:8001", "--eval.timeout=10"]
    with pytest.raises(InputError, match="current era"):
        old.argv(CURRENT.era)


def test_a_local_recording_to_s3_gets_the_fleets_endpoint_unless_the_environment_names_one() -> None:
    """infer.sim on this machine: the fleet's jobs get hosts.yaml's S3 endpoint, so a local client recording to
    s3:// gets it too, shown among the environment additions; the caller's own AWS_ENDPOINT_URL wins."""
    from remote_training.jobs import client

    endpoint = "http://10.0.0.9:9000"
    record = services.Inference("remote", "h", 8001, output_dir="s3://interim/sim/")
    planned = client.plan(CURRENT, record, environ={}, s3_endpoint=endpoint)
    assert planned.env_add["AWS_ENDPOINT_URL"] == endpoint and f"AWS_ENDPOINT_URL={endpoint}" in planned.describe()[2]
    assert "AWS_ENDPOINT_URL" not in client.plan(CURRENT, record, environ={"AWS_ENDPOINT_URL": "http://mine"},
                                                 s3_endpoint=endpoint).env_add
    local_folder = services.Inference("remote", "h", 8001, output_dir="/tmp/episodes")
    assert "AWS_ENDPOINT_URL" not in client.plan(CURRENT, local_folder, environ={}, s3_endpoint=endpoint).env_add
    assert "AWS_ENDPOINT_URL" not in client.plan(CURRENT, record, environ={}).env_add  # boto3's own chain


def test_run_json_lives_outside_every_synced_prefix() -> None:
    for folder in ("s3://checkpoints/g/260105/", "s3://interim/sim_ft/groot_rot6d_q/", "s3://bb/x/"):
        url = record_url(folder)
        assert not url.startswith(folder) and url.endswith("/run.json") and "/.rt-runs/" in url
    assert record_url("s3://checkpoints/g/260105/") == "s3://checkpoints/g/.rt-runs/260105/run.json"
    with pytest.raises(ValueError, match="bucket root"):
        record_url("s3://checkpoints/")


@pytest.mark.parametrize("commit", ["4261b1aa", "a060cbea"])
def test_override_merges_with_the_unmodified_file(commit: str, tmp_path: Path) -> None:
    """`docker compose config` of the verbatim file plus our override: image pinned, all else upstream's."""
    checkout = RUNBOOK if commit == "4261b1aa" else CURRENT
    (tmp_path / "docker-compose.yml").write_bytes((checkout.compose_dir / "docker-compose.yml").read_bytes())
    ref = "localhost:5000/positro/gr00t:src-0123456789ab"
    (tmp_path / project.OVERRIDE).write_text(project.override_text({"groot-train": ref}))
    out = subprocess.run(["docker", "compose", "-f", "docker-compose.yml", "-f", project.OVERRIDE, "config",
                          "--format", "json"], cwd=tmp_path, capture_output=True, text=True, env={
                              "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/u"})
    assert out.returncode == 0, out.stderr
    import json

    svc = json.loads(out.stdout)["services"]["groot-train"]
    assert svc["image"] == ref and svc["pull_policy"] == "missing"
    assert svc["environment"]["HOME"] == "/root" and svc["shm_size"] and svc["ipc"] == "host"
    assert svc["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"


def test_doctor_names_a_missing_or_unrecognised_checkout(tmp_path: Path) -> None:
    from remote_training.doctor import check_checkout

    status, finding, fix = check_checkout(str(tmp_path))
    assert status == "fail" and "no positronic checkout" in finding and "jobs.compose_project" in fix
    (tmp_path / "docker-compose.yml").write_text("services:\n  groot-train:\n    image: positro/gr00t\n"
                                                 "    entrypoint: [groot-train]\n")
    status, finding, fix = check_checkout(str(tmp_path))
    assert status == "fail" and "matches no positronic layout" in finding and "4261b1aa" in fix
    status, finding, _ = check_checkout(str(CURRENT.compose_dir))
    assert status == "ok" and "current era" in finding


def test_the_image_catalog_covers_every_image_the_current_compose_file_runs() -> None:
    """docker/images.yaml follows upstream's docker/Makefile (a060cbea: build-dreamzero-base, build-dreamzero on
    it, build-robolab), so every positro/ image a service names has a catalog entry that builds it."""
    from remote_training.images.catalog import load_catalog

    cat = load_catalog(ROOT / "docker" / "images.yaml", check_sources=False)
    built = {spec.repository for spec in cat.images.values()}
    named = {svc.repository for svc in CURRENT.services.values() if svc.repository.startswith("positro/")}
    assert named <= built, named - built
    assert cat.images["dreamzero"].base == "dreamzero-base"
    assert cat.images["dreamzero-base"].dockerfile.name == "Dockerfile"  # positronic/vendors/dreamzero/Dockerfile


@pytest.mark.parametrize("service,args,env_name", [
    ("dreamzero-train", ["h100x1"], "RT_IMAGE_DREAMZERO"),
    ("robolab-eval", ["eval", "run"], "RT_IMAGE_ROBOLAB"),
])
def test_jobs_run_finds_the_new_services_images(tmp_path, service, args, env_name) -> None:
    ref = f"registry.example:5000/positro/{service}:src-0123456789ab"
    (tmp_path / "images.env").write_text(f"{env_name}={ref}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("INVOKE_")}
    env.update(INVOKE_IMAGES_ENV_FILE=str(tmp_path / "images.env"), INVOKE_JOBS_PREFLIGHT="0",
               INVOKE_JOBS_COMPOSE_PROJECT=str(CURRENT.compose_dir))
    out = run_cli("jobs.run", service, "--host", "vm-train", "--dry-run", "--", *args, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert f"image {ref}" in out.stdout.splitlines()[0]


def test_readiness_is_the_catalogs_per_program_and_the_viewers_tls_flag_reads_as_configuronic_reads_it() -> None:
    """The model servers: http + their model list, address:port shown; the dataset viewer: its page over TLS
    (upstream's main(https=True)) unless its own flag says no, its URL shown; the runbook viewer takes no such
    flag and serves plain HTTP."""
    def ready(checkout: catalog.Checkout, program: str, *args: str) -> catalog.Readiness:
        sources = Sources.of(checkout.compose_dir)
        return catalog.serving(program).readiness(args, lambda p: sources.takes_parameter(program, p))

    model = ready(CURRENT, "positronic.vendors.gr00t.server", "phail")
    assert (model.scheme, model.path, model.where("10.0.0.2", 8000)) == ("http", "/api/v1/models", "10.0.0.2:8000")
    viewer = ready(CURRENT, "positronic-server", "--dataset=@positronic.cfg.ds.internal.sim_stack")
    assert viewer.where("10.0.0.2", 8400) == "https://10.0.0.2:8400/"
    for off in (("--https=False",), ("--nohttps",), ("--https", "False"), ("--https=0",), ("--https", "--https=None")):
        assert ready(CURRENT, "positronic-server", *off).scheme == "http", off
    for on in (("--https",), ("--https=True",), ("--https=false",), ("--https=False", "--https=1")):
        assert ready(CURRENT, "positronic-server", *on).scheme == "https", on  # 'false' is a truthy string
    assert ready(RUNBOOK, "positronic-server").where("10.0.0.2", 5000) == "http://10.0.0.2:5000/"
    assert catalog.given(["--https=False"], "https") and not catalog.given(["--httpsx=1"], "https")
