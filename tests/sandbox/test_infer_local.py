"""infer.sim runs the client where the runbook runs it: on this machine, `uv run --python V
positronic-inference sim ...` in the positronic checkout, against a real server on the sandbox fleet.

`uv` on the local PATH is a wrapper around the sandbox's local uv (docker/sandbox/local/uv: the era image's uv
and upstream's own client, in a container of this machine's engine, on its network); the wrapper also records
what it was started with (cwd, environment, argv), so the tests see what reached the program, not only what the
task printed.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support import CHECKOUTS, ROOT, era_env, inv, jobs_json, put, ssh, started_job

STANDIN_UV = ROOT / "docker" / "sandbox" / "local" / "uv"
SERVER_HOST = "vm-train"
POLICY = {"4261b1aa": ".groot_ee_rot6d_joints", "a060cbea": ".remote"}
PYTHON = {"4261b1aa": "3.11", "a060cbea": "3.13"}


@pytest.fixture()
def local_uv(tmp_path: Path) -> dict[str, Any]:
    """A bin folder holding `uv` (the stand-in, recording how it was started) and the record's path."""
    bin_dir, record = tmp_path / "bin", tmp_path / "uv-started.txt"
    bin_dir.mkdir()
    wrapper = bin_dir / "uv"
    wrapper.write_text("#!/bin/sh\n"
                       f"{{ echo \"cwd=$(pwd)\"; echo \"argv=$*\"; env; }} > '{record}'\n"
                       f"exec '{STANDIN_UV}' \"$@\"\n")
    wrapper.chmod(0o755)
    return {"bin": str(bin_dir), "record": record}


