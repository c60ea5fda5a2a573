"""Bench: `inv train.groot` (detached) against a bare `ssh host docker compose run -d` of the same service.

Both run upstream's verbatim compose file (current era) with the same override file, and
go to the sandbox host vm-train2 through a second sshd that this script starts
inside that host's namespaces with LogLevel INFO, so every SSH login it accepts is
logged and a launch's connections can be counted. Prints both timings (median of N),
their ratio (must be <= 1.5) and SSH connections per task launch (must be exactly 1).
The task is timed twice: as a user runs it (preflight and ledger on, the default) and the
jobs layer alone (INVOKE_JOBS_PREFLIGHT=0); the limit applies to both.
Run: python3 bench/jobs_launch_bench.py [--rounds 7]
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST, PORT = "vm-train2", 2222
ARGS = ["--input_path=s3://interim/jobs-bench/data/", "--output_path=s3://checkpoints/jobs-bench/", "--exp_name=bare",
        "--modality_config=ee", "--num_train_steps=2", "--save_steps=1"]
ERA = "a060cbea"  # the current era: its verbatim compose file and its job image
CHECKOUT = ROOT / "docker" / "sandbox" / "checkouts" / f"positronic-{ERA}" / "docker"


def start_sshd(state: dict, work: Path) -> tuple[subprocess.Popen, Path, Path]:
    """A logging sshd in the host's own network, mount and uts namespaces (same engine, same home)."""
    host_dir = ROOT / ".sandbox" / "hosts" / HOST
    config = (host_dir / "sshd_config").read_text().splitlines()
    keep = [ln for ln in config if not ln.startswith(("ListenAddress", "PidFile", "LogLevel"))]
    (work / "sshd_config").write_text("\n".join(keep + [f"ListenAddress 0.0.0.0:{PORT}", f"PidFile {work}/sshd.pid",
                                                        "LogLevel INFO"]) + "\n")
    log = work / "sshd.log"
    target = (ROOT / ".sandbox" / "pids" / f"{HOST}-sshd.pid").read_text().strip()
    proc = subprocess.Popen(["nsenter", f"--target={target}", "--net", "--mount", "--uts", "/usr/sbin/sshd", "-D",
                             "-f", str(work / "sshd_config"), "-E", str(log)])
    address = state["hosts"][HOST]["address"]
    pub = (host_dir / "ssh_host_ed25519_key.pub").read_text().split()[:2]
    (work / "known_hosts").write_text(f"[{address}]:{PORT} {' '.join(pub)}\n")
    ssh_config = work / "ssh_config"
    ssh_config.write_text(f"Host bench-{HOST}\n  HostName {address}\n  Port {PORT}\n  User root\n"
                          f"  IdentityFile {state['identity_file']}\n  IdentitiesOnly yes\n"
                          f"  UserKnownHostsFile {work / 'known_hosts'}\n  StrictHostKeyChecking yes\n")
    for _ in range(100):
        try:
            socket.create_connection((address, PORT), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return proc, log, ssh_config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="launches of each kind (median is reported)")
    rounds = parser.parse_args().rounds
    from remote_training.jobs.project import OVERRIDE, collect, override_text
    from rt_sandbox import fleet, standin_image

    state = fleet.ensure_up(ROOT)
    ref = standin_image.ensure(ROOT, ERA)
    work = Path(tempfile.mkdtemp(prefix="rt-jobs-bench-"))
    env_file = standin_image.write_env_file(work / "images.env", ref)
    proc, log, ssh_config = start_sshd(state, work)
    (work / "hosts.yaml").write_text(
        f"ssh_config: {ssh_config}\nknown_hosts: {work / 'known_hosts'}\ncompose_project: {CHECKOUT}\n"
        f"s3: {{endpoint_url: '{state['s3_endpoint']}'}}\nhosts:\n  {HOST}:\n    ssh: root@bench-{HOST}\n"
        "    gpu: H100\n    gpu_memory_gb: 80\n    compose: docker compose\n    workdir: ~/remote-training\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INVOKE_", "AWS_", "WANDB_"))}
    env.update(INVOKE_HOSTS_FILE=str(work / "hosts.yaml"), INVOKE_IMAGES_ENV_FILE=str(env_file),
               INVOKE_JOBS_LEDGER=str(work / "ledger.jsonl"), AWS_ACCESS_KEY_ID="AKIABENCH0001",
               AWS_SECRET_ACCESS_KEY="bench")
    put_dataset(state["s3_local_endpoint"])  # preflight checks the input exists
    from remote_training.jobs.catalog import load_checkout

    built = ("positro/gr00t", "positro/openpi", "positro/positronic")  # what the image catalog builds
    services = {name: ref for name, svc in load_checkout(CHECKOUT).services.items() if svc.repository in built}
    project_dir = collect(CHECKOUT, {OVERRIDE: override_text(services)}).remote_dir("~/remote-training")
    task = [sys.executable, "-m", "invoke", "train.groot", "--input", ARGS[0].split("=")[1], "--output",
            ARGS[1].split("=")[1], "--steps", "2", "--save-steps", "1", "--modality", "ee", "--host", HOST]
    made: list[str] = []
    task_times, bare_times, connections, plain_times = [], [], [], []
    try:
        def launch_task(preflight: bool = True) -> float:
            exp = f"b{os.getpid()}-{len(made)}"  # a fresh experiment: preflight refuses to overwrite a run
            run_env = env if preflight else {**env, "INVOKE_JOBS_PREFLIGHT": "0"}
            began = time.monotonic()
            out = subprocess.run([*task, "--exp-name", exp], cwd=ROOT, env=run_env, capture_output=True, text=True)
            took = time.monotonic() - began
            if out.returncode:
                raise SystemExit(f"task launch failed:\n{out.stdout}{out.stderr}")
            made.append(out.stdout.split()[1])
            return took

        def wait_last() -> None:  # outside the timing and the count: a running job would load the next launch
            subprocess.run(["ssh", "-F", str(ssh_config), f"bench-{HOST}", f"docker wait {made[-1]}"],
                           capture_output=True)

        def launch_bare(n: int) -> float:
            name = f"bench-bare-{os.getpid()}-{n}"
            remote = (f"cd {shlex.quote(project_dir)} && CACHE_ROOT=$HOME COMPOSE_PROJECT_NAME=rt docker compose "
                      f"-f docker-compose.yml -f {OVERRIDE} run -d "
                      f"--name {name} -e AWS_ENDPOINT_URL={shlex.quote(state['s3_endpoint'])} groot-train "
                      + " ".join(shlex.quote(a) for a in ARGS))
            began = time.monotonic()
            subprocess.run(["ssh", "-F", str(ssh_config), f"bench-{HOST}", remote], check=True, capture_output=True)
            made.append(name)
            return time.monotonic() - began

        launch_task()  # warm-up: ships the project and pulls the image once
        wait_last()
        launch_bare(0)
        for n in range(1, rounds + 1):
            before = accepted(log)
            task_times.append(launch_task())
            time.sleep(0.3)  # let sshd flush its log line
            connections.append(accepted(log) - before)
            wait_last()
            before = accepted(log)
            plain_times.append(launch_task(preflight=False))
            time.sleep(0.3)
            connections.append(accepted(log) - before)
            wait_last()
            bare_times.append(launch_bare(n))
            wait_last()  # every launch of either kind starts on a quiet host: no job of the last one still running
    finally:
        names = " ".join(shlex.quote(m) for m in made)
        subprocess.run(["ssh", "-F", str(ssh_config), f"bench-{HOST}", f"docker rm -f {names}"], capture_output=True)
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    task_s, plain_s, bare_s = (statistics.median(t) for t in (task_times, plain_times, bare_times))
    print(f"bare ssh {HOST} docker compose run -d groot-train:        median {bare_s:.2f}s  {fmt(bare_times)}")
    print(f"inv train.groot, with preflight + ledger (the default):  median {task_s:.2f}s  {fmt(task_times)}"
          f"  ratio {task_s / bare_s:.2f} (limit 1.50)")
    print(f"inv train.groot, jobs layer (INVOKE_JOBS_PREFLIGHT=0):      median {plain_s:.2f}s  {fmt(plain_times)}"
          f"  ratio {plain_s / bare_s:.2f} (limit 1.50)")
    print(f"SSH connections per task launch (sshd log): {connections} (must be 1 each)")
    print("(each inv time is the whole CLI process: Python start, imports, SSH handshake, remote work)")
    ok = max(task_s, plain_s) / bare_s <= 1.5 and all(c == 1 for c in connections)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def put_dataset(endpoint: str) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="AKIABENCH0001",
                      aws_secret_access_key="bench")
    s3.put_object(Bucket="interim", Key="jobs-bench/data/meta/info.json", Body=b'{"observation": ".groot_joints"}')


def accepted(log: Path) -> int:
    return sum(1 for line in log.read_text(errors="replace").splitlines() if "Accepted publickey" in line)


def fmt(times: list[float]) -> str:
    return "[" + ", ".join(f"{t:.2f}" for t in times) + "]"


if __name__ == "__main__":
    sys.exit(main())
