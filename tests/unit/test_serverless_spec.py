"""Serverless targets and specs without any API: hosts.yaml checks, the plan as a Nebius spec, states."""
from __future__ import annotations

from pathlib import Path

import pytest

from remote_training.errors import InputError, InventoryError
from remote_training.fleet.inventory import parse_inventory
from remote_training.jobs.catalog import load_checkout
from remote_training.jobs.run import plan_job
from remote_training.jobs.services import Convert, GrootServer, GrootTrain, ServiceRun
from remote_training.serverless.client import Resource, exit_code_of
from remote_training.serverless.launch import pinned
from remote_training.serverless.launch import plan as serverless_plan
from remote_training.serverless.spec import build, resource_name
from tests.support import ROOT

CURRENT = ROOT / "docker" / "sandbox" / "checkouts" / "positronic-a060cbea" / "docker"
INPUT = "s3://interim/x/"
HOSTS = """
hosts:
  desktop: {ssh: root@desktop, gpu_memory_gb: 12}
  cloud:
    aliases: [serverless]
    provider:
      type: nebius-serverless
      parent_id: project-e00test
      gpu: {platform: gpu-h100-sxm, preset: 1gpu-16vcpu-200gb}
      cache_filesystem_id: computefilesystem-e00cache
      disk_gb: 750
      secrets: {WANDB_API_KEY: team-wandb, AWS_ACCESS_KEY_ID: team-aws-id, AWS_SECRET_ACCESS_KEY: team-aws-key}
      env: {AWS_DEFAULT_REGION: eu-north1}
"""


def inventory(text: str = HOSTS):
    return parse_inventory(text, Path("/tmp/rt-test/hosts.yaml"))


def planned(job, host: str = "cloud"):
    inv = inventory()
    images = {name: f"registry.example/positro/{name}:v1" for name in load_checkout(CURRENT).services}
    plan = plan_job(job, load_checkout(CURRENT), inv, images, host=host)
    return plan, inv.serverless_target("cloud"), inv


def test_a_serverless_target_is_no_ssh_host_and_every_problem_is_named_at_once() -> None:
    inv = inventory()
    assert [h.name for h in inv.hosts] == ["desktop"] and inv.serverless_target("serverless").name == "cloud"
    with pytest.raises(InventoryError, match="Nebius Serverless target"):
        inv.get("cloud")  # SSH-only commands refuse it by name, with the reason
    bad = """
hosts:
  cloud:
    ssh: root@x
    provider: {type: nebius-serverless, gpu: {platform: x}, secrets: {WANDB: "a b"}, disk_gb: -1,
               logs_url: "http://logs.example/"}
"""
    with pytest.raises(InventoryError) as caught:
        inventory(bad)
    text = str(caught.value)
    for what in ("key 'ssh'", "parent_id: missing", "provider.gpu: must be {platform, preset}", "provider.secrets",
                 "provider.disk_gb", "would travel in clear"):
        assert what in text, what


def test_convert_runs_on_the_cpu_preset_with_secrets_as_names_and_the_cache_mounted() -> None:
    plan, cloud, inv = planned(Convert("@positronic.cfg.ds.sim.sim_stack_cubes", "s3://interim/x/",
                                       codec="@positronic.vendors.gr00t.codecs.ee_rot6d_joints"))
    spec = build(plan.spec, plan.service, cloud, plan.spec.image, s3_endpoint="https://storage.example")
    assert spec.kind == "job" and spec.compute == cloud.cpu and spec.timeout_hours == 4.0
    assert spec.name == plan.spec.job_id == resource_name(plan.spec.job_id) and "_" not in spec.name
    assert spec.argv() == [*plan.service.entrypoint, *plan.spec.args]  # as Nebius will split it
    assert spec.secret_env == {"AWS_ACCESS_KEY_ID": "team-aws-id", "AWS_SECRET_ACCESS_KEY": "team-aws-key"}
    assert spec.env["AWS_ENDPOINT_URL"] == "https://storage.example" and spec.env["UV_CACHE_DIR"] == "/cache/uv"
    assert spec.env["HOME"] == "/root" and spec.env["AWS_DEFAULT_REGION"] == "eu-north1"
    assert spec.volumes == (("computefilesystem-e00cache", "/cache", True),) and spec.disk_gb == 0


