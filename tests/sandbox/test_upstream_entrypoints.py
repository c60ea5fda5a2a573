"""Upstream's verbatim compose files on a sandbox host: every service a typed task runs starts its
program through `uv run ...` exactly as written, and an argument the real program rejects fails the job.
"""
from __future__ import annotations

import hashlib
import shlex
import subprocess
import time
import urllib.request
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

import pytest

from remote_training.jobs import catalog
from remote_training.jobs.project import OVERRIDE, override_text
from tests.support import ACT_DATASET_INFO, CHECKOUTS, ROOT

CASES = [(era.name, role) for era in catalog.ERAS for role in catalog.ROLES if era.roles[role]]


@pytest.fixture(scope="module")
def project(sandbox: dict[str, Any]):
    """Each era's compose file, unmodified, with an override naming the era's job image, on the desktop host."""
    from rt_sandbox import standin_image

    dirs = {}
    for era in catalog.ERAS:
        ref = standin_image.ensure(ROOT, era.name)
        checkout = catalog.load_checkout(CHECKOUTS / f"positronic-{era.name}" / "docker")
        folder = f"rt-entrypoints-{era.name}"
        override = override_text({name: ref for name in checkout.services})
        compose = (checkout.compose_dir / "docker-compose.yml").read_text()
        script = (f"mkdir -p {folder} && cat > {folder}/docker-compose.yml && "
                  f"printf %s {shlex.quote(override)} > {folder}/{OVERRIDE}")
        _ssh(sandbox, script, stdin=compose)
        dirs[era.name] = (folder, checkout)
    return dirs


def _ssh(sandbox: dict[str, Any], command: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-F", str(sandbox["root"] / ".sandbox" / "ssh_config"), "desktop", command],
                          input=stdin, capture_output=True, text=True, timeout=120)


def _compose(folder: str) -> str:
    """`docker compose` in an era's folder on the desktop host, with the override naming its job image."""
    return f"cd {folder} && CACHE_ROOT=$HOME docker compose -p rt-entrypoints -f docker-compose.yml -f {OVERRIDE}"


def _s3_env(sandbox: dict[str, Any]) -> str:
    # moto takes any key: placeholders, not credentials
    return (f"-e AWS_ENDPOINT_URL={sandbox['s3_endpoint']} "
            "-e AWS_ACCESS_KEY_ID=sandbox -e AWS_SECRET_ACCESS_KEY=sandbox")


@contextmanager
def _serving(sandbox: dict[str, Any], compose: str, service: str, args: str, answer: bytes,
             path: str = "/api/v1/models") -> Iterator[tuple[str, int]]:
    """An era's server started detached on the desktop at a free port, waited for until `path` answers `answer`,
    removed on the way out: (container name, port)."""
    name, port = f"rt-{service}-{uuid.uuid4().hex[:6]}", 9600 + uuid.uuid4().int % 300
    try:
        started = _ssh(sandbox, f"{compose} run -d --name {name} -p {port}:8000 {_s3_env(sandbox)} {service} {args}")
        assert started.returncode == 0, started.stderr
        address = sandbox["hosts"]["desktop"]["address"]
        for _ in range(90):
            try:
                with urllib.request.urlopen(f"http://{address}:{port}{path}", timeout=2) as reply:
                    assert reply.read() == answer
                    break
            except OSError:
                time.sleep(1)
        else:
            logs = _ssh(sandbox, f"docker logs {name}")
            pytest.fail((logs.stdout + logs.stderr)[-3000:])
        yield name, port
    finally:
        _ssh(sandbox, f"docker rm -f {name}")


def _assert_shipped(sandbox: dict[str, Any], compose: str, era: str, paths: tuple[str, ...]) -> None:
    """The inference client's image holds these files of the era's checkout byte for byte."""
    shipped = _ssh(sandbox, f"{compose} run --rm -T --entrypoint sha256sum positronic-inference "
                            + " ".join(f"/positronic/{path}" for path in paths))
    assert shipped.stdout.split()[::2] == [hashlib.sha256((CHECKOUTS / f"positronic-{era}" / path).read_bytes())
                                           .hexdigest() for path in paths], shipped.stdout + shipped.stderr


def _trial(sandbox: dict[str, Any], compose: str, s3_env: str, args: str) -> str:
    """One episode of upstream's own `positronic-inference sim ARGS` through the era's compose service, recorded
    by its dataset writer; the client's output."""
    sim = _ssh(sandbox, f"{compose} run --rm -T {s3_env} positronic-inference sim {args}")
    text = sim.stdout + sim.stderr
    assert sim.returncode == 0, text[-3000:]
    assert "DsWriterAgent: [STOP] Episode 1" in text, text[-3000:]
    return text


