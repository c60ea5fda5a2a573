"""Shared services in the root namespace: Docker engine, registry, moto S3, forwarders, base image."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from remote_training.errors import SandboxError
from . import procs
from .layout import BASE_IMAGE, BRIDGE_ADDR, BUCKETS, REGISTRY, REGISTRY_PORT, REGISTRY_STORE, S3_PORT, Layout


def port_open(address: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(check, what: str, timeout: float, log: Path | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if check():
            return
        time.sleep(0.2)
    tail = ""
    if log and log.exists():
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    raise SandboxError(f"sandbox: {what} did not come up within {timeout:g}s{': ' + tail if tail else ''}",
                       f"see {log or 'the logs under .sandbox/logs'}, then run inv sandbox.down and inv sandbox.up")


def engine_answers(docker_host: str | None = None) -> bool:
    env = dict(os.environ)
    if docker_host:
        env["DOCKER_HOST"] = docker_host
    else:
        env.pop("DOCKER_HOST", None)
    try:
        return subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], env=env,
                              capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def ensure_root_engine(lay: Layout) -> None:
    """Use the engine on the default socket; start Debian's dockerd if none answers."""
    if engine_answers():
        return
    if not shutil.which("dockerd"):
        raise SandboxError("sandbox: no Docker engine answers and dockerd is not installed",
                           "run scripts/install.sh (as root) to install docker.io")
    pid_file, log = lay.pid("dockerd"), lay.log("dockerd")
    if not procs.alive(pid_file, "dockerd"):
        _drop_stale_pid_files()
        procs.start(["dockerd", "--pidfile", "/var/run/docker.pid"], pid_file, log)
    wait_for(engine_answers, "the Docker engine (dockerd)", 90, log)


def _drop_stale_pid_files() -> None:
    """After every process was killed, a pid file whose number now names some other process makes
    dockerd refuse to start, or wait forever for a containerd that is not there."""
    for pid_file, program in ((Path("/var/run/docker.pid"), "dockerd"),
                              (Path("/var/run/docker/containerd/containerd.pid"), "containerd")):
        pid = procs.read_pid(pid_file)
        if pid is not None and program not in procs.cmdline(pid).split(" ")[0]:
            pid_file.unlink(missing_ok=True)


def ensure_registry(lay: Layout) -> None:
    if port_open("127.0.0.1", REGISTRY_PORT):
        return
    config = lay.dir / "registry.yml"
    storage = REGISTRY_STORE
    storage.mkdir(parents=True, exist_ok=True)
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage:\n  filesystem: {{rootdirectory: {storage}}}\n  delete: {{enabled: true}}\n"
        f"http: {{addr: '127.0.0.1:{REGISTRY_PORT}'}}\n"
    )
    pid_file, log = lay.pid("registry"), lay.log("registry")
    procs.stop(pid_file, str(config))  # a leftover that no longer listens
    procs.start(["docker-registry", "serve", str(config)], pid_file, log)
    wait_for(lambda: port_open("127.0.0.1", REGISTRY_PORT), "the registry on 127.0.0.1:5000", 30, log)


def stop_foreign_services(other: Path) -> None:
    """Stop the S3 server and the registry another checkout started: their ports are fixed, and they run
    from that checkout's files (moto from its venv, the registry on its storage folder), which may be gone
    with a deleted CI clone: moto then answers 500, the registry cannot store a push."""
    prefix = f"{other}/"

    def theirs(command: str, _cgroup: str) -> bool:
        return (command.startswith(prefix) and "moto.server" in command) or (
            command.startswith("docker-registry serve ") and prefix in command)

    procs.kill_all(procs.matching(theirs))


