"""inv doctor against real parts: the root engine, the docker CLI's context store,
sandbox sshd hosts and their engines, moto S3 and the Nebius stand-in through
the real SDK. Every check has a case that makes it fail and asserts the fix."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from remote_training import doctor
from remote_training.doctor import FAIL, OK, WARN, Check, DoctorSettings, diagnose, run_checks
from remote_training.fleet.inventory import load_inventory, parse_inventory
from remote_training.fleet.remote import RemoteRunner
from tests.support import run_cli

MOTO_CREDS = {"AWS_ACCESS_KEY_ID": "doctor-test", "AWS_SECRET_ACCESS_KEY": "doctor-test-secret"}


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sandbox_inventory(sandbox: dict[str, Any], tmp_path: Path, *, top: dict[str, Any] | None = None,
                      hosts: dict[str, Any] | None = None) -> Any:
    """The sandbox inventory in a temp file, with top-level keys replaced and hosts added."""
    import yaml

    source = Path(sandbox["hosts_file"])
    data = yaml.safe_load(source.read_text())
    data.update(ssh_config=sandbox["ssh_config"], known_hosts=sandbox["known_hosts"])
    if data.get("compose_project"):  # the sandbox's positronic checkout, wherever the copy is written
        data["compose_project"] = str((source.parent / data["compose_project"]).resolve())
    data.update(top or {})
    data["hosts"].update(hosts or {})
    path = tmp_path / "hosts.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_inventory(path)


def ghost_host(port: int) -> dict[str, Any]:
    return {"ghost": {"ssh": f"root@127.0.0.1:{port}", "gpu_memory_gb": 12}}


@pytest.fixture()
def host_engine(sandbox):
    """The desktop sandbox host's own engine (docker SDK), with containers this test made removed after."""
    import docker

    client = docker.DockerClient(base_url=sandbox["hosts"]["desktop"]["docker_host"], timeout=60)
    client.images.pull(sandbox["base_image"])
    made: list[Any] = []
    yield client, made
    for container in made:
        try:
            container.remove(force=True)
        except Exception:
            pass
    client.close()


def run_on_desktop(sandbox, host_engine, *, labels: dict[str, str], ports: dict[str, int] | None = None,
                   gpu: bool = False) -> str:
    """A container on the desktop's engine; `gpu`: it requests the GPU (`--gpus all`), the only kind whose
    rt.gpu_mem_mb the sandbox's nvidia-smi counts."""
    import docker

    client, made = host_engine
    name = f"doctor-test-{uuid.uuid4().hex[:8]}"
    gpus = [docker.types.DeviceRequest(count=-1, capabilities=[["gpu"]])] if gpu else None
    container = client.containers.run(sandbox["base_image"], ["sleep", "300"], name=name, detach=True,
                                      labels=labels, ports=ports or {}, device_requests=gpus)
    made.append(container)
    return name


# -- docker engine --------------------------------------------------------------
def test_docker_engine_answers(sandbox):
    status, summary, fix = doctor.check_docker_engine({}, timeout=5)
    assert status == OK and "answers" in summary and fix == ""


def test_docker_engine_closed_socket_fails_with_fix(tmp_path):
    env = {"DOCKER_HOST": f"tcp://127.0.0.1:{closed_port()}"}
    status, summary, fix = doctor.check_docker_engine(env, timeout=3)
    assert status == FAIL and "no Docker engine answers" in summary
    assert "DOCKER_HOST=tcp://127.0.0.1" in fix and "unset DOCKER_HOST" in fix