def _client(sandbox: dict[str, Any], era: str, code: str, port: int) -> str:
    """Python `code` run in the era's job image beside the server (positronic's own client): its output."""
    from rt_sandbox import standin_image

    ref = standin_image.tag_for(ROOT, era)
    client = _ssh(sandbox, f"docker run --rm --network host --entrypoint /positronic/.venv/bin/python {ref} -c "
                           f"{shlex.quote(code)} ws://127.0.0.1:{port}")
    assert client.returncode == 0, client.stderr[-3000:]
    return client.stdout


def _checkpoints(sandbox: dict[str, Any], marker: str) -> str:
    """A fresh checkpoints folder in the sandbox S3 with steps 1000 and 2000, each holding `marker`."""
    import boto3

    ckpts = f"s3://checkpoints/entrypoints-{uuid.uuid4().hex[:8]}/pi/"
    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    for step in ("1000", "2000"):
        s3.put_object(Bucket="checkpoints", Key=f"{ckpts[len('s3://checkpoints/'):]}{step}/{marker}", Body=b"{}")
    return ckpts


@pytest.mark.parametrize("era, role", CASES)
def test_a_flag_the_real_program_rejects_fails_the_job(era: str, role: str, project, sandbox) -> None:
    folder, checkout = project[era]
    service, program = checkout.role(role)
    # Upstream's ACT trainers take **cfg_kwargs and setattr each on lerobot's TrainPipelineConfig, a dataclass
    # that takes any attribute: a plain unknown key is accepted, a dotted one (a nested config that does not
    # exist) is configuronic's own refusal.
    flag = "--no_such_flag.x=1" if role == "lerobot-train" else "--no_such_flag=1"
    run = f"{_compose(folder)} run --rm -T {service.name} {flag}"
    out = _ssh(sandbox, run)
    text = out.stdout + out.stderr
    assert out.returncode != 0, (service.name, text)
    # It reached upstream's program through `uv run`, which refused the flag the way configuronic does.
    assert "no_such_flag" in text and ("Traceback" in text or "error:" in text), (service.name, text)


# openpi's websocket protocol (openpi_client/websocket_client_policy.py): the server speaks first with its
# metadata, then answers each msgpack-numpy observation with an action dict.
WS_CLIENT = """
import msgpack, numpy as np, sys
from websockets.sync.client import connect
with connect(sys.argv[1], compression=None, max_size=None, open_timeout=10) as ws:
    meta = msgpack.unpackb(ws.recv(timeout=10))
    ws.send(msgpack.packb({"prompt": "stack"}))
    reply = msgpack.unpackb(ws.recv(timeout=10))
    actions = reply["actions"]
    first = np.frombuffer(actions[b"data"], actions[b"dtype"]).reshape(actions[b"shape"])[0]
    print("metadata", meta, "actions", actions[b"shape"], "first", first.tolist())
"""


