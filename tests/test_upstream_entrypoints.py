"""Upstream's verbatim compose files on a sandbox host: every service a typed task runs starts its
program through `uv run ...` exactly as written, and an argument the real program rejects fails the job.
"""
from __future__ import annotations

import shlex
import subprocess
from typing import Any

import pytest

from jobs_fixtures import CHECKOUTS, ROOT  # noqa: F401
from remote_training.jobs import catalog
from remote_training.jobs.project import OVERRIDE, override_text

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


@pytest.mark.parametrize("era, role", CASES)
def test_a_flag_the_real_program_rejects_fails_the_job(era: str, role: str, project, sandbox) -> None:
    folder, checkout = project[era]
    service, program = checkout.role(role)
    run = (f"cd {folder} && CACHE_ROOT=$HOME docker compose -p rt-entrypoints -f docker-compose.yml -f {OVERRIDE} "
           f"run --rm -T {service.name} --no_such_flag=1")
    out = _ssh(sandbox, run)
    text = out.stdout + out.stderr
    assert out.returncode != 0, (service.name, text)
    # It reached upstream's program through `uv run`, which refused the flag the way configuronic does.
    assert "no_such_flag" in text and ("Traceback" in text or "error:" in text), (service.name, text)
