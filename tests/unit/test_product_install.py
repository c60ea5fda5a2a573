"""The product as a user installs it (no sandbox, no network): the wheel built from this checkout, installed
non-editable into a new virtual environment, run from another directory with a temporary HOME.

The wheel is built offline (`--no-build-isolation`, from a copy of the files the build reads); the new
environment gets the wheel alone, and its dependencies from this venv's site-packages through a .pth line
(a .pth in a path added that way is not run, so this venv's editable .pth and checkout path stay out:
`remote_training` and `rt_tasks` are the wheel's own). scripts/check-product-install.sh does the same with the
dependencies from the package index, as pipx does."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT


@pytest.fixture(scope="module")
def product(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("product")
    source = work / "source"
    source.mkdir()
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # tasks and rt_sandbox too: the build must leave them out
    for package in ("remote_training", "rt_tasks", "tasks", "rt_sandbox"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run([*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(work / "dist"), str(source)])
    wheel = next((work / "dist").glob("remote_training-*.whl"))
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    run([*pip, "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps", "--no-index", str(wheel)])
    site = run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip()
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    home = work / "home"
    (home / ".config" / "remote-training").mkdir(parents=True)
    shutil.copy(ROOT / "hosts.yaml", home / ".config" / "remote-training" / "hosts.yaml")
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    return {"wheel": wheel, "rt": venv / "bin" / "rt", "home": home, "cwd": elsewhere}


def run(argv: list[str]) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{argv[:4]} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def rt(product: dict[str, Path], *args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(product["home"])}
    return subprocess.run([str(product["rt"]), *args], cwd=product["cwd"], env=env, capture_output=True, text=True,
                          timeout=60)


def test_the_wheel_ships_the_product_only(product):
    names = zipfile.ZipFile(product["wheel"]).namelist()
    assert {n.split("/")[0] for n in names} == {"remote_training", "rt_tasks", "remote_training-0.1.0.dist-info"}
    meta = zipfile.ZipFile(product["wheel"]).read("remote_training-0.1.0.dist-info/METADATA").decode()
    needs = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    product_needs = [n for n in needs if "extra ==" not in n]
    assert product_needs and not [n for n in product_needs if n.split(">")[0].split("[")[0] in ("moto", "pytest")]


def test_installed_rt_finds_the_users_hosts_file_from_anywhere(product):
    listed = rt(product, "hosts.list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [h["name"] for h in json.loads(listed.stdout)] == ["desktop", "notebook", "vm-train", "vm-train2",
                                                              "vm-train3"]
    table = rt(product, "hosts.list")
    assert str(product["home"] / ".config" / "remote-training" / "hosts.yaml") in table.stdout.replace("\n", "")


def test_installed_rt_lists_no_sandbox_tasks(product):
    listed = rt(product, "--list")
    assert listed.returncode == 0, listed.stderr
    assert "hosts.list" in listed.stdout and "jobs.wait" in listed.stdout
    assert "sandbox." not in listed.stdout and "demo" not in listed.stdout.split()
    from rt_tasks import ns  # this development venv: the same tasks, the sandbox's among them

    assert "sandbox.up" in ns.task_names and "demo" in ns.task_names