def test_the_runbook_openpi_server_and_inference_client_are_upstreams_own_code(project, sandbox) -> None:
    """The runbook era's openpi-server runs upstream's vendors/openpi/server.py, byte for byte: pos3 fetches the
    latest checkpoint from the sandbox S3, then openpi's serve_policy.py (tyro parses its arguments; the model is
    the stub) answers openpi's websocket protocol with the rest action. `--port` after the `policy:checkpoint`
    subcommand, as server.py places it, is refused by openpi's own tyro.
    The runbook era's positronic-inference service runs upstream's inference.py against it: the stack_cubes scene
    on real MuJoCo (dm_control's IK; the cameras drawn through EGL on Mesa's llvmpipe), the .openpi_droid client
    (openpi_client's WebsocketClientPolicy and its joint-delta decoder; the demo runs .openpi_positronic, whose
    absolute pose needs the stub's non-zero quaternion), the timed driver's one episode of 2 simulated
    seconds recorded by LocalDatasetWriter and synced to S3 by pos3. Only the scene's assets pickle is a
    placeholder. The current era's --policy.url is refused by upstream's own config."""

    import boto3

    from rt_sandbox import standin_image

    era = "4261b1aa"
    folder, _ = project[era]
    ckpts = _checkpoints(sandbox, "params/config.json")
    s3_env, compose = _s3_env(sandbox), _compose(folder)
    out = f"{ckpts.removesuffix('pi/')}sim/"
    address = sandbox["hosts"]["desktop"]["address"]
    with _serving(sandbox, compose, "openpi-server", f"--checkpoints_dir={ckpts}", b"OK\n", "/healthz") as (name, port):
        ref = standin_image.tag_for(ROOT, era)
        client = _ssh(sandbox, f"docker run --rm --network host --entrypoint /openpi/.venv/bin/python {ref} -c "
                               f"{shlex.quote(WS_CLIENT)} ws://127.0.0.1:{port}")
        assert client.returncode == 0, client.stderr
        rest = "actions [10, 8] first [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]"  # the identity quaternion's w
        assert "'checkpoint': '2000'" in client.stdout and rest in client.stdout, client.stdout

        policy = f"--policy=.openpi_droid --policy.base.host={address} --policy.base.port={port}"
        text = _trial(sandbox, compose, s3_env, f"{policy} --driver.simulation_time=2 --output_dir={out}")
        assert "Stopping background processes" in text, text[-3000:]

        logs = _ssh(sandbox, f"docker logs {name}")
        # upstream's prints wait in Python's stdout buffer while the server runs (no TTY under `run -d`);
        # pos3's download bar and the websockets server's own line are on stderr
        log = logs.stdout + logs.stderr
        assert f"Downloading {ckpts}2000" in log and "server listening on 0.0.0.0:8000" in log, log
        shipped = _ssh(sandbox, f"docker exec {name} cat /positronic/positronic/vendors/openpi/server.py").stdout
        assert shipped == (CHECKOUTS / f"positronic-{era}" / "positronic/vendors/openpi/server.py").read_text()

    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    prefix = out.removeprefix("s3://checkpoints/")
    recorded = {o["Key"][len(prefix):]: o["Key"]
                for o in s3.list_objects_v2(Bucket="checkpoints", Prefix=prefix)["Contents"]}
    assert any(k.startswith("run_metadata_") and k.endswith(".yaml") for k in recorded), recorded
    episode = "000000000000/000000000000/"
    for signal in ("meta.json", "static.json", "robot_state.q.parquet", "robot_commands.joint_deltas.parquet",
                   "stacking_success.parquet", "image.wrist.mp4", "image.exterior.mp4"):
        assert episode + signal in recorded, sorted(recorded)
    # the episode's static data: the driver's task and the OpenPI server's own metadata from its handshake
    static = s3.get_object(Bucket="checkpoints", Key=recorded[episode + "static.json"])["Body"].read().decode()
    assert '"inference.policy.type": "openpi"' in static and '"inference.policy.server.checkpoint": "2000"' in static
    paths = ("positronic/inference.py", "positronic/policy/openpi.py", "positronic/cfg/policy/policy.py",
             "positronic/simulator/mujoco/sim.py", "pimm/world.py")
    _assert_shipped(sandbox, compose, era, paths)

    refused = _ssh(sandbox, f"{compose} run --rm -T {s3_env} openpi-server --checkpoints_dir={ckpts} --port=8000")
    text = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Unrecognized or misplaced options" in text and "--port" in text, text
    # the current era's client arguments: the runbook's .remote takes host and port, not a URL
    refused = _ssh(sandbox, f"{compose} run --rm -T positronic-inference sim --policy=.remote "
                            f"--policy.url={address}:8000")
    lines = (refused.stdout + refused.stderr).strip().splitlines()
    assert refused.returncode == 1, lines[-20:]
    assert lines[-1] == ("configuronic.config.ConfigError: Error instantiating \"policy\": remote() got an "
                         "unexpected keyword argument 'url'"), lines[-20:]


def test_the_current_openpi_server_is_upstreams_own_code_over_openpi_client(project, sandbox) -> None:
    """The current era's openpi-server runs upstream's vendors/openpi/server.py: the tokenizer found in the host's
    cache (the stub seeded at sandbox.up), positronic's offboard server listing the checkpoints in the sandbox S3,
    the latest downloaded by pos3 and served by openpi's serve_policy.py (the model stub) on 8001, warmed up
    through openpi's own WebsocketClientPolicy. A pipeline without `--pipeline.ee_frame` is upstream's own refusal."""
    folder, _ = project["a060cbea"]
    ckpts = _checkpoints(sandbox, "params/_METADATA")
    s3_env, compose = _s3_env(sandbox), _compose(folder)
    args = f"serve --pipeline.source.checkpoints_dir={ckpts}"
    with _serving(sandbox, compose, "openpi-server", f"{args} --pipeline.ee_frame=None",
                  b'{"models":["1000","2000"]}') as (name, _):
        logs = _ssh(sandbox, f"docker logs {name}")
        log = logs.stdout + logs.stderr
        assert "Downloading PaliGemma tokenizer" not in log, log  # the host's cache had it
        assert ("Starting OpenPI subprocess: uv run --frozen --project /openpi -- python scripts/serve_policy.py "
                "--port 8001 policy:checkpoint --policy.config pi05_positronic_lowmem --policy.dir ") in log, log
        assert "WebSocket client created successfully" in log and "Application startup complete." in log, log

    refused = _ssh(sandbox, f"{compose} run --rm -T {s3_env} openpi-server {args}")
    lines = (refused.stdout + refused.stderr).strip().splitlines()
    assert refused.returncode == 1, lines[-20:]
    assert lines[-1] == "TypeError: pipeline() missing 1 required positional argument: 'ee_frame'", lines[-20:]