# -- docker contexts (made with the real docker CLI in a private config dir) --------
def test_docker_context_missing_wrong_and_right(tmp_path):
    inv = parse_inventory("hosts:\n  vm-train: {ssh: vertix@vm-train, gpu: H100, gpu_memory_gb: 80}\n"
                          "  vm-train2: {ssh: vertix@vm-train2:2222, gpu: H100, gpu_memory_gb: 80}\n"
                          "  desktop: {ssh: vertix@desktop, gpu: RTX 3060, gpu_memory_gb: 12}\n", tmp_path / "h.yaml")
    env = {"DOCKER_CONFIG": str(tmp_path / "docker"), "HOME": str(tmp_path)}
    cli_env = {**os.environ, **env}
    for name, host in (("vm-train", "ssh://vertix@vm-train"), ("vm-train2", "ssh://vertix@elsewhere")):
        subprocess.run(["docker", "context", "create", name, "--docker", f"host={host}"], env=cli_env,
                       check=True, capture_output=True)
    contexts = doctor.docker_contexts(env)
    assert contexts["vm-train"] == "ssh://vertix@vm-train"
    ok = doctor.check_docker_context(inv.get("vm-train"), contexts)
    wrong = doctor.check_docker_context(inv.get("vm-train2"), contexts)
    missing = doctor.check_docker_context(inv.get("desktop"), contexts)
    assert ok[0] == OK
    assert wrong[0] == FAIL and "ssh://vertix@elsewhere" in wrong[1]
    assert wrong[2] == "inv vm.contexts --force (or: docker context update vm-train2 --docker host=ssh://vertix@vm-train2:2222)"
    assert missing[0] == WARN
    assert missing[2] == "inv vm.contexts (or: docker context create desktop --docker host=ssh://vertix@desktop)"


# -- display / MUJOCO_GL ------------------------------------------------------------
@pytest.mark.parametrize("env, expected", [
    ({"DISPLAY": ":0"}, OK),
    ({"MUJOCO_GL": "egl"}, OK),
    ({}, WARN),
    ({"MUJOCO_GL": "glfw"}, FAIL),
])
def test_display_vs_mujoco_gl(env, expected):
    status, summary, fix = doctor.check_display(env)
    assert status == expected
    if expected != OK:
        assert fix == "export MUJOCO_GL=egl" and "gladLoadGL" in summary


# -- S3 (moto on the sandbox) ------------------------------------------------------------
def test_s3_buckets_reachable(sandbox, tmp_path):
    inv = sandbox_inventory(sandbox, tmp_path, top={"s3": {"endpoint": sandbox["s3_local_endpoint"]}})
    for bucket in ("interim", "checkpoints"):
        status, summary, _ = doctor.check_s3_bucket(inv, MOTO_CREDS, bucket, timeout=5)
        assert status == OK, summary


def test_s3_closed_endpoint_fails_with_fix(sandbox, tmp_path):
    inv = parse_inventory("hosts:\n  d: {ssh: root@d, gpu_memory_gb: 12}\n", tmp_path / "h.yaml")
    env = {**MOTO_CREDS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}"}
    t0 = time.monotonic()
    status, summary, fix = doctor.check_s3_bucket(inv, env, "interim", timeout=2)
    assert status == FAIL and "does not answer" in summary and "127.0.0.1" in summary
    assert fix == "set s3: {endpoint: URL} in hosts.yaml or export AWS_ENDPOINT_URL=URL"
    assert time.monotonic() - t0 < 10


def test_s3_missing_bucket_fails_with_fix(sandbox, tmp_path):
    env = {**MOTO_CREDS, "AWS_ENDPOINT_URL": sandbox["s3_local_endpoint"]}
    inv = parse_inventory("hosts:\n  d: {ssh: root@d, gpu_memory_gb: 12}\n", tmp_path / "h.yaml")
    status, summary, fix = doctor.check_s3_bucket(inv, env, "no-such-bucket-doctor", timeout=5)
    assert status == FAIL and "does not exist" in summary
    assert fix.startswith("aws s3 mb s3://no-such-bucket-doctor")


def test_s3_without_credentials_fails_with_fix(sandbox, tmp_path, monkeypatch):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)  # boto3's own chain also reads the process environment
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {"AWS_ENDPOINT_URL": sandbox["s3_local_endpoint"], "AWS_SHARED_CREDENTIALS_FILE": str(empty),
           "AWS_CONFIG_FILE": str(empty)}
    inv = parse_inventory("hosts:\n  d: {ssh: root@d, gpu_memory_gb: 12}\n", tmp_path / "h.yaml")
    status, summary, fix = doctor.check_s3_bucket(inv, env, "interim", timeout=5)
    assert status == FAIL and "no S3 credentials" in summary
    assert fix == "aws configure (or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"


