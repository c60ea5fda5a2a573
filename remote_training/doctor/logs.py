"""Known log patterns: runbook issues that are code bugs, not machine state.

`inv doctor` cannot see these on a machine; they show up in a job's log.
`explain_log(text)` names the ones found and their fix (the parquet
object-array error of dataset conversion is the runbook's example).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .base import FAIL, OK, Verdict


@dataclass(frozen=True)
class LogPattern:
    name: str
    regex: re.Pattern[str]
    meaning: str
    fix: str


LOG_PATTERNS: tuple[LogPattern, ...] = (
    LogPattern("parquet-object-array", re.compile(r"ValueError: setting an array element with a sequence"),
               "dataset conversion wrote a column of per-row arrays as an object array",
               "in positronic/dataset/vector.py convert the object array with np.stack() to a 2-D array, "
               "rebuild (inv images.push) and rerun the conversion"),
    LogPattern("cuda-oom", re.compile(r"CUDA out of memory|CUDA error: out of memory|OutOfMemoryError"),
               "the GPU had too little free memory (a GR00T server needs about 6 GB)",
               "inv doctor --host HOST to see what holds the GPU, then inv jobs.stop JOB or pick another host"),
    LogPattern("port-allocated", re.compile(r"port is already allocated|address already in use", re.IGNORECASE),
               "another container already publishes the server's port",
               "inv doctor --host HOST names the container; stop it (inv serve.stop JOB) or use --port"),
    LogPattern("gladloadgl", re.compile(r"gladLoadGL|GLFW.*(?:DISPLAY|X11)|Failed to initialize GLFW"
                                          r"|OpenGL platform library has not been loaded"),  # MuJoCo 3's
               "MuJoCo tried to open a window on a machine without a display",
               "export MUJOCO_GL=egl (inv infer.sim without --gui sets it)"),
)


def explain_log(text: str) -> list[LogPattern]:
    """The known problems whose signature appears in a job's log, in table order."""
    return [p for p in LOG_PATTERNS if p.regex.search(text)]


def check_log_text(text: str, source: str) -> Verdict:
    """A doctor verdict for one log: fail naming each known problem found, with its fix."""
    hits = explain_log(text)
    if not hits:
        return OK, f"{source}: no known problem in {len(text.splitlines())} log lines", ""
    first_line = next((ln for ln in text.splitlines() if hits[0].regex.search(ln)), "").strip()
    summary = f"{source}: {'; '.join(h.meaning for h in hits)} (log: {first_line[:120]})"
    return FAIL, summary, "; ".join(h.fix for h in hits)


def check_job_log(runner: Any, inventory: Any, ref: str, tail: int = 5000) -> Verdict:
    """Fetch a job's log from whichever host runs it and look for the known problems."""
    from ..jobs import monitor

    job = monitor.find_job(runner, inventory.hosts, ref)
    text = monitor.logs(runner, job, tail=tail)
    ended = "running" if job.running else f"exited {job.exit_code}"
    return check_log_text(text, f"job {job.job_id} on {job.host} ({ended})")


def check_log_file(path: str) -> Verdict:
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError as exc:
        return (FAIL, f"cannot read {path}: {exc.strerror or exc}",
                "give the path of a saved log (inv jobs.logs JOB > job.log)")
    return check_log_text(text, path)
