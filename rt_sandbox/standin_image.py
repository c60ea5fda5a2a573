"""The sandbox's job image of each upstream era: the positronic checkout's own code at its commit, on the
CPython its compose file asks for, with the real packages its uv.lock pins; stubs only at the model layer.

- Base: a Debian root file system (debootstrap, minbase) holding the era's CPython, imported into the root
  engine: Debian 12 ships exactly 3.11 (runbook era), Debian 13 exactly 3.13 (current era).
- /positronic: the checkout's files (docker/sandbox/checkouts/positronic-<era>) with .venv holding the
  packages of the era's lock (rt_sandbox/wheelhouse.py) and positronic itself in editable form; openpi's
  client package from its vendored sources (docker/sandbox/vendored/openpi-client), as the lock's git source.
- /gr00t and /.venv, /openpi and its .venv: the model layer's stubs (docker/sandbox/era/), on the real
  argument parser their projects pin.
- /opt/rt-extras/<extra>: the model layer's stubs one extra installs (lerobot 0.4 for `--extra lerobot`, beside
  the venv's lerobot 0.3.3 stub), which the stand-in uv puts first on the path.
- Each era's inference client (positronic-inference sim): MuJoCo renders through Mesa's EGL (BASE_DEBS in the
  base), and the scene's assets pickle, which no reachable copy of upstream holds, is a placeholder
  (rt_sandbox/scene_assets.py).
- `uv` (docker/sandbox/era/uv) refuses what uv refuses, then runs the project's Python: every program is the
  checkout's own. The runbook era's dataset viewer (positronic-server) is not modelled: its wheels (FastAPI,
  rerun-sdk) are not in that image, so it fails on its import.

Built once per content (the tag is a digest of every input) and pushed to the sandbox registry; the
Debian packages and the wheels stay in CACHE, the base images in the engine, so a second `up` is quick.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import tomllib

from remote_training.errors import SandboxError
from remote_training.jobs.catalog import ERAS
from . import scene_assets, wheelhouse
from .layout import S3_PORT
from .services import engine_has, import_rootfs

REPO = "localhost:5000/rt-jobs-test/standin"
CACHE = Path("/var/cache/rt-sandbox")  # Debian packages and wheels, kept between runs and checkouts
SUITES = {"3.11": "bookworm", "3.13": "trixie"}  # the Debian release whose python3 is exactly that CPython
# Debian packages a base holds beyond its CPython, per Python, each group named in the base's tag:
# - egl: each era's inference client renders its MuJoCo cameras headless through EGL (the compose service sets
#   MUJOCO_GL=egl): glvnd's libEGL and libOpenGL over Mesa, whose llvmpipe draws on the CPU without a GPU. The
#   runbook era's inference.py also imports its Dear PyGui windows (positronic.gui.dpg, .eval) whatever the
#   driver: dearpygui's extension links libX11, so its base has libx11-6 (no display is opened);
# - openssl: the current era's dataset viewer (positronic-server, main(https=True)) makes its self-signed cert
#   with the openssl program. Upstream's image has it: docker/Dockerfile is FROM
#   nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04, whose base layer runs `apt-get install -y
#   --no-install-recommends gnupg2 curl ca-certificates` (gitlab.com/nvidia/container-images/cuda,
#   dist/<version>/ubuntu2204/base/Dockerfile), and Ubuntu 22.04's ca-certificates Depends: openssl (>= 1.1.1)
#   (https://packages.ubuntu.com/jammy/ca-certificates).
EGL_DEBS = ("libegl1", "libegl-mesa0", "libgl1-mesa-dri", "libopengl0")
BASE_DEBS = {"3.11": (("egl", (*EGL_DEBS, "libx11-6")),),
             "3.13": (("egl", EGL_DEBS), ("openssl", ("openssl",)))}
# What the CPU path of the real programs imports, closed over the era's uv.lock.
POSITRONIC_ROOTS = ("configuronic", "fire", "pos3", "numpy", "pyyaml", "msgpack", "websockets")
# What the dataset converter imports beyond those, per era: its dataset code (pyarrow, av), codecs and transforms
# (pillow, opencv, scipy, mujoco's IK), logging and progress bar; at the current era also what the dataset
# configs' modules import (positronic.cfg.ds.internal imports the dataset viewer's server: rerun, fastapi,
# jinja2; telemetry: psutil, opentelemetry, nvidia-ml-py). torch, torchvision, timm and lerobot are the model
# layer's stubs (docker/sandbox/era/stubs), installed beside them; the ACT trainers run on those too.
CONVERT_ROOTS = {"4261b1aa": ("av", "pyarrow", "pillow", "opencv-python-headless", "coloredlogs", "tqdm"),
                 "a060cbea": ("av", "pyarrow", "pillow", "opencv-python-headless", "coloredlogs", "tqdm", "scipy",
                              "mujoco", "rerun-sdk", "fastapi", "starlette", "uvicorn", "httpx", "jinja2", "psutil",
                              "opentelemetry-api", "nvidia-ml-py")}
# What an era's servers import besides (its lock names them): the current era's servers are positronic's
# own offboard server (FastAPI on uvicorn) over the policy stack (codecs, geometry, IK, recorder), with ZeroMQ
# to gr00t's subprocess and openpi_client (OPENPI_CLIENT; it imports typing_extensions) to openpi's.
SERVER_ROOTS = {"a060cbea": ("pyzmq", "fastapi", "starlette", "uvicorn", "httpx", "pillow", "scipy", "mujoco",
                             "rerun-sdk", "coloredlogs", "opentelemetry-api", "opencv-python-headless",
                             "typing-extensions")}
# What each era's inference client (positronic-inference sim) imports besides. Runbook: MuJoCo and dm_control
# (the simulator and its IK), Dear PyGui (inference.py imports its windows), PyOpenGL for the EGL renderer, the
# per-vendor policies' wire protocols: pyzmq (GR00T's ZeroMQ), openpi_client's typing_extensions and dm-tree
# (OpenPI's websocket; openpi_client itself is OPENPI_CLIENT). Current: the platform client's pydantic
# (cli/eval/run.py imports it), PyOpenGL for MuJoCo's EGL renderer.
CLIENT_ROOTS = {"4261b1aa": ("mujoco", "dm-control", "dearpygui", "pyopengl", "pyzmq", "typing-extensions",
                             "dm-tree"),
                "a060cbea": ("pydantic", "pyopengl", "mujoco", "httpx", "websockets")}
# openpi's client package, which the current era's uv.lock takes from a git source (Positronic's openpi fork)
# that no wheelhouse can hold: its sources vendored from openpi (docker/sandbox/vendored/openpi-client/README.md),
# installed into the positronic venv of an era whose lock names it, and into openpi's (the model stubs use it).
OPENPI_CLIENT = "openpi-client"
# The model layer's own parsers: tyro as openpi's uv.lock pins it (0.9.22) and as Isaac-GR00T's pyproject
# pins it (0.9.17); the rest are what the stubs' wire protocol and progress bar use.
OPENPI_TOOLS = ("tyro==0.9.22", "msgpack", "numpy", "websockets", "tqdm")
GR00T_TOOLS = ("tyro==0.9.17", "tqdm", "pyzmq", "msgpack", "numpy")  # the last three: its server's wire protocol
# The raw recording the runbook's sim configs read (positronic/cfg/phail.py legacy_sim_raw), and its writer.
RECORDING = "s3://raw/sim-cubes/luzan/"
RECORDER = "record_sim_stack.py"
RECORDING_ERA = "4261b1aa"  # whose image writes it (both eras' sim configs read it) when its image is ensured
# pimm: the runbook era's inference client and the current era's servers; client: the current era's workspace
# member positronic-platform-client (the eval CLI's)
CHECKOUT_FILES = ("positronic", "pimm", "client", "pyproject.toml", "uv.lock", "LICENSE", "NOTICE")
SCENE = "positronic/assets/mujoco/franka_table.xml"  # the sim eval's scene; its assets pickle is stubbed
DEBOOTSTRAP_TIMEOUT_S = 1200
DOCKER_ENV = {"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}


def _sandbox_dir(root: Path) -> Path:
    return root / "docker" / "sandbox"


def checkout_dir(root: Path, era: str) -> Path:
    return _sandbox_dir(root) / "checkouts" / f"positronic-{era}"


def python_of(era: str) -> str:
    return next(e.python for e in ERAS if e.name == era)


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 `URIs:` or one-line `deb URL suite`)."""
    sources = sorted(Path("/etc/apt/sources.list.d").glob("*.sources")) + [Path("/etc/apt/sources.list")]
    for path in sources:
        text = path.read_text() if path.exists() else ""
        for url in re.findall(r"^URIs:\s*(\S+)", text, re.M) + re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", text, re.M):
            if url.rstrip("/").endswith("/debian"):
                return url
    raise SandboxError("sandbox: no Debian mirror in /etc/apt/sources.list(.d)", "configure apt with a Debian mirror")