# -- Nebius auth (the real SDK against the loopback stand-in) ----------------------------
NEBIUS_INV = ("nebius: {{endpoint: '{endpoint}', insecure: true, auth: none}}\nhosts:\n"
              "  vm-a: {{ssh: root@vm-a, gpu: H100, gpu_memory_gb: 80, "
              "provider: {{type: nebius, instance_id: computeinstance-a}}}}\n")


def test_nebius_standin_answers(tmp_path):
    from rt_sandbox.nebius_standin import StandinServer, StandinState

    state = StandinState(tmp_path / "nebius", delay=0.1)
    state.add_instance("computeinstance-a", "vm-a", "10.213.0.99", "STOPPED")
    server = StandinServer(state).start_serving()
    try:
        inv = parse_inventory(NEBIUS_INV.format(endpoint=server.address), tmp_path / "h.yaml")
        status, summary, fix = doctor.check_nebius(inv, inv.hosts, {}, timeout=10)
    finally:
        server.shutdown()
    assert status == OK and "vm-a is STOPPED" in summary, summary


def test_nebius_auth_against_the_sandbox_standin(sandbox, tmp_path):
    inv = sandbox_inventory(sandbox, tmp_path)
    vms = [h for h in inv.hosts if h.provider.type == "nebius"]
    assert vms, "the sandbox serves its vm-* hosts through the Nebius stand-in"
    status, summary, fix = doctor.check_nebius(inv, inv.hosts, {}, timeout=10)
    assert status == OK and f"{vms[0].name} is " in summary, summary


def test_nebius_endpoint_down_fails_with_fix(tmp_path):
    inv = parse_inventory(NEBIUS_INV.format(endpoint=f"127.0.0.1:{closed_port()}"), tmp_path / "h.yaml")
    t0 = time.monotonic()
    status, summary, fix = doctor.check_nebius(inv, inv.hosts, {}, timeout=3)
    assert status == FAIL and "vm-a" in summary
    assert fix.startswith("inv sandbox.up (it starts the API stand-in), or ") and "nebius.endpoint" in fix
    assert time.monotonic() - t0 < 30


def test_nebius_not_logged_in_fails_with_fix(tmp_path):
    inv = parse_inventory("hosts:\n  vm-a: {ssh: root@vm-a, gpu_memory_gb: 80, "
                          "provider: {type: nebius, instance_id: computeinstance-a}}\n", tmp_path / "h.yaml")
    status, summary, fix = doctor.check_nebius(inv, inv.hosts, {"HOME": str(tmp_path)}, timeout=3)
    assert status == FAIL and "config.yaml" in summary and fix == "inv vm.login"
    (tmp_path / ".nebius").mkdir()
    (tmp_path / ".nebius" / "config.yaml").write_text(
        "default: team\nprofiles:\n  team: {auth-type: federation, federation-endpoint: auth.example}\n")
    status, summary, fix = doctor.check_nebius(inv, inv.hosts, {"HOME": str(tmp_path)}, timeout=3)
    assert status == FAIL and "no cached token" in summary and fix == "inv vm.login"
    only_static = parse_inventory("hosts:\n  d: {ssh: root@d, gpu_memory_gb: 12}\n", tmp_path / "s.yaml")
    assert doctor.check_nebius(only_static, only_static.hosts, {}, timeout=3)[0] == OK