# positronic's own client (positronic/offboard/client.py) in the job image: the session's handshake, then one
# observation of the robot keys the joints_traj codec encodes, answered with the actions it decodes.
ACT_CLIENT = """
import sys
import numpy as np
from positronic import keys
from positronic.offboard.client import InferenceClient
session = InferenceClient(sys.argv[1]).new_session()
image = np.zeros((240, 320, 3), dtype=np.uint8)
actions = session.infer({keys.JOINTS: np.zeros(7, np.float32), keys.GRIP: np.float32(0.0), keys.WRIST_IMAGE: image,
                         keys.EXTERIOR_IMAGE: image, keys.TASK: "stack"})
print("checkpoint", session.metadata["checkpoint_id"], session.metadata["type"], "actions", len(actions))
print("first", actions[0]["robot_command"].positions.tolist(), actions[0]["target_grip"])
session.close()
"""


def _act_run(sandbox: dict[str, Any], compose: str, s3_env: str) -> tuple[str, str]:
    """(base, run): an ACT run of 4 steps (checkpoints 2 and 4) that the current era's real trainer wrote to S3."""
    import boto3

    from tests.support import put

    base = f"s3://checkpoints/entrypoints-{uuid.uuid4().hex[:8]}/"
    data = f"{base}data/"
    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    put(s3, data + "meta/info.json", ACT_DATASET_INFO)
    trained = _ssh(sandbox, f"{compose} run --rm -T {s3_env} lerobot-0_3_3-train --input_path={data} --exp_name=r1 "
                            f"--output_dir={base}act/ --codec=@positronic.vendors.lerobot_0_3_3.codecs.joints_traj "
                            "--num_train_steps=4 --save_freq=2")
    assert trained.returncode == 0, (trained.stdout + trained.stderr)[-3000:]
    return base, f"{base}act/r1"


ACT_MODELS = b'{"models":["000002","000004"]}'  # what upstream's ACT server lists for _act_run's run


def test_the_current_act_server_is_upstreams_own_code_and_answers(project, sandbox) -> None:
    """The current era's lerobot-0_3_3-server runs upstream's vendors/lerobot_0_3_3/server.py and policy.py: the
    ACT trainer (upstream's train.py on the lerobot stub) writes a run into the sandbox S3; the server's
    LerobotSource lists its checkpoints through pos3, positronic's offboard server pins and loads the latest
    (pos3 download, lerobot's ACTPolicy.from_pretrained: the stub reads the checkpoint's config.json), warms it
    up, lists the checkpoints on /api/v1/models and answers positronic's own client through the joints_traj
    codec; the model's forward pass is the stub's zeros. A checkpoint without its weights file is refused."""
    import boto3

    era = "a060cbea"
    folder, _ = project[era]
    s3_env, compose = _s3_env(sandbox), _compose(folder)
    base, run = _act_run(sandbox, compose, s3_env)
    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    with _serving(sandbox, compose, "lerobot-0_3_3-server", f"joints_traj --pipeline.source.checkpoints_dir={run}",
                  ACT_MODELS) as (name, port):
        answer = _client(sandbox, era, ACT_CLIENT, port)
        # ACT's chunk of 100 zero actions, cut by the codec's 1 s horizon at 15 fps and decoded as joint targets
        assert "checkpoint 000004 act actions 16\n" in answer, answer
        assert "first [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0] 0.0" in answer, answer
        logs = _ssh(sandbox, f"docker logs {name}")
        log = logs.stdout + logs.stderr
        assert "Pinned default checkpoint at startup: 000004" in log, log[-3000:]
        assert f"Loading checkpoint from {run}/checkpoints/000004/pretrained_model" in log, log[-3000:]
        assert "Application startup complete." in log, log[-3000:]
        checkout = CHECKOUTS / f"positronic-{era}"
        for path in ("positronic/vendors/lerobot_0_3_3/server.py", "positronic/vendors/lerobot_0_3_3/policy.py"):
            shipped = _ssh(sandbox, f"docker exec {name} cat /positronic/{path}").stdout
            assert shipped == (checkout / path).read_text(), path

    # The same run's config.json without its model.safetensors: lerobot's loader refuses it at startup.
    weightless = f"{base}act/r2"
    key = "checkpoints/000004/pretrained_model/config.json"
    s3.copy_object(Bucket="checkpoints", Key=f"{weightless}/{key}".removeprefix("s3://checkpoints/"),
                   CopySource={"Bucket": "checkpoints", "Key": f"{run}/{key}".removeprefix("s3://checkpoints/")})
    refused = _ssh(sandbox, f"{compose} run --rm -T {s3_env} lerobot-0_3_3-server joints_traj "
                            f"--pipeline.source.checkpoints_dir={weightless}")
    lines = (refused.stdout + refused.stderr).strip().splitlines()
    assert refused.returncode == 1, lines[-20:]
    assert lines[-1].startswith('FileNotFoundError: No such file or directory: "'), lines[-20:]
    assert lines[-1].endswith('/checkpoints/000004/pretrained_model/model.safetensors"'), lines[-20:]


