"""Where everything of the sandbox lives, and what each host is: one place for names and addresses."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BRIDGE = "rtsb0"
SUBNET = "10.213.0"  # the project's own /24: bridge .1, hosts .10 and up
BRIDGE_ADDR = f"{SUBNET}.1"
REGISTRY_PORT = 5000
S3_PORT = 9555
REGISTRY = f"localhost:{REGISTRY_PORT}"
BASE_IMAGE = "rt-sandbox/base:latest"
BUCKETS = ("interim", "checkpoints", "raw")  # raw: the recordings the runbook's dataset configs read
# Runtime sockets and exec roots: short paths, because a unix socket path is at most 107 bytes
# and a checkout may live deep in the file system.
RUN_DIR = Path("/run/rt-sandbox")
NETNS_DIR = Path("/var/run/netns")
# Image stores, machine-wide as the root engine's /var/lib/docker is: the registry's storage and each host's
# engine. A fresh clone then finds the images a fleet host would already hold; names are content tags.
STORE_DIR = Path("/var/lib/rt-sandbox")
REGISTRY_STORE = STORE_DIR / "registry"


@dataclass(frozen=True)
class HostSpec:
    name: str
    index: int
    aliases: tuple[str, ...]
    gpu: str  # as nvidia-smi names it
    gpu_short: str  # as hosts.yaml names it
    memory_mib: int
    memory_gb: int

    @property
    def address(self) -> str:
        return f"{SUBNET}.{10 + self.index}"

    @property
    def netns(self) -> str:
        return f"rtsb-{self.name}"

    @property
    def veth(self) -> str:
        return f"rtsbv{self.index}"  # interface names are at most 15 characters

    @property
    def bip(self) -> str:
        return f"172.30.{self.index + 1}.1/24"

    @property
    def run_dir(self) -> Path:
        return RUN_DIR / self.name

    @property
    def docker_sock(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.docker_sock}"

    @property
    def data_root(self) -> Path:
        """Its engine's image and container store; kept across down/up and across checkouts."""
        return STORE_DIR / "hosts" / self.name / "docker"


def host_specs(count: int) -> list[HostSpec]:
    """desktop (RTX 3060) first, then vm-train, vm-train2, ... (H100)."""
    specs = [HostSpec("desktop", 0, (), "NVIDIA GeForce RTX 3060", "RTX 3060", 12288, 12)]
    for i in range(1, count):
        suffix = "" if i == 1 else str(i)
        specs.append(HostSpec(f"vm-train{suffix}", i, (f"train{suffix}",), "NVIDIA H100 80GB HBM3", "H100",
                              81559, 80))
    return specs[:max(count, 0)]


@dataclass(frozen=True)
class Layout:
    """Paths under the checkout's .sandbox/ (git-ignored)."""

    root: Path  # the project root

    @property
    def dir(self) -> Path:
        return self.root / ".sandbox"

    @property
    def pids(self) -> Path:
        return self.dir / "pids"

    @property
    def logs(self) -> Path:
        return self.dir / "logs"

    @property
    def state_file(self) -> Path:
        return self.dir / "sandbox.json"

    @property
    def hosts_file(self) -> Path:
        return self.dir / "hosts.yaml"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def user_key(self) -> Path:
        return self.dir / "id_ed25519"

    def host_dir(self, name: str) -> Path:
        return self.dir / "hosts" / name

    def pid(self, what: str) -> Path:
        return self.pids / f"{what}.pid"

    def log(self, what: str) -> Path:
        return self.logs / f"{what}.log"