# -- SSH, GPU memory and ports on the sandbox hosts -----------------------------------------
def test_ssh_unreachable_host_fails_and_host_checks_point_there(sandbox, tmp_path):
    port = closed_port()
    inv = sandbox_inventory(sandbox, tmp_path, hosts=ghost_host(port))
    settings = DoctorSettings(connect_timeout=3, timeout=15)
    t0 = time.monotonic()
    results = diagnose(inv, ["desktop", "ghost"], settings=settings, env={**MOTO_CREDS, "MUJOCO_GL": "egl"})
    assert time.monotonic() - t0 < 15
    by = {(r.check, r.target): r for r in results}
    assert by[("ssh", "desktop")].status == OK
    ghost = by[("ssh", "ghost")]
    assert ghost.status == FAIL and "connection refused" in ghost.summary
    assert "inv vm.start ghost" in ghost.fix
    for check in ("gpu_memory", "ports"):
        assert by[(check, "ghost")].status == WARN and "see the ssh check" in by[(check, "ghost")].summary
    # stable order: local checks, then host by host in the order asked
    assert [(r.check, r.target) for r in results][:4] == [("docker_engine", "local"), ("display", "local"),
                                                          ("positronic_checkout", "local"), ("nebius_auth", "local")]
    hosts_in_order = [r.target for r in results if r.check == "ssh"]
    assert hosts_in_order == ["desktop", "ghost"]


def test_silent_host_costs_one_deadline_and_is_reported_once(sandbox, tmp_path):
    import threading

    server = socket.socket()  # accepts TCP and never says a word: a hung sshd
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    threading.Thread(target=lambda: [held.append(server.accept()[0]) for _ in range(8)], daemon=True).start()
    try:
        inv = sandbox_inventory(sandbox, tmp_path, hosts=ghost_host(server.getsockname()[1]))
        t0 = time.monotonic()
        results = diagnose(inv, ["ghost", "desktop"], env={**MOTO_CREDS, "MUJOCO_GL": "egl"},
                           settings=DoctorSettings(timeout=2.5, connect_timeout=2))
        elapsed = time.monotonic() - t0
    finally:
        server.close()
        for conn in held:
            conn.close()
    by = {(r.check, r.target): r for r in results}
    assert elapsed < 6  # bounded by the connect timeout / the check deadline, not paramiko's 15 s banner wait
    ssh = by[("ssh", "ghost")]
    assert ssh.status == FAIL and "ghost" in ssh.summary and ssh.fix
    for check in ("gpu_memory", "ports"):
        assert by[(check, "ghost")].status == WARN and "see the ssh check" in by[(check, "ghost")].summary
    assert by[("ssh", "desktop")].status == OK and by[("gpu_memory", "desktop")].status in (OK, "fail")


def test_gpu_memory_held_fails_naming_the_job(sandbox, tmp_path, host_engine):
    inv = sandbox_inventory(sandbox, tmp_path)
    runner = RemoteRunner(inv, connect_timeout=5)
    try:
        probe = doctor.HostView(runner, inv.get("desktop"))
        status, summary, _ = doctor.check_gpu_memory(probe, need_mb=1)
        assert status == OK and "MiB free" in summary
        job = f"doctor-gpu-{uuid.uuid4().hex[:6]}"
        name = run_on_desktop(sandbox, host_engine, labels={"rt.gpu_mem_mb": "12000", "rt.job": job,
                                                            "rt.service": "lerobot-train", "rt.kind": "train"},
                              gpu=True)
        probe = doctor.HostView(runner, inv.get("desktop"))  # a fresh view: a new snapshot
        status, summary, fix = doctor.check_gpu_memory(probe, need_mb=6144)
    finally:
        runner.close()
    assert status == FAIL and f"{name} (12000 MiB)" in summary and "6144 MiB needed" in summary
    assert f"inv jobs.stop {job}" in fix and "--host auto" in fix


def test_port_held_by_foreign_container_fails_and_by_our_job_warns(sandbox, tmp_path, host_engine):
    inv = sandbox_inventory(sandbox, tmp_path)
    runner = RemoteRunner(inv, connect_timeout=5)
    port_a, port_b = 18731, 18732  # not 8000/9000: other tests run real servers there
    try:
        probe = doctor.HostView(runner, inv.get("desktop"))
        assert doctor.check_ports(probe, [port_a, port_b])[0] == OK
        foreign = run_on_desktop(sandbox, host_engine, labels={}, ports={"9000/tcp": port_a})
        job = f"doctor-port-{uuid.uuid4().hex[:6]}"
        ours = run_on_desktop(sandbox, host_engine,
                              labels={"rt.job": job, "rt.service": "groot-server", "rt.kind": "serve"},
                              ports={"9000/tcp": port_b})
        probe = doctor.HostView(runner, inv.get("desktop"))
        both = doctor.check_ports(probe, [port_a, port_b])
        only_ours = doctor.check_ports(probe, [port_b])
    finally:
        runner.close()
    assert both[0] == FAIL
    assert f"{port_a} held by {foreign}" in both[1] and f"{port_b} held by {ours} (job {job})" in both[1]
    assert f"docker --context desktop stop {foreign}" in both[2] and f"inv serve.stop {job}" in both[2]
    assert only_ours[0] == WARN and only_ours[2] == f"inv serve.stop {job}"