def test_the_current_inference_client_is_upstreams_own_code_and_completes_a_trial(project, sandbox) -> None:
    """The current era's positronic-inference service runs upstream's inference.py and cli/eval/run.py: the
    stack_cubes sim eval on real MuJoCo (physics, IK, the cameras rendered through EGL on Mesa's llvmpipe: the
    sandbox host's /dev/dri is no GPU), upstream's RemotePolicy and InferenceClient against upstream's ACT
    server (the model's zeros), one trial of 2 simulated seconds recorded by its LocalDatasetWriter and synced to
    S3 by pos3. Only the scene's mesh and texture pickle is a placeholder (rt_sandbox/scene_assets.py).
    The runbook era's --driver.show_gui is refused by configuronic itself."""

    import boto3

    era = "a060cbea"
    folder, _ = project[era]
    s3_env, compose = _s3_env(sandbox), _compose(folder)
    base, run = _act_run(sandbox, compose, s3_env)
    out = f"{base}sim/"
    address = sandbox["hosts"]["desktop"]["address"]
    with _serving(sandbox, compose, "lerobot-0_3_3-server", f"joints_traj --pipeline.source.checkpoints_dir={run}",
                  ACT_MODELS) as (name, port):
        log = _trial(sandbox, compose, s3_env, f"--policy=.remote --policy.url={address}:{port} --eval.timeout=2 "
                                               f"--eval.trial_count=1 --output_dir={out}")
        assert "Warming up policy endpoints" in log, log[-3000:]
        served = _ssh(sandbox, f"docker logs {name}")
        assert "/api/v1/session" in served.stdout + served.stderr  # the client's sessions reached the server
    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    prefix = out.removeprefix("s3://checkpoints/")
    keys = {o["Key"][len(prefix):] for o in s3.list_objects_v2(Bucket="checkpoints", Prefix=prefix)["Contents"]}
    assert any(k.startswith("run_metadata_") and k.endswith(".yaml") for k in keys), keys
    episode = "000000000000/000000000000/"
    for recorded in ("meta.json", "static.json", "robot_command.joints.parquet", "robot_state.q.parquet",
                     "sim_state.mjSTATE_INTEGRATION.parquet", "image.wrist.mp4", "image.exterior.mp4"):
        assert episode + recorded in keys, sorted(keys)
    paths = ("positronic/inference.py", "positronic/cli/eval/run.py", "positronic/policy/remote.py",
             "positronic/offboard/client.py", "positronic/simulator/mujoco/sim.py")
    _assert_shipped(sandbox, compose, era, paths)

    # What draws the cameras: EGL through the compose service's /dev/dri, which on the sandbox host is no GPU
    gl = "import mujoco; c = mujoco.GLContext(8, 8); c.make_current(); from OpenGL import GL; " \
         "print(GL.glGetString(GL.GL_RENDERER).decode())"
    renderer = _ssh(sandbox, f"{compose} run --rm -T --entrypoint /positronic/.venv/bin/python positronic-inference "
                             f"-c {shlex.quote(gl)}")
    assert renderer.stdout.startswith("llvmpipe"), renderer.stdout + renderer.stderr[-2000:]

    refused = _ssh(sandbox, f"{compose} run --rm -T positronic-inference sim --policy=.remote "
                            f"--policy.url={address}:{port} --driver.show_gui=False")
    lines = (refused.stdout + refused.stderr).strip().splitlines()
    assert refused.returncode == 1, lines[-20:]
    assert lines[-1] == "configuronic.config.ConfigError: Failed to override 'driver.show_gui' with value 'False'"


@pytest.mark.parametrize("era", [era.name for era in catalog.ERAS])
def test_the_job_image_holds_the_checkouts_own_programs(era: str, project, sandbox) -> None:
    """Every vendor's train.py, server.py and stats.py in the era's job image is upstream's file at that commit,
    byte for byte (what the jobs run is the checkout's code, not a copy made here)."""

    from rt_sandbox import standin_image

    checkout = CHECKOUTS / f"positronic-{era}"
    files = sorted(p.relative_to(checkout) for name in ("train.py", "server.py", "stats.py")
                   for p in (checkout / "positronic" / "vendors").glob(f"*/{name}"))
    assert len(files) >= 5
    listing = _ssh(sandbox, f"docker run --rm --entrypoint sha256sum {standin_image.tag_for(ROOT, era)} "
                            + " ".join(f"/positronic/{f}" for f in files))
    assert listing.returncode == 0, listing.stderr
    shipped = {line.split()[1]: line.split()[0] for line in listing.stdout.splitlines()}
    assert shipped == {f"/positronic/{f}": hashlib.sha256((checkout / f).read_bytes()).hexdigest() for f in files}