def client_env(env: dict[str, str], local_uv: dict[str, Any], era: str, **extra: str) -> dict[str, str]:
    """The inv environment for a local client: that era's checkout, the stand-in uv first on PATH, no display
    and no GL variables of the caller's own (each test sets what it means)."""
    out = {k: v for k, v in env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL", "PYOPENGL_PLATFORM")}
    out.update(era_env(era), PATH=f"{local_uv['bin']}:{env.get('PATH', os.defpath)}")
    out.update(extra)
    return out


def started_with(local_uv: dict[str, Any]) -> dict[str, str]:
    """cwd, argv and the environment the local `uv` got."""
    lines = local_uv["record"].read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture(scope="module")
def servers(jobs_env, s3) -> Any:
    """One GR00T server per era on the sandbox fleet, started once for the module (serve.groot)."""
    made: dict[str, tuple[str, str]] = {}

    def server(era: str) -> tuple[str, str]:
        if era not in made:
            env = {**jobs_env, **era_env(era)}
            ckpts = f"s3://checkpoints/infer-local/{os.getpid()}-{era}/"
            put(s3, ckpts + "checkpoint-4/config.json", "{}")
            put(s3, ckpts + "4/config.json", "{}")
            port = str((9800 if era == "4261b1aa" else 9900) + os.getpid() % 100)
            result = inv(env, "serve.groot", "--checkpoints", ckpts, "--modality", "ee_rot6d_q", "--port", port,
                         "--host", SERVER_HOST)
            assert result.returncode == 0, result.stdout + result.stderr
            job = started_job(result)
            made[era] = (job, result.stdout)
        return made[era]

    yield server
    for job, _ in made.values():
        inv(jobs_env, "serve.stop", job)
        ssh_config = ROOT / ".sandbox" / "ssh_config"
        subprocess.run(["ssh", "-F", str(ssh_config), SERVER_HOST, f"docker rm -f {job}"], capture_output=True,
                       timeout=60)


def fleet_clients(env: dict[str, str]) -> set[str]:
    """Job ids of inference clients on every host."""
    return {j for j, info in jobs_json(env).items() if info["service"] == "positronic-inference"}


@pytest.mark.parametrize("era", ["4261b1aa", "a060cbea"])
def test_headless_client_runs_here_with_egl(era, jobs_env, servers, local_uv, sandbox, s3) -> None:
    """Upstream's own client (the era image's positronic-inference, through the sandbox's local uv) plays one
    episode against the fleet's server and records it to S3 with the server's own metadata from the handshake."""
    server, _ = servers(era)
    env = client_env(jobs_env, local_uv, era)
    before = fleet_clients(env)
    record = f"s3://interim/infer-local/{os.getpid()}-{era}/"
    result = inv(env, "infer.sim", "--server", server, "--simulation-time", "3", "--output-dir", record)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "positronic-inference finished (exit 0)" in result.stdout
    assert "DsWriterAgent: [STOP] Episode 1" in result.stderr, result.stderr[-3000:]
    assert "\nstarted " not in result.stdout  # no fleet job
    prefix = record.removeprefix("s3://interim/")
    keys = {o["Key"][len(prefix):]: o["Key"] for o in s3.list_objects_v2(Bucket="interim", Prefix=prefix)["Contents"]}
    assert any(k.startswith("run_metadata_") for k in keys), sorted(keys)  # upstream's run metadata, by pos3
    for recorded in ("meta.json", "static.json", "image.wrist.mp4", "image.exterior.mp4"):
        assert f"000000000000/000000000000/{recorded}" in keys, sorted(keys)
    got = started_with(local_uv)
    assert got["MUJOCO_GL"] == "egl" and got["PYOPENGL_PLATFORM"] == "egl"
    assert got["cwd"] == str(CHECKOUTS / f"positronic-{era}")  # the checkout's root, above docker/
    assert got["argv"].startswith(f"run --python {PYTHON[era]} positronic-inference sim --policy={POLICY[era]} ")
    assert got["AWS_SECRET_ACCESS_KEY"] == env["AWS_SECRET_ACCESS_KEY"]  # inherited ...
    assert env["AWS_SECRET_ACCESS_KEY"] not in got["argv"] + result.stdout  # ... never on the command line
    assert fleet_clients(env) == before


def test_gui_with_a_display_asks_upstreams_client_for_the_window_in_the_runbook_era(jobs_env, servers,
                                                                                    local_uv) -> None:
    """DISPLAY set: the window, as the runbook's desktop shows it. This machine has no X server behind :42, so
    upstream's own client fails there as MuJoCo does (no OpenGL context for its renderer), and the task exits
    with its code and the fix."""
    server, _ = servers("4261b1aa")
    env = client_env(jobs_env, local_uv, "4261b1aa", DISPLAY=":42")
    dry = inv(env, "infer.sim", "--server", server, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    command = dry.stdout.strip().splitlines()[-1]
    assert command.startswith("uv run --python 3.11 positronic-inference sim --policy=.groot_ee_rot6d_joints ")
    assert "--driver.show_gui=True" in command and "MUJOCO_GL" not in command
    assert f"# cwd: {CHECKOUTS / 'positronic-4261b1aa'}" in dry.stdout
    assert not local_uv["record"].exists()  # the dry run started nothing

    result = inv(env, "infer.sim", "--server", server, "--gui", "--simulation-time", "3")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "with the simulator window (DISPLAY is set)" in result.stdout
    assert "Started background process DearpyguiUi.run" in result.stderr  # upstream's window, in its own process
    assert "mujoco.FatalError: an OpenGL platform library has not been loaded" in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        "error: positronic-inference exited 1 (fix: read its output above (no OpenGL context for the window, e.g. "
        "no X server at DISPLAY: rerun with --headless))")
    got = started_with(local_uv)
    assert "--driver.show_gui=True" in got["argv"] and got["DISPLAY"] == ":42" and "MUJOCO_GL" not in got

    headless = inv(env, "infer.sim", "--server", server, "--headless", "--dry-run")  # a display, but forced off
    assert headless.returncode == 0, headless.stderr
    assert headless.stdout.strip().splitlines()[-1].startswith(
        "MUJOCO_GL=egl PYOPENGL_PLATFORM=egl uv run --python 3.11 positronic-inference sim ")
    assert "--driver.show_gui=False" in headless.stdout


def test_the_current_era_client_has_no_window(jobs_env, servers, local_uv) -> None:
    server, _ = servers("a060cbea")
    env = client_env(jobs_env, local_uv, "a060cbea", DISPLAY=":42")
    refused = inv(env, "infer.sim", "--server", server, "--gui")
    assert refused.returncode == 2 and "has no simulator window" in refused.stderr, refused.stderr
    assert not local_uv["record"].exists()
    result = inv(env, "infer.sim", "--server", server, "--simulation-time", "3")  # a display: still EGL
    assert result.returncode == 0, result.stdout + result.stderr
    assert "positronic-inference finished (exit 0)" in result.stdout and started_with(local_uv)["MUJOCO_GL"] == "egl"
    assert "show_gui" not in started_with(local_uv)["argv"]


def test_host_runs_the_client_on_a_fleet_host(jobs_env, servers, local_uv, sandbox) -> None:
    """--host keeps the fleet path: upstream's compose service, a detached job whose log is followed. (In the
    sandbox a host's containers reach only their own host's ports, so the client runs beside its server.)"""
    server, _ = servers("4261b1aa")
    env = client_env(jobs_env, local_uv, "4261b1aa")
    result = inv(env, "infer.sim", "--server", server, "--host", SERVER_HOST, "--simulation-time", "3")
    job = started_job(result)
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"started {job} on {SERVER_HOST}" in result.stdout
        # upstream's own client there (the job image's positronic-inference), its pimm world brought down at the end
        assert "Stopping background processes" in result.stdout, result.stdout[-3000:]
        assert jobs_json(env, "--host", SERVER_HOST)[job]["service"] == "positronic-inference"
        assert not local_uv["record"].exists()  # nothing ran here
        gui = inv(env, "infer.sim", "--server", server, "--host", SERVER_HOST, "--gui")
        assert gui.returncode == 2 and "has no display" in gui.stderr
    finally:
        ssh(sandbox, SERVER_HOST, f"docker rm -f {job}")


def test_the_clients_exit_code_is_the_tasks(jobs_env, local_uv) -> None:
    """A server that is not there: upstream's own client raises on its session connect (Python's exit 1), and the
    task exits with that code."""
    import socket

    with socket.socket() as sock:  # a loopback port nothing listens on once closed (ports under 1024 are refused)
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    env = client_env(jobs_env, local_uv, "a060cbea")
    result = inv(env, "infer.sim", "--server", f"127.0.0.1:{closed}", "--policy", "remote", "--simulation-time", "3")
    assert result.returncode == 1, result.stdout + result.stderr
    assert (f"ConnectionRefusedError: [Errno 111] Connection refused (connecting to ws://127.0.0.1:{closed}"
            "/api/v1/session)") in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == "error: positronic-inference exited 1 (fix: read its output above)"


def one_error(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_uv_is_one_error_and_starts_nothing(jobs_env, local_uv, tmp_path) -> None:
    env = client_env(jobs_env, local_uv, "4261b1aa", PATH=str(tmp_path / "empty"))
    result = inv(env, "infer.sim", "--server", "vm-train:9000", "--policy", "groot_ee")
    assert result.returncode == 2 and result.stdout == ""
    assert one_error(result) == ("error: uv not found on PATH (fix: install it (https://docs.astral.sh/uv/), "
                                 "or run the client on a fleet host with --host HOST)")
    assert not local_uv["record"].exists()


def test_missing_or_unknown_checkout_is_one_error_and_starts_nothing(jobs_env, local_uv, tmp_path) -> None:
    env = client_env(jobs_env, local_uv, "4261b1aa", INVOKE_JOBS_COMPOSE_PROJECT="/nonexistent")
    result = inv(env, "infer.sim", "--server", "vm-train:9000", "--policy", "groot_ee")
    assert result.returncode == 2 and result.stdout == ""
    assert one_error(result).startswith("error: no positronic checkout at /nonexistent (docker-compose.yml missing)")
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "docker-compose.yml").write_text("services:\n  app:\n    image: x\n    entrypoint: [x]\n")
    env["INVOKE_JOBS_COMPOSE_PROJECT"] = str(tmp_path / "docker")
    result = inv(env, "infer.sim", "--server", "vm-train:9000", "--policy", "groot_ee")
    assert result.returncode == 2 and "matches no positronic layout" in one_error(result)
    assert not local_uv["record"].exists()


def test_contradicting_flags_are_refused_before_anything(jobs_env, local_uv) -> None:
    env = client_env(jobs_env, local_uv, "4261b1aa", DISPLAY=":42")
    both = inv(env, "infer.sim", "--server", "vm-train:9000", "--policy", "groot_ee", "--gui", "--headless")
    assert both.returncode == 2 and "contradict" in one_error(both)
    detached = inv(env, "infer.sim", "--server", "vm-train:9000", "--policy", "groot_ee", "--no-wait")
    assert detached.returncode == 2 and "--no-wait" in one_error(detached)
    no_display = inv(client_env(jobs_env, local_uv, "4261b1aa"), "infer.sim", "--server", "vm-train:9000",
                     "--policy", "groot_ee", "--gui")
    assert no_display.returncode == 2 and "--gui needs a display" in one_error(no_display)
    assert not local_uv["record"].exists()