def test_host_checks_read_one_snapshot():
    """The GPU and port checks are views of the host's snapshot (remote_training/fleet/snapshot.py)."""
    import json

    from remote_training.fleet.inventory import Host, ProviderConfig
    from remote_training.fleet.snapshot import parse

    def row(name, ports, job="", mem="", service="", kind="", state="running"):
        labels = [job, service, kind, "", "", "", mem, "", "", "", "", "", "", ""]
        return json.dumps([f"id-{name}", name, state, "Up 1 minute", ports, *labels])

    containers = [row("srv", "0.0.0.0:9000->9000/tcp, :::9000->9000/tcp, 127.0.0.1:8000-8002->80-82/tcp, 5000/tcp",
                      "j1", "6144", "groot-server", "serve"),
                  row("bare", ""), row("gone", "", "j0", "9999", "lerobot-train", "train", state="exited")]
    text = ("NVIDIA H100 80GB HBM3, 81559, 78000, 100\ngarbage\n--rt-snapshot-- smi 0\n--rt-snapshot-- docker 0\n"
            + "\n".join(containers) + "\n--rt-snapshot-- ss 0\n--rt-snapshot-- end\n")
    host = Host("vm", "root@vm", "H100", 80, ProviderConfig("static"))
    view = doctor.HostView(None, host, _connected=True, _snapshot=parse("vm", text))
    status, summary, fix = doctor.check_gpu_memory(view, need_mb=6144)
    assert status == FAIL and "3559 of 81559 MiB free, 100% busy" in summary and "srv (6144 MiB)" in summary
    assert "gone" not in summary and fix.startswith("inv serve.stop j1")  # an exited job holds nothing
    status, summary, fix = doctor.check_ports(view, [8001, 9000, 7000])
    assert status == WARN and summary == "8001 held by srv (job j1); 9000 held by srv (job j1)"
    assert fix == "inv serve.stop j1" and doctor.check_ports(view, [5000, 7000])[0] == OK  # 5000: not published


# -- the runner: parallel, per-check deadline, stable order ------------------------------------
def test_checks_run_in_parallel_with_a_deadline_each():
    def slow(seconds: float, status: str = OK):
        return lambda: (time.sleep(seconds), (status, f"slept {seconds}", ""))[1]

    checks = [Check("a", "x", slow(1.0)), Check("b", "x", slow(1.0)), Check("hang", "x", slow(30)),
              Check("c", "x", slow(1.0, WARN)), Check("boom", "x", lambda: 1 / 0)]
    t0 = time.monotonic()
    results = run_checks(checks, workers=5, timeout=2.0)
    elapsed = time.monotonic() - t0
    assert elapsed < 3.5  # not 4 s of sleeps in a row, and the hung one stops counting at 2 s
    assert [r.check for r in results] == ["a", "b", "hang", "c", "boom"]
    assert [r.status for r in results] == [OK, OK, FAIL, WARN, FAIL]
    assert "no answer within 2s" in results[2].summary
    assert "check crashed: ZeroDivisionError" in results[4].summary or "division" in results[4].summary