@pytest.mark.parametrize("era", [era.name for era in catalog.ERAS])
def test_uv_in_the_job_image_refuses_what_uv_refuses(era: str, project, sandbox) -> None:
    """The image's `uv` refuses a Python the image lacks and an extra the checkout's pyproject does not define, as
    uv words it (exit 2); a defined extra passes and the checkout's own package runs."""
    from rt_sandbox import standin_image

    python = next(e.python for e in catalog.ERAS if e.name == era)
    extra = "hardware"  # defined in both eras' optional-dependencies
    script = (f"uv run --python 3.10 python -c 1; echo rc=$?; uv run --python {python} --extra no_such python -c 1; "
              f"echo rc=$?; uv run --python {python} --extra {extra} python -c 'import positronic; "
              f"print(positronic.__version__)'")
    out = _ssh(sandbox, f"docker run --rm --entrypoint sh {standin_image.tag_for(ROOT, era)} -c {shlex.quote(script)}")
    text = out.stdout + out.stderr
    assert "error: No interpreter found for Python 3.10 in managed installations or search path" in text, text
    assert "error: Extra `no_such` is not defined in the project's `optional-dependencies` table" in text, text
    assert text.count("rc=2") == 2 and out.stdout.strip().endswith({"4261b1aa": "0.1.1", "a060cbea": "0.2.1"}[era])


# Mistakes the shell stand-in accepted (issue #19, Why 2), each refused by upstream's own converter at the
# current era, configuronic 0.7's message as the program's last line: the one line jobs.errors ends with.
CONVERT_MISTAKES = {
    "runbook-observation": (["--dataset.dataset=@positronic.cfg.ds.internal.sim_stack",
                             "--dataset.observation=.eepose"],
                            "configuronic.config.ConfigError: Error instantiating \"dataset\": apply_codec() got an "
                            "unexpected keyword argument 'observation'"),
    "no-such-dataset": (["--dataset.dataset=@positronic.cfg.ds.no_such"],
                        "configuronic.config.ConfigError: Failed to override 'dataset.dataset' with value "
                        "'@positronic.cfg.ds.no_such'"),
}


@pytest.mark.parametrize("case", sorted(CONVERT_MISTAKES))
def test_a_convert_mistake_is_refused_by_upstreams_own_converter(case: str, project, sandbox) -> None:
    """The current era's lerobot-0_3_3-convert runs upstream's to_lerobot.py (real configuronic, pos3 against
    the sandbox S3, the dataset configs and codecs; lerobot's writer and torch are the stubs): a dataset option of
    the runbook era and a dataset config that does not exist are upstream's own refusals, in one line."""
    args, message = CONVERT_MISTAKES[case]
    folder, _ = project["a060cbea"]
    out = _ssh(sandbox, f"{_compose(folder)} run --rm -T {_s3_env(sandbox)} lerobot-0_3_3-convert convert "
                        f"--dataset.codec=@positronic.vendors.gr00t.codecs.ee_rot6d_joints "
                        f"{' '.join(args)} --output_dir=s3://interim/entrypoints-{uuid.uuid4().hex[:8]}/")
    lines = (out.stdout + out.stderr).strip().splitlines()
    assert out.returncode == 1 and lines[-1] == message, lines[-20:]
    assert "File \"/positronic/positronic/vendors/lerobot_0_3_3/to_lerobot.py\"" in out.stdout + out.stderr


# Per era: the ACT trainer's compose service, its flags for dataset, run name and steps, and the file
# upstream's train.py is (sys.argv[0] in the run metadata it writes).
ACT = {"4261b1aa": ("lerobot-train", "--dataset_root", "--run_name", "--steps",
                    "/positronic/.venv/bin/positronic-train"),
       "a060cbea": ("lerobot-0_3_3-train", "--input_path", "--exp_name", "--num_train_steps",
                    "/positronic/positronic/vendors/lerobot_0_3_3/train.py")}


