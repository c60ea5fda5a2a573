"""The inference client on this machine, the way the runbook runs it.

`uv run --python V positronic-inference sim ...` with the positronic checkout's root (the folder above
its docker/) as working directory: with the simulator window when there is a display, headless with
EGL otherwise (the variables upstream's own `positronic-inference` compose service sets). The argv is
the `Inference` job's, rendered for the checkout's era (services.py), after the compose service's own
`uv run --python V [--extra X] PROGRAM`. It is not a fleet job: no container, no ledger entry; its
output streams to this terminal and its exit code is the task's. The environment is inherited (secrets
stay there, never on the command line) plus the GL variables.
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from ..errors import InputError, JobFailed
from .catalog import Checkout, Era
from .services import RUNBOOK, Inference

# What upstream's positronic-inference service sets (ENTRYPOINTS.md §3.9 / §3.7): MuJoCo renders offscreen.
HEADLESS_ENV = {"MUJOCO_GL": "egl", "PYOPENGL_PLATFORM": "egl"}
DISPLAY_VARIABLES = ("DISPLAY", "WAYLAND_DISPLAY")


def display_variable(environ: Mapping[str, str]) -> str | None:
    """The display variable that is set (DISPLAY, else WAYLAND_DISPLAY), or None."""
    return next((name for name in DISPLAY_VARIABLES if environ.get(name)), None)


def choose_window(era: Era, *, gui: bool, headless: bool, environ: Mapping[str, str]) -> tuple[bool, str]:
    """(show the simulator window?, why). Default: a window when there is a display (runbook era);
    --headless forces EGL; --gui without a display, or in an era whose client has no window, is refused."""
    if gui and headless:
        raise InputError("--gui and --headless contradict each other",
                         "pass one of them, or neither (a window when DISPLAY or WAYLAND_DISPLAY is set)")
    display = display_variable(environ)
    if headless:
        return False, "--headless"
    if era.name != RUNBOOK:
        if gui:
            raise InputError(f"positronic-inference sim of the {era.label} has no simulator window "
                             "(--driver.show_gui is gone upstream)",
                             "drop --gui: the client renders offscreen with MUJOCO_GL=egl")
        return False, f"the {era.label} client has no window"
    if gui and not display:
        raise InputError("--gui needs a display, and neither DISPLAY nor WAYLAND_DISPLAY is set",
                         "run it in a desktop session, or drop --gui to run headless with MUJOCO_GL=egl")
    if display:
        return True, f"{display} is set"
    return False, "no DISPLAY or WAYLAND_DISPLAY"


@dataclass(frozen=True)
class LocalClient:
    """One planned local run: argv (from `uv`), working directory and what it adds to the environment."""
    argv: tuple[str, ...]
    cwd: Path
    env_add: Mapping[str, str]
    window: bool
    why: str
    era: Era

    def command_line(self) -> str:
        """The exact command, as one shell line (env additions first)."""
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env_add.items())
        return (env + " " if env else "") + shlex.join(self.argv)

    def describe(self) -> list[str]:
        """What runs, where and with which environment: printed before a run and by --dry-run."""
        added = " ".join(f"{k}={v}" for k, v in self.env_add.items()) or "nothing"
        mode = "with the simulator window" if self.window else "headless"
        return [f"# positronic-inference on this machine ({self.era.label}), {mode} ({self.why})",
                f"# cwd: {self.cwd}",
                f"# env: inherited, plus {added}",
                self.command_line()]


def plan(checkout: Checkout, job: Inference, *, gui: bool = False, headless: bool = False,
         environ: Mapping[str, str] | None = None, s3_endpoint: str | None = None) -> LocalClient:
    """The local client for this checkout and job; errors (bad flags, a policy of another era) before anything runs.

    `s3_endpoint`: the fleet's (hosts.yaml `s3:`), which a recording to s3:// gets as AWS_ENDPOINT_URL, as the
    fleet's jobs do, unless this environment names its own."""
    environ = os.environ if environ is None else environ
    window, why = choose_window(checkout.era, gui=gui, headless=headless, environ=environ)
    svc, _ = checkout.role(job.role)
    job = replace(job, gui=window)
    python = svc.python or checkout.era.python
    from .run import checked_argv

    argv = ("uv", "run", "--python", python, *(("--extra", svc.extra) if svc.extra else ()), svc.program,
            *checked_argv(job, checkout, svc))
    root = checkout.compose_dir.parent
    if not root.is_dir():
        raise InputError(f"the positronic checkout {root} is not a folder",
                         "set jobs.compose_project (INVOKE_JOBS_COMPOSE_PROJECT) to a checkout's docker/ folder")
    env_add = {} if window else dict(HEADLESS_ENV)
    if s3_endpoint and (job.output_dir or "").startswith("s3://") and not environ.get("AWS_ENDPOINT_URL"):
        env_add["AWS_ENDPOINT_URL"] = s3_endpoint
    return LocalClient(argv, root, env_add, window, why, checkout.era)


def find_uv(environ: Mapping[str, str] | None = None) -> str:
    """uv's path on this machine's PATH, or one error with the fix."""
    environ = os.environ if environ is None else environ
    found = shutil.which("uv", path=environ.get("PATH", os.defpath))
    if not found:
        raise InputError("uv not found on PATH",
                         "install it (https://docs.astral.sh/uv/), or run the client on a fleet host with --host HOST")
    return found


def run(client: LocalClient, environ: Mapping[str, str] | None = None) -> int:
    """Run it in the foreground, output streaming to this terminal; a non-zero exit raises JobFailed
    carrying that code (the task exits with it)."""
    environ = dict(os.environ if environ is None else environ)
    uv = find_uv(environ)
    proc = subprocess.Popen([uv, *client.argv[1:]], cwd=client.cwd, env={**environ, **client.env_add})
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # the client got the same SIGINT: let it end, then report the interruption
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    if code < 0:
        code = 128 - code  # killed by a signal, as a shell reports it
    if code:
        window = " (no OpenGL context for the window, e.g. no X server at DISPLAY: rerun with --headless)"
        raise JobFailed(f"positronic-inference exited {code}",
                        "read its output above" + (window if client.window else ""), exit_code=code)
    return code