def ensure_s3(lay: Layout) -> None:
    pid_file, log = lay.pid("moto"), lay.log("moto")
    if not port_open("127.0.0.1", S3_PORT):
        procs.stop(pid_file, "moto")
        procs.start([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(S3_PORT)], pid_file, log)
        wait_for(lambda: port_open("127.0.0.1", S3_PORT), f"moto S3 on 127.0.0.1:{S3_PORT}", 60, log)
    import boto3  # lazy: only the sandbox needs it here

    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{S3_PORT}", region_name="us-east-1",
                      aws_access_key_id="sandbox", aws_secret_access_key="sandbox")
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for bucket in BUCKETS:
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)


def ensure_forwarders(lay: Layout) -> None:
    """The registry and S3 on the bridge address, so hosts and their containers reach them."""
    for name, port in (("fwd-registry", REGISTRY_PORT), ("fwd-s3", S3_PORT)):
        if port_open(BRIDGE_ADDR, port):
            continue
        listen = f"TCP-LISTEN:{port},bind={BRIDGE_ADDR},reuseaddr,fork"
        procs.stop(lay.pid(name), listen)
        procs.start(["socat", listen, f"TCP:127.0.0.1:{port}"], lay.pid(name), lay.log(name))
        wait_for(lambda p=port: port_open(BRIDGE_ADDR, p), f"the forwarder on {BRIDGE_ADDR}:{port}", 15,
                 lay.log(name))


def _registry_has_base() -> bool:
    repo, tag = BASE_IMAGE.split(":")
    req = urllib.request.Request(f"http://127.0.0.1:{REGISTRY_PORT}/v2/{repo}/manifests/{tag}", method="HEAD",
                                 headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def engine_has(image: str) -> bool:
    return procs.run(["docker", "image", "inspect", image], check=False).returncode == 0


def _docker(*args: str) -> None:
    result = procs.run(["docker", *args], check=False, timeout=300)
    if result.returncode != 0:
        raise SandboxError(f"sandbox: docker {' '.join(args[:2])} failed: {result.stderr.decode().strip()[-300:]}",
                           "check the root Docker engine (docker info) and the registry log")


def build_rootfs(target: Path) -> None:
    """A busybox-static root file system: /bin/busybox plus one link per applet."""
    busybox = shutil.which("busybox")
    if not busybox:
        raise SandboxError("sandbox: busybox is not installed", "run scripts/install.sh to install busybox-static")
    if target.exists():
        shutil.rmtree(target)
    (target / "bin").mkdir(parents=True)
    shutil.copy2(busybox, target / "bin" / "busybox")
    listing = procs.run([busybox, "--list-full"]).stdout.decode().split()
    for rel in listing:
        link = target / rel
        if link.name == "busybox" or link.exists():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    for folder in ("tmp", "root", "etc", "proc", "sys", "dev", "var/tmp"):
        (target / folder).mkdir(parents=True, exist_ok=True)
    (target / "tmp").chmod(0o1777)
    (target / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    (target / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")


def import_rootfs(rootfs: Path, ref: str, shell: str) -> None:
    """A root file system folder as image `ref` in the root engine (`shell` its CMD)."""
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(["docker", "import", "--change", f'CMD ["{shell}"]', "-", ref],
                              stdin=tar.stdout, capture_output=True, timeout=600)
    tar.wait()
    if imported.returncode != 0:
        raise SandboxError(f"sandbox: docker import of {ref} failed: {imported.stderr.decode()[-300:]}",
                           "check the root Docker engine (docker info)")


def ensure_base_image(lay: Layout) -> None:
    """rt-sandbox/base:latest in the root engine and localhost:5000/rt-sandbox/base:latest in the registry."""
    pushed = f"{REGISTRY}/{BASE_IMAGE}"
    if not engine_has(BASE_IMAGE):
        rootfs = lay.dir / "base-rootfs"
        build_rootfs(rootfs)
        import_rootfs(rootfs, BASE_IMAGE, "/bin/sh")
    if not engine_has(pushed):
        _docker("tag", BASE_IMAGE, pushed)
    if not _registry_has_base():
        _docker("push", pushed)