@pytest.mark.parametrize("era", sorted(ACT))
def test_the_act_trainer_is_upstreams_own_train_py(era: str, project, sandbox) -> None:
    """Each era's ACT trainer runs upstream's train.py: configuronic, pos3 downloading the dataset from the sandbox
    S3 and syncing the run folder back, its run-metadata thread, lerobot's config handling; lerobot's train(cfg) is
    the stub. LeRobot's checkpoint layout is what this project's checkpoint listing reads; a used run folder is
    refused without --resume, and --resume continues after the last checkpoint (upstream adds --config_path)."""
    import boto3
    import yaml

    from remote_training.records.storage import latest_checkpoint
    from tests.support import keys, put

    service, data_flag, run_flag, steps_flag, program = ACT[era]
    folder, _ = project[era]
    base = f"s3://checkpoints/entrypoints-{uuid.uuid4().hex[:8]}/"
    data, out, run = f"{base}data/", f"{base}act/", "r1"
    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    put(s3, data + "meta/info.json", ACT_DATASET_INFO)
    compose = (f"{_compose(folder)} run --rm -T {_s3_env(sandbox)} {service} {data_flag}={data} {run_flag}={run} "
               f"--output_dir={out}")

    # 30 log intervals of 0.3 s: the metadata thread (it looks every 5 s) finds the run folder while it trains
    first = _ssh(sandbox, f"{compose} {steps_flag}=6000 --save_freq=2000")
    log = first.stdout + first.stderr
    assert first.returncode == 0, log[-3000:]
    assert "Starting training..." in log and "Training finished." in log, log[-3000:]  # upstream's own lines
    ckpts = f"{out}{run}/"
    listed = keys(s3, ckpts)
    assert {f"checkpoints/{step}/{name}" for step in ("002000", "004000", "006000")
            for name in ("pretrained_model/config.json", "pretrained_model/model.safetensors",
                         "pretrained_model/train_config.json", "training_state/training_step.json")} <= set(listed)
    latest = latest_checkpoint(s3, ckpts, "lerobot")
    assert latest and (latest.step, latest.name) == (6000, "006000")
    metadata = [k for k in listed if k.startswith("run_metadata_") and k.endswith(".yaml")]
    assert len(metadata) == 1, listed
    body = s3.get_object(Bucket="checkpoints", Key=(ckpts + metadata[0]).removeprefix("s3://checkpoints/"))
    meta = yaml.safe_load(body["Body"].read())
    version = {"4261b1aa": "0.1.1", "a060cbea": "0.2.1"}[era]
    assert meta["command"][0] == program and meta["positronic_version"] == version, meta

    again = _ssh(sandbox, f"{compose} {steps_flag}=6000")
    lines = (again.stdout + again.stderr).strip().splitlines()
    assert again.returncode == 1 and lines[-1].startswith("FileExistsError: Output directory "), lines[-20:]

    resumed = _ssh(sandbox, f"{compose} {steps_flag}=8000 --save_freq=2000 --resume=True")
    log = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, log[-3000:]
    assert "Resuming run. Automatically setting config_path to " in log and "step:6200 " in log, log[-3000:]
    assert "step:6000 " not in log
    latest = latest_checkpoint(s3, ckpts, "lerobot")
    assert latest and (latest.step, latest.name) == (8000, "008000")


SMOLVLA_CLIENT = """
import sys
import numpy as np
from positronic import keys
from positronic.offboard.client import InferenceClient
session = InferenceClient(sys.argv[1]).new_session()
image = np.zeros((240, 320, 3), dtype=np.uint8)
pose = np.array([0.4, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0], np.float32)
actions = session.infer({keys.EE_POSE: pose, keys.GRIP: np.float32(0.0), keys.WRIST_IMAGE: image,
                         keys.EXTERIOR_IMAGE: image, keys.TASK: "stack the cubes"})
print("checkpoint", session.metadata["checkpoint_id"], session.metadata["type"], "actions", len(actions))
print("first", sorted(actions[0]))
session.close()
"""