def test_checks_stuck_behind_a_hung_ssh_point_to_it():
    from remote_training.doctor import CheckResult, point_to_ssh

    hung = "no answer within 2s"
    results = [CheckResult("ssh", "h", FAIL, hung, "check h: it hangs (or rerun with a larger --timeout)"),
               CheckResult("gpu_memory", "h", FAIL, hung, "x"), CheckResult("ports", "h", FAIL, hung, "x"),
               CheckResult("ports", "other", FAIL, hung, "x")]
    out = point_to_ssh(results)
    assert [r.status for r in out] == [FAIL, WARN, WARN, FAIL]
    assert out[1].fix == results[0].fix and "see the ssh check" in out[1].summary


# -- known log patterns ----------------------------------------------------------------
def test_parquet_object_array_is_a_known_log_pattern():
    log = "Traceback ...\n  File vector.py\nValueError: setting an array element with a sequence. The requested array"
    hits = doctor.explain_log(log)
    assert [h.name for h in hits] == ["parquet-object-array"]
    assert "np.stack()" in hits[0].fix and "positronic/dataset/vector.py" in hits[0].fix
    assert [h.name for h in doctor.explain_log("torch.OutOfMemoryError: CUDA out of memory.")] == ["cuda-oom"]
    assert doctor.explain_log("step 10/100") == []