def test_training_gets_the_gpu_preset_disk_and_wandb_and_a_server_the_token_and_idle_exit() -> None:
    plan, cloud, _ = planned(GrootTrain(INPUT, "s3://checkpoints/x/", exp_name="e1", steps=100, modality="ee_rot6d_q"))
    train = build(plan.spec, plan.service, cloud, plan.spec.image, s3_endpoint=None)
    assert train.compute == cloud.gpu and train.disk_gb == 750 and train.timeout_hours == 24.0
    assert train.secret_env["WANDB_API_KEY"] == "team-wandb"
    plan, cloud, _ = planned(GrootServer("s3://checkpoints/x/e1/", modality="ee_rot6d_q"))
    serve = build(plan.spec, plan.service, cloud, plan.spec.image, s3_endpoint=None, source_root=plan.source_root)
    assert serve.kind == "endpoint" and serve.ports == (plan.spec.container_port,)
    assert serve.secret_env["AUTH_TOKEN"] == cloud.auth_token_secret and "WANDB_API_KEY" not in serve.secret_env
    assert serve.args.split()[-1] == "--idle_timeout_min=20"  # no scale-to-zero: the server ends when idle


def test_an_argument_holding_whitespace_is_refused_before_anything_starts() -> None:
    plan, cloud, _ = planned(GrootTrain(INPUT, "s3://checkpoints/x/", exp_name="e1", steps=100, modality="ee_rot6d_q"))
    from dataclasses import replace

    spaced = replace(plan.spec, args=(*plan.spec.args, "--note=two words"))
    with pytest.raises(InputError, match="splits a serverless job's arguments on whitespace") as caught:
        build(spaced, plan.service, cloud, plan.spec.image, s3_endpoint=None)
    assert "'--note=two words'" in str(caught.value)


def test_the_image_is_pinned_by_digest_and_only_the_https_url_is_used() -> None:
    digest = "sha256:" + "ab" * 32
    assert pinned("localhost:5000/positro/gr00t:src-1234", digest) == f"localhost:5000/positro/gr00t@{digest}"
    assert pinned("registry.example/positro/gr00t", digest) == f"registry.example/positro/gr00t@{digest}"
    assert pinned("registry.example/positro/gr00t:v1", None) == "registry.example/positro/gr00t:v1"
    endpoint = Resource("endpoint", "aiendpoint-1", "srv", "RUNNING", urls=("10.0.0.5:8000", "https://port8000-x.example"))
    assert endpoint.https_url == "https://port8000-x.example"
    assert Resource("endpoint", "e", "n", "RUNNING", urls=("10.0.0.5:8000",)).https_url == ""


@pytest.mark.parametrize("state,detail,code", [
    ("COMPLETED", "", 0), ("FAILED", "container exited with code 3", 3), ("FAILED", "", 1),
    ("ERROR", "image pull failed", 1), ("CANCELLED", "", 143), ("RUNNING", "", None)])
def test_exit_codes_follow_the_final_state(state: str, detail: str, code: int | None) -> None:
    assert exit_code_of(state, detail) == code
    assert Resource("job", "aijob-1", "n", state).final is (code is not None)


def test_idle_timeout_goes_only_to_programs_whose_code_takes_it() -> None:
    """Read from the checkout's own sources: the vendor servers' `serve` takes idle_timeout_min, the
    dataset viewer positronic-server does not (it would crash on the flag)."""
    plan, cloud, _ = planned(ServiceRun("positronic-server", ("--port=8000",)))
    viewer = build(plan.spec, plan.service, cloud, plan.spec.image, s3_endpoint=None, source_root=plan.source_root)
    assert viewer.kind == "endpoint" and "--idle_timeout_min" not in viewer.args
    plan, cloud, _ = planned(ServiceRun("groot-server", ("phail",)))
    served = build(plan.spec, plan.service, cloud, plan.spec.image, s3_endpoint=None, source_root=plan.source_root)
    assert served.args.split()[-1] == "--idle_timeout_min=20"