def ensure_base(python: str) -> str:
    """rt-sandbox/debian-<suite>-python<V>[-<group>...] in the root engine: Debian minbase with its python3.X and
    the package groups BASE_DEBS names for it."""
    suite, groups = SUITES[python], BASE_DEBS.get(python, ())
    ref = f"rt-sandbox/debian-{suite}-python{python}{''.join(f'-{name}' for name, _ in groups)}:latest"
    extra = tuple(deb for _, group in groups for deb in group)
    if engine_has(ref):
        return ref
    debs = CACHE / "debs" / suite
    debs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        rootfs = Path(tmp) / "rootfs"
        packages = ",".join((f"python{python}", *extra))
        made = subprocess.run(["debootstrap", "--variant=minbase", f"--include={packages}", f"--cache-dir={debs}",
                               suite, str(rootfs), debian_mirror()], capture_output=True, text=True,
                              timeout=DEBOOTSTRAP_TIMEOUT_S)
        if made.returncode != 0:
            raise SandboxError(f"sandbox: debootstrap {suite} failed: {made.stdout[-300:]}{made.stderr[-300:]}",
                               "check that apt reaches the Debian mirror; "
                               "scripts/install-sandbox.sh installs debootstrap")
        for junk in ("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "var/cache/apt",
                     "var/lib/apt/lists"):
            shutil.rmtree(rootfs / junk, ignore_errors=True)
        import_rootfs(rootfs, ref, "/bin/bash")
    return ref