def test_job_log_with_the_parquet_error_fails_with_the_np_stack_fix(sandbox, tmp_path, host_engine):
    client, made = host_engine
    bad, good = (f"doctor-log-{uuid.uuid4().hex[:6]}" for _ in range(2))
    script = {bad: "echo converting; echo 'ValueError: setting an array element with a sequence.' >&2; exit 1",
              good: "echo '100%|##########| 10/10 [00:01<00:00]'; echo finished"}
    for job, sh in script.items():
        container = client.containers.run(sandbox["base_image"], ["sh", "-c", sh], name=job, detach=True,
                                          labels={"rt.job": job, "rt.kind": "convert",
                                                  "rt.service": "positronic-to-lerobot"})
        made.append(container)
        container.wait(timeout=60)
    inv = sandbox_inventory(sandbox, tmp_path)
    done = inv_doctor(inv.path, "--job", bad, "--job", good, "--json")
    assert done.returncode == 8, done.stderr
    rows = {r["target"]: r for r in json.loads(done.stdout) if r["check"] != "config"}  # which files were read
    assert set(rows) == {bad, good}  # only the logs were read, no machine checks
    assert rows[bad]["status"] == FAIL and f"job {bad} on desktop (exited 1)" in rows[bad]["summary"]
    assert "np.stack()" in rows[bad]["fix"] and "positronic/dataset/vector.py" in rows[bad]["fix"]
    assert rows[good]["status"] == OK
    saved = tmp_path / "job.log"
    saved.write_text("Traceback\nRuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    assert doctor.check_log_file(str(saved))[0] == FAIL
    assert doctor.check_log_file(str(tmp_path / "missing.log"))[1].startswith("cannot read")


# -- the task -------------------------------------------------------------------------
def inv_doctor(hosts_file: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "INVOKE_HOSTS_FILE": str(hosts_file), **(env or {})}
    return run_cli("doctor", *args, env=full, timeout=120)


def test_inv_doctor_json_passes_on_a_healthy_host(sandbox, tmp_path):
    inv = sandbox_inventory(sandbox, tmp_path, top={"s3": {"endpoint": sandbox["s3_local_endpoint"]}})
    done = inv_doctor(inv.path, "--host", "desktop", "--json", env={**MOTO_CREDS, "MUJOCO_GL": "egl"})
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {(r["check"], r["target"]) for r in rows} >= {("ssh", "desktop"), ("gpu_memory", "desktop"),
                                                         ("s3", "interim"), ("s3", "checkpoints")}
    assert all(r["status"] in (OK, WARN) for r in rows)
    assert {r["target"] for r in rows if r["check"] == "ssh"} == {"desktop"}


def test_inv_doctor_exits_nonzero_and_names_the_failure(sandbox, tmp_path):
    inv = sandbox_inventory(sandbox, tmp_path, hosts=ghost_host(closed_port()))
    done = inv_doctor(inv.path, "--host", "ghost", env={**MOTO_CREDS, "MUJOCO_GL": "egl",
                                                        "AWS_ENDPOINT_URL": sandbox["s3_local_endpoint"]})
    assert done.returncode == 8
    assert "ssh[ghost]" in done.stderr.strip().splitlines()[-1]
    assert "inv vm.start ghost" in done.stdout


def test_service_sizes_the_gpu_check(sandbox, tmp_path):
    inv = sandbox_inventory(sandbox, tmp_path)
    runner = RemoteRunner(inv, connect_timeout=5)
    try:  # groot-train (placement: H100 only, ~40 GB) never goes to the 12 GB desktop: not a failure there
        status, summary, _ = doctor.check_gpu_memory(doctor.HostView(runner, inv.get("desktop")), 40960,
                                                     needs_h100=True)
        assert status == OK and "needs an H100" in summary
        status, summary, fix = doctor.check_gpu_memory(doctor.HostView(runner, inv.get("desktop")), 40960)
        assert status == FAIL and "40960 MiB needed" in summary and "--host auto" in fix
    finally:
        runner.close()
    # A compose service of the checkout is sized by the program it starts (GR00T training: H100 only).
    done = inv_doctor(inv.path, "--host", "desktop", "--json", "--service", "groot-train",
                      env={**MOTO_CREDS, "MUJOCO_GL": "egl"})
    gpu = next(r for r in json.loads(done.stdout) if (r["check"], r["target"]) == ("gpu_memory", "desktop"))
    assert gpu["status"] == OK and "needs an H100" in gpu["summary"], gpu
    done = inv_doctor(inv.path, "--host", "desktop", "--service", "positronic.vendors.gr00t.trian")
    assert done.returncode == 2 and "did you mean 'positronic.vendors.gr00t.train'" in done.stderr


def test_a_mistyped_service_gets_a_did_you_mean(sandbox, tmp_path):
    inv = sandbox_inventory(sandbox, tmp_path)
    done = inv_doctor(inv.path, "--host", "desktop", "--service", "groot-trian")
    assert done.returncode == 2 and "did you mean 'groot-train'" in done.stderr, done.stderr


def test_applying_the_context_fix_makes_the_check_pass(sandbox, tmp_path):
    inv = sandbox_inventory(sandbox, tmp_path, top={"s3": {"endpoint": sandbox["s3_local_endpoint"]}})
    env = {**MOTO_CREDS, "MUJOCO_GL": "egl", "DOCKER_CONFIG": str(tmp_path / "docker")}

    def context_row() -> dict[str, Any]:
        done = inv_doctor(inv.path, "--host", "desktop", "--json", env=env)
        return next(r for r in json.loads(done.stdout) if r["check"] == "docker_context")

    before = context_row()
    assert before["status"] == WARN and before["fix"].startswith("inv vm.contexts")
    fixed = run_cli("vm.contexts", "--host", "desktop", env={**os.environ, **env, "INVOKE_HOSTS_FILE": str(inv.path)},
                    timeout=60)
    assert fixed.returncode == 0, fixed.stderr
    after = context_row()
    assert after["status"] == OK and after["summary"] == "context desktop -> ssh://root@desktop"


def test_config_keys_are_overridable_from_the_environment(sandbox, tmp_path):
    inv = sandbox_inventory(sandbox, tmp_path, top={"s3": {"endpoint": sandbox["s3_local_endpoint"]}})
    done = inv_doctor(inv.path, "--host", "desktop", "--json",
                      env={**MOTO_CREDS, "MUJOCO_GL": "egl", "INVOKE_DOCTOR_BUCKETS": "interim,doctor-nope",
                           "INVOKE_DOCTOR_PORTS": "18734", "INVOKE_DOCTOR_GPU_NEED_GB": "1"})
    rows = {(r["check"], r["target"]): r for r in json.loads(done.stdout)}
    assert done.returncode == 8 and "s3[doctor-nope]" in done.stderr
    assert rows[("s3", "interim")]["status"] == OK and rows[("s3", "doctor-nope")]["status"] == FAIL
    assert rows[("ports", "desktop")]["summary"] == "ports 18734 free"
    assert "1024 MiB needed" in rows[("gpu_memory", "desktop")]["summary"]