def test_smolvla_convert_train_and_serve_run_upstreams_own_code(project, sandbox) -> None:
    """The current era's SmolVLA services run upstream's vendors/lerobot/{to_lerobot,train,server}.py on the lerobot
    0.4 stub (`--extra lerobot`): the converter writes lerobot's v3.0 layout from internal.sim_stack into the
    sandbox S3; expert_only trains from lerobot/smolvla_base (the host's Hub cache) on it and saves lerobot 0.4's
    checkpoints with their processor pipelines; the server lists them on /api/v1/models and answers positronic's
    own client through the ee codec (the network's zeros, unnormalised by the checkpoint's own stats). Mistakes
    are lerobot's own refusals: converting into a dataset that exists, training on a v2.1 (ACT) dataset."""
    import json

    import boto3

    from tests.support import keys, put

    era = "a060cbea"
    folder, _ = project[era]
    s3_env, compose = _s3_env(sandbox), _compose(folder)
    s3 = boto3.client("s3", endpoint_url=sandbox["s3_local_endpoint"], region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    tag = uuid.uuid4().hex[:8]
    data, base = f"s3://interim/entrypoints-{tag}/smolvla/", f"s3://checkpoints/entrypoints-{tag}/smolvla/"
    convert = (f"{compose} run --rm -T {s3_env} lerobot-convert convert "
               "--dataset.dataset=@positronic.cfg.ds.internal.sim_stack "
               f"--dataset.codec=@positronic.vendors.lerobot.codecs.ee --output_dir={data}")
    converted = _ssh(sandbox, convert)
    log = converted.stdout + converted.stderr
    assert converted.returncode == 0, log[-3000:]
    assert "Dataset converted and saved to " in log, log[-3000:]  # upstream's own last line
    listed = keys(s3, data)
    assert {"meta/info.json", "meta/stats.json", "meta/tasks.parquet", "meta/episodes/chunk-000/file-000.parquet",
            "data/chunk-000/file-000.parquet"} <= set(listed), listed
    info = json.loads(s3.get_object(Bucket="interim", Key=f"entrypoints-{tag}/smolvla/meta/info.json")["Body"].read())
    assert info["codebase_version"] == "v3.0" and info["total_episodes"] == 2, info
    assert info["features"]["observation.images.left"]["shape"] == [512, 512, 3], info["features"]
    again = _ssh(sandbox, convert)  # pos3 brings the dataset back; lerobot's create() will not write over it
    lines = (again.stdout + again.stderr).strip().splitlines()
    assert again.returncode == 1 and lines[-1].startswith("FileExistsError: [Errno 17] File exists: "), lines[-20:]

    trained = _ssh(sandbox, f"{compose} run --rm -T {s3_env} lerobot-train expert_only --input_path={data} "
                            f"--exp_name=s1 --output_dir={base} --num_train_steps=4 --save_freq=2 --batch_size=2")
    log = trained.stdout + trained.stderr
    assert trained.returncode == 0, log[-3000:]
    assert "Starting training..." in log and "Training finished." in log, log[-3000:]  # upstream's own lines
    run = f"{base}s1"
    listed = keys(s3, run + "/")
    model = "checkpoints/000004/pretrained_model/"
    assert {model + name for name in ("config.json", "model.safetensors", "train_config.json",
                                      "policy_preprocessor.json", "policy_postprocessor.json")} <= set(listed), listed
    config = json.loads(s3.get_object(Bucket="checkpoints", Key=(run + "/" + model + "config.json")
                                      .removeprefix("s3://checkpoints/"))["Body"].read())
    # upstream's trainer: the dataset's cameras as inputs, the base model's third camera left empty
    assert config["type"] == "smolvla" and config["empty_cameras"] == 1, config
    assert sorted(config["input_features"]) == ["observation.images.empty_camera_0", "observation.images.left",
                                                "observation.images.side", "observation.state"], config

    with _serving(sandbox, compose, "lerobot-server", f"ee --pipeline.source.checkpoints_dir={run}",
                  b'{"models":["000002","000004"]}') as (name, port):
        answer = _client(sandbox, era, SMOLVLA_CLIENT, port)
        # select_action's one action (SmolVLA is served a step at a time), closed by the timestamp codec's
        # end-of-chunk sentinel (positronic/policy/codec.py)
        assert "checkpoint 000004 smolvla actions 2\n" in answer, answer
        assert "first ['robot_command', 'target_grip', 'timestamp']" in answer, answer
        logs = _ssh(sandbox, f"docker logs {name}")
        log = logs.stdout + logs.stderr
        assert "Pinned default checkpoint at startup: 000004" in log, log[-3000:]
        assert f"Loading checkpoint from {run}/checkpoints/000004/pretrained_model" in log, log[-3000:]
        checkout = CHECKOUTS / f"positronic-{era}"
        for path in ("server.py", "policy.py", "train.py", "to_lerobot.py"):
            shipped = _ssh(sandbox, f"docker exec {name} cat /positronic/positronic/vendors/lerobot/{path}").stdout
            assert shipped == (checkout / "positronic/vendors/lerobot" / path).read_text(), path

    # ACT's dataset (lerobot 0.3.3's v2.1 layout): lerobot 0.4 refuses it with its own message.
    act_data = f"s3://interim/entrypoints-{tag}/act/"
    put(s3, act_data + "meta/info.json", ACT_DATASET_INFO)
    refused = _ssh(sandbox, f"{compose} run --rm -T {s3_env} lerobot-train expert_only --input_path={act_data} "
                            f"--exp_name=s2 --output_dir={base} --num_train_steps=4")
    text = refused.stdout + refused.stderr
    assert refused.returncode == 1, text[-3000:]
    assert "lerobot.datasets.backward_compatibility.BackwardCompatibilityError: " in text, text[-3000:]
    assert "The dataset you requested (local) is in 2.1 format." in text, text[-3000:]