def vendored_dir(root: Path, name: str) -> Path:
    return _sandbox_dir(root) / "vendored" / name


def _locks_name(checkout: Path, package: str) -> bool:
    return f'\nname = "{package}"\n' in (checkout / "uv.lock").read_text()


def _inputs(root: Path, era: str) -> list[Path]:
    folders = [_sandbox_dir(root) / "era", vendored_dir(root, OPENPI_CLIENT)]
    folders += [checkout_dir(root, era) / n for n in CHECKOUT_FILES]
    files = [Path(__file__).resolve(), Path(wheelhouse.__file__).resolve(),  # how it is built is an input too
             Path(scene_assets.__file__).resolve()]
    for folder in folders:
        files += [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    return files


def tag_for(root: Path, era: str) -> str:
    digest = hashlib.sha256(era.encode())
    for path in _inputs(root, era):
        executable = b"x" if path.stat().st_mode & 0o100 else b"-"
        digest.update(path.name.encode() + b"\0" + executable + path.read_bytes())
    return f"{REPO}:{era}-{digest.hexdigest()[:12]}"


def _venv(prefix: Path, python: str, site_from: Path) -> Path:
    """A venv as `python -m venv --symlinks` lays it out, its site-packages moved in from `site_from`."""
    (prefix / "bin").mkdir(parents=True, exist_ok=True)
    (prefix / "bin" / "python").symlink_to(f"/usr/bin/python{python}")
    (prefix / "bin" / f"python{python}").symlink_to("python")
    (prefix / "pyvenv.cfg").write_text(f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {python}\n")
    site = prefix / "lib" / f"python{python}" / "site-packages"
    site.parent.mkdir(parents=True)
    shutil.copytree(site_from, site, symlinks=True)
    return site


def _packages(requirements: list[str], python: str, target: Path, deps: bool) -> None:
    house = CACHE / "wheels" / python
    wheelhouse.download(requirements, python, house, deps=deps)
    wheelhouse.install(requirements, python, house, target, deps=deps)


def _editable_positronic(site: Path, venv: Path, project: Path) -> None:
    """positronic installed in editable form, as `uv sync` leaves a project: a .pth, metadata, console scripts
    (as uv writes them: the call under `if __name__ == "__main__"`, so a `spawn` child, which imports the script
    as `__mp_main__`, does not run the program again: pimm's World starts its processes that way)."""
    meta = tomllib.loads(project.read_text())["project"]
    info = site / f"positronic-{meta['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: positronic\nVersion: {meta['version']}\n")
    scripts = meta.get("scripts", {})
    (info / "entry_points.txt").write_text("[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items()))
    (site / "_positronic.pth").write_text("/positronic\n")
    for name, target in scripts.items():
        module, _, func = target.partition(":")
        script = venv / "bin" / name
        script.write_text(f"#!{'/positronic/.venv/bin/python'}\nimport sys\nfrom {module} import {func}\n"
                          f"if __name__ == \"__main__\":\n    sys.exit({func}())\n")
        script.chmod(0o755)


def _context(root: Path, era: str, ctx: Path) -> None:
    python = python_of(era)
    tree, checkout, era_dir = ctx / "root", checkout_dir(root, era), _sandbox_dir(root) / "era"
    staging = ctx / "staging"
    positronic = tree / "positronic"
    positronic.mkdir(parents=True)
    for name in CHECKOUT_FILES:
        source = checkout / name
        if source.is_dir():
            shutil.copytree(source, positronic / name)
        elif source.exists():
            shutil.copy2(source, positronic / name)
    locked = wheelhouse.locked_closure(checkout / "uv.lock",
                                       POSITRONIC_ROOTS + SERVER_ROOTS.get(era, ()) + CONVERT_ROOTS[era]
                                       + CLIENT_ROOTS.get(era, ()), python)
    _packages(locked, python, staging / "positronic", deps=False)
    site = _venv(positronic / ".venv", python, staging / "positronic")
    shutil.copytree(era_dir / "stubs", site, dirs_exist_ok=True)  # torch, lerobot: the model layer's stubs
    client = vendored_dir(root, OPENPI_CLIENT) / "src" / "openpi_client"
    if _locks_name(checkout, OPENPI_CLIENT):
        shutil.copytree(client, site / "openpi_client")
    _editable_positronic(site, positronic / ".venv", checkout / "pyproject.toml")
    if (positronic / "client").is_dir():  # a workspace member, editable as `uv sync` leaves it
        (site / "_platform_client.pth").write_text("/positronic/client\n")
    if (positronic / SCENE).is_file():
        scene_assets.write(positronic / SCENE)

    shutil.copytree(era_dir / "gr00t", tree / "gr00t")
    _packages(list(GR00T_TOOLS), python, staging / "gr00t", deps=True)
    site = _venv(tree / ".venv", python, staging / "gr00t")  # upstream's groot_venv_path default: /.venv/
    shutil.copy2(era_dir / "rt_stub_training.py", site)
    (site / "_gr00t.pth").write_text("/gr00t\n")  # gr00t installed editable, as its image does: gr00t.data imports
    shutil.copytree(era_dir / "openpi", tree / "openpi")
    _packages(list(OPENPI_TOOLS), python, staging / "openpi", deps=True)
    site = _venv(tree / "openpi" / ".venv", python, staging / "openpi")
    shutil.copy2(era_dir / "rt_stub_training.py", site)
    shutil.copytree(client, site / "openpi_client")  # a member of openpi's own workspace: its server's wire format

    shutil.copytree(era_dir / "extras", tree / "opt" / "rt-extras")  # lerobot 0.4 (`--extra lerobot`): the era's uv
    (tree / "opt" / "rt-sandbox").mkdir(parents=True)
    shutil.copy2(era_dir / RECORDER, tree / "opt" / "rt-sandbox")  # writes the sandbox's raw recording
    (tree / "usr" / "local" / "bin").mkdir(parents=True)
    uv = tree / "usr" / "local" / "bin" / "uv"  # on the image's one CPython (minbase has no `python3` name)
    uv.write_text(f"#!/usr/bin/python{python}\n" + (era_dir / "uv").read_text().split("\n", 1)[1])
    uv.chmod(0o755)
    shutil.rmtree(staging)


def ensure(root: Path, era: str) -> str:
    """The era's job image ref, built and pushed to the sandbox registry if needed."""
    ref = tag_for(root, era)
    if not engine_has(ref):
        base = ensure_base(python_of(era))
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            ctx = Path(tmp)
            _context(root, era, ctx)
            (ctx / "Dockerfile").write_text(f"FROM {base}\nCOPY root/ /\nWORKDIR /positronic\n")
            built = subprocess.run(["docker", "build", "-q", "-t", ref, str(ctx)], capture_output=True, text=True,
                                   env=DOCKER_ENV, timeout=900)
        if built.returncode != 0:
            raise SandboxError(f"sandbox: building {ref} failed: {built.stderr[-400:]}", "check the root Docker engine")
    pushed = subprocess.run(["docker", "push", "-q", ref], capture_output=True, text=True, timeout=900)
    if pushed.returncode != 0:
        raise SandboxError(f"sandbox: pushing {ref} failed: {pushed.stderr[-300:]}", "check the sandbox registry")
    if era == RECORDING_ERA:
        ensure_recording(ref, f"http://127.0.0.1:{S3_PORT}")
    return ref


def ensure_recording(ref: str, s3_endpoint: str) -> str:
    """RECORDING in the sandbox's S3, written once by upstream's own dataset writer in the runbook era's image
    (docker/sandbox/era/record_sim_stack.py): the raw data the runbook's sim dataset configs read."""
    import boto3  # lazy: only the sandbox needs it here

    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="sandbox",
                      aws_secret_access_key="sandbox")
    bucket, _, key = RECORDING.removeprefix("s3://").partition("/")
    if s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("KeyCount"):
        return RECORDING
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        made = subprocess.run(["docker", "run", "--rm", "--network", "none", "-v", f"{tmp}:/out", ref,
                               "/positronic/.venv/bin/python", f"/opt/rt-sandbox/{RECORDER}", "/out/rec"],
                              capture_output=True, text=True, timeout=300)
        if made.returncode != 0:
            raise SandboxError(f"sandbox: recording {RECORDING} failed: {made.stderr[-400:]}", "check the era image")
        for path in sorted((Path(tmp) / "rec").rglob("*")):
            if path.is_file():
                s3.upload_file(str(path), bucket, key + path.relative_to(Path(tmp) / "rec").as_posix())
    return RECORDING


def env_file(root: Path, era: str) -> Path:
    """Where the era's images env file lives (written by write_env_file once its image is pushed)."""
    return root / ".sandbox" / f"images-{era}.env"


def write_env_file(path: Path, ref: str) -> Path:
    """An images env file naming the image for every service image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{var}={ref}\n" for var in ("RT_IMAGE_GR00T", "RT_IMAGE_OPENPI", "RT_IMAGE_POSITRONIC")))
    return path


def ensure_named(root: Path, era: str) -> str:
    """`ensure` the era's job image, then name it for every service in the era's images env file (`env_file`),
    as the tests, the demo and `sandbox.up --job-images` point their jobs at it; its ref."""
    ref = ensure(root, era)
    write_env_file(env_file(root, era), ref)
    return ref