def test_the_viewer_endpoint_serves_plain_http_behind_nebiuss_token_proxy() -> None:
    """The viewer checks no token: the endpoint gets Nebius's proxy (the target's token secret) instead of
    AUTH_TOKEN in its environment, `--https=False` unless the user gave the flag, and readiness asks `/`."""
    plan, cloud, _ = planned(ServiceRun("positronic-server", ("--dataset=@positronic.cfg.ds.internal.sim_stack",)))
    viewer = build(plan.spec, plan.service, cloud, plan.spec.image, s3_endpoint=None, source_root=plan.source_root)
    assert viewer.args.split()[-1] == "--https=False" and viewer.ports == (8400,)
    assert (viewer.proxy_token_secret, viewer.ready_path) == (cloud.auth_token_secret, "/")
    assert "AUTH_TOKEN" not in viewer.secret_env and viewer.to_dict()["proxy_token_secret"] == cloud.auth_token_secret
    plan, cloud, _ = planned(ServiceRun("positronic-server", ("--https",)))
    asked = build(plan.spec, plan.service, cloud, plan.spec.image, s3_endpoint=None, source_root=plan.source_root)
    assert asked.args.split().count("--https") == 1 and "--https=False" not in asked.args  # the user's own
    plan, cloud, _ = planned(ServiceRun("groot-server", ("phail",)))
    served = build(plan.spec, plan.service, cloud, plan.spec.image, s3_endpoint=None, source_root=plan.source_root)
    assert (served.proxy_token_secret, served.ready_path) == ("", "/api/v1/models")
    assert served.secret_env["AUTH_TOKEN"] == cloud.auth_token_secret and "--https" not in served.args


def test_the_runbook_era_is_refused_on_serverless_in_one_line() -> None:
    runbook = ROOT / "docker" / "sandbox" / "checkouts" / "positronic-4261b1aa" / "docker"
    inv = inventory()
    images = {name: f"registry.example/positro/{name}:v1" for name in load_checkout(runbook).services}
    plan = plan_job(GrootServer("s3://checkpoints/x/e1/", modality="ee_rot6d_q"), load_checkout(runbook), inv,
                    images, host="cloud")
    with pytest.raises(InputError, match="runbook-era checkout .* has no serverless workflow") as caught:
        serverless_plan(plan.spec, plan.service, inv.serverless_target("cloud"), inv, plan.source_root)
    assert "--host NAME" in caught.value.fix and "\n" not in str(caught.value)


def test_a_private_registry_gets_credentials_from_mysterybox_or_the_docker_config(tmp_path, monkeypatch) -> None:
    """Docker Hub's public images need none; any other registry gets them, from the MysteryBox secret the
    target names, else from the docker config of that registry host (the values never enter the spec)."""
    import base64
    import json as json_
    from dataclasses import replace

    from remote_training.serverless.client import Serverless
    from remote_training.serverless.spec import registry_auth

    _, cloud, _ = planned(Convert("@positronic.cfg.ds.sim.sim_stack_cubes", "s3://interim/x/",
                                  codec="@positronic.vendors.gr00t.codecs.ee_rot6d_joints"))
    assert registry_auth("positro/gr00t@sha256:" + "0" * 64, cloud) == ""
    assert registry_auth("docker.io/positro/gr00t:v1", cloud) == ""
    assert registry_auth("registry.example/positro/gr00t:v1", cloud) == "docker-config:registry.example"
    named = replace(cloud, registry_credentials_secret="team-registry")
    assert registry_auth("cr.eu-north1.nebius.cloud/team/gr00t:v1", named) == "mysterybox:team-registry"

    import nebius.api.nebius.ai.v1 as ai

    plan, _, inv = planned(Convert("@positronic.cfg.ds.sim.sim_stack_cubes", "s3://interim/x/",
                                   codec="@positronic.vendors.gr00t.codecs.ee_rot6d_joints"))
    spec = build(plan.spec, plan.service, cloud, plan.spec.image, s3_endpoint=None)
    assert spec.registry_auth == "docker-config:registry.example" and "password" not in json_.dumps(spec.to_dict())
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    api = Serverless(cloud, {})
    with pytest.raises(Exception, match="no credentials for it") as missing:
        api._registry_credentials(spec, ai.JobSpec__RegistryCredentials)
    assert "docker login registry.example" in missing.value.fix
    secret = "pw-" + "x" * 12
    (tmp_path / "config.json").write_text(json_.dumps({"auths": {"registry.example": {
        "auth": base64.b64encode(f"team:{secret}".encode()).decode()}}}))
    creds = api._registry_credentials(spec, ai.JobSpec__RegistryCredentials)
    assert (creds.username, creds.password) == ("team", secret)
