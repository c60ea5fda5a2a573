"""The compose launch command a fixed host runs (targets/host.py opens it, held at its gate, and lets it go).

One remote command does the work in the common case: read the job's
environment (secrets) from its stdin, check the shipped project is there, set
CACHE_ROOT to the host's home, pull the image, then `compose run -d` with the
job's name and labels. Only when the project is missing (exit 97) is it
uploaded and the command run again. Every argument travels quoted.
"""
from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError, RemoteCommandError
from ..fleet.inventory import Host
from ..fleet.remote import RemoteRunner, quote_command
from ..fleet.snapshot import LEASES
from .project import MARKER, OVERRIDE, Project, unpack_argv
from .spec import JobSpec

PROJECT_MISSING = 97
LAUNCH_TIMEOUT_S = 1800.0  # the launch command pulls the image when it is missing: large, but bounded
PULL_FAILED = 98
# $1 project dir, $2 "env" when the job's environment comes on stdin (else empty), $3 image to pull;
# then the compose argv. Stdin is read first, always to its end, so a retry can send it again.
LAUNCH_SCRIPT = (
    'proj=$1 envin=$2 image=$3; shift 3; '
    'if [ -n "$envin" ]; then set -a; . /dev/stdin; set +a; fi; '
    f'[ -f "$proj/{MARKER}" ] || exit {PROJECT_MISSING}; '
    'export CACHE_ROOT="$HOME" COMPOSE_PROJECT_NAME=rt; cd "$proj" || exit 1; '
    # The lease tells vm.reap a launch is under way (pulling) until its container runs.
    f'lease="$HOME/{LEASES}/launch.$$"; mkdir -p "$HOME/{LEASES}" && : >"$lease"; trap \'rm -f "$lease"\' EXIT; '
    # Pushed refs are content tags, which compose pulls only when missing (the override's pull_policy);
    # a moving `:latest` tag is pulled every time, as upstream's `--pull always` would.
    'case $image in *:latest) docker pull -q "$image" >/dev/null || exit ' f'{PULL_FAILED} ;; esac; '
    '"$@" </dev/null'  # compose starts slower on a stdin at its end
)


def labels(spec: JobSpec) -> dict[str, str]:
    """The labels that make a container findable as a job from any laptop."""
    out = {"rt.job": spec.job_id, "rt.service": spec.service, "rt.kind": spec.kind,
           "rt.args": json.dumps(list(spec.args)), "rt.user": spec.user, "rt.started": spec.created,
           "rt.gpu_mem_mb": str(spec.gpu_mem_mb)}
    if spec.port:
        out["rt.port"] = str(spec.port)
    if spec.image:
        out["rt.image"] = spec.image
    if spec.output:
        out["rt.output"] = spec.output
    for key in ("program", "era", "client"):
        if getattr(spec, key):
            out[f"rt.{key}"] = getattr(spec, key)
    return out


def compose_argv(host: Host, spec: JobSpec, env_names: list[str]) -> list[str]:
    """The checkout's compose file as it is, plus our override (image refs) as a second -f."""
    argv = [*host.compose, "-f", "docker-compose.yml", "-f", OVERRIDE, "run", "-d", "--name", spec.job_id]
    for key, value in labels(spec).items():
        argv += ["-l", f"{key}={value}"]
    for key, value in spec.env.items():
        argv += ["-e", f"{key}={value}"]  # non-secret by contract
    for name in env_names:
        argv += ["-e", name]  # value comes from the environment read on stdin, never the command line
    if spec.port:  # only the server's own port, at the host port asked for (not all of the service's ports)
        argv += ["-p", f"{spec.port}:{spec.container_port or spec.port}"]
    return [*argv, spec.service, *spec.args]


def env_file_text(values: Mapping[str, str]) -> str:
    for key in values:
        if not key.replace("_", "").isalnum():
            raise InputError(f"bad environment variable name {key!r}", "use letters, digits and '_'")
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def command(project: Project, host: Host, spec: JobSpec, env_names: list[str]) -> list[str]:
    """The launch command's argv: LAUNCH_SCRIPT over the project folder, the env marker, the image, compose."""
    tail = [project.remote_dir(host.workdir), "env" if env_names else "", spec.image or "",
            *compose_argv(host, spec, env_names)]
    return ["sh", "-c", LAUNCH_SCRIPT, "sh", *tail]


def run_launch(runner: RemoteRunner, host: Host, project: Project, project_dir: str, argv: list[str],
               env_text: str | None, gate: Any) -> tuple[Any, bool]:
    """Run the launch (through the held gate when there is one); ship the project if it is missing."""
    out = gate.go(env_text) if gate else runner.run(host, argv, check=False, stdin=env_text, timeout=LAUNCH_TIMEOUT_S)
    if out.exit_status != PROJECT_MISSING:
        return out, False
    ship(runner, host, project, project_dir)
    return runner.run(host, argv, check=False, stdin=env_text, timeout=LAUNCH_TIMEOUT_S), True


def raise_unless_started(runner: RemoteRunner, host: Host, spec: JobSpec, out: Any) -> None:
    if out.exit_status == PULL_FAILED:
        raise RemoteCommandError(f"{host.name}: pulling {spec.image} failed",
                                 "push the image first (inv images.push) and check the host reaches the registry",
                                 exit_status=out.exit_status, stdout=out.stdout, stderr=out.stderr)
    if not out.ok:
        # compose may have created the container before the start failed: a dead "created" job would
        # look busy to jobs.list and placement, so remove it (best effort).
        runner.run(host, ["docker", "rm", "-f", spec.job_id], check=False, timeout=60)
        raise RemoteCommandError(f"{host.name}: compose run {spec.service} exited {out.exit_status}: "
                                 f"{_reason(out.stderr.strip() or out.stdout.strip())}",
                                 "see the message above; inv jobs.list shows what runs there",
                                 exit_status=out.exit_status, stdout=out.stdout, stderr=out.stderr)


def _reason(text: str) -> str:
    """The line that says why: Compose v2 ends with a bare "failed to start containers: <id>" after the
    daemon's own reason (port already allocated, no such device...)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    daemon = [ln for ln in lines if "Error response from daemon" in ln]
    return (daemon or lines or [""])[-1]


def ship(runner: RemoteRunner, host: Host, project: Project, project_dir: str) -> None:
    """Upload the project as one tarball over SFTP and unpack it into place."""
    tgz = f"{project_dir}.tar.gz"
    runner.run(host, ["mkdir", "-p", str(Path(project_dir).parent)], timeout=30)
    runner.put_text(host, project.tarball(), tgz, mode=0o600)
    runner.run(host, unpack_argv(tgz, project_dir), timeout=120)


def ship_note(project: Project, project_dir: str, commands: list[str]) -> None:
    """What --dry-run shows for the upload that happens only when the host lacks the project."""
    unpack = quote_command(unpack_argv(project_dir + ".tar.gz", project_dir))
    commands.insert(0, f"(only if {project_dir}/{MARKER} is missing) upload project-{project.digest}.tar.gz "
                       f"({len(project.files)} files) and {unpack}")


def replace_running(runner: RemoteRunner, host: Host, service: str) -> list[str]:
    """--replace: stop this service's running jobs on the host (after preflight passed)."""
    from .monitor import host_jobs, stop

    stopped = []
    for job in host_jobs(runner, host):
        if job.service == service and job.running:
            stop(runner, job)
            stopped.append(job.job_id)
    return stopped
