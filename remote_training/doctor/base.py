"""The doctor's vocabulary: a check, its result, the settings all checks share."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

OK, WARN, FAIL = "ok", "warn", "fail"
Verdict = tuple[str, str, str]  # (status, what was found or is wrong, the fix)


@dataclass(frozen=True)
class CheckResult:
    check: str  # e.g. "ssh", "gpu_memory"
    target: str  # "local", a host name, or a bucket
    status: str  # ok | warn | fail
    summary: str  # what was found, or what is wrong
    fix: str = ""  # the exact command (or step) that fixes it
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DoctorSettings:
    ports: tuple[int, ...] = (8000, 9000)
    buckets: tuple[str, ...] = ("interim", "checkpoints")
    gpu_need_mb: int = 6144  # a GR00T server holds about 6 GB
    needs_h100: bool = False  # the job about to run only goes to H100 hosts (e.g. groot-train)
    timeout: float = 20.0  # per check, from the moment it starts
    connect_timeout: float = 5.0
    workers: int = 8
    compose_project: str = ""  # positronic's docker/ folder the jobs run ("" when it could not be worked out)


@dataclass(frozen=True)
class Check:
    name: str
    target: str
    run: Callable[[], Verdict]


def short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
