#!/usr/bin/env python3
"""CLI start-up: median of 10 runs of `inv --list` against `inv --version` (target ratio <= 1.5).

`inv --version` loads Invoke only; `inv --list` also imports every task module (and tasks/program.py,
which `inv` adopts), so the ratio shows what the project's own import cost adds. Heavy libraries (boto3,
docker, nebius, paramiko) must stay out of that path. `rt --list` (the console entry point, run here as
`python3 -m tasks`) is timed too, against the same `inv --version`: it imports the tasks before parsing
anything. Run from anywhere: the commands run in the repository root.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 10
TARGET = 1.5
INV = [sys.executable, "-m", "invoke"]
RT = [sys.executable, "-m", "rt_tasks"]


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    runs = {"inv --version": [*INV, "--version"], "inv --list": [*INV, "--list"], "rt --list": [*RT, "--list"]}
    for command in runs.values():
        timed(command)  # warm the file cache once
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(RUNS):  # interleaved, so load from other processes hits all alike
        for name, command in runs.items():
            times[name].append(timed(command))
    median = {name: statistics.median(t) for name, t in times.items()}
    for name, value in median.items():
        print(f"{name:14} median of {RUNS}: {value * 1000:7.1f} ms")
    ok = True
    for name in ("inv --list", "rt --list"):
        ratio = median[name] / median["inv --version"]
        ok &= ratio <= TARGET
        verdict = "OK" if ratio <= TARGET else "TOO SLOW"
        print(f"ratio {name}/inv --version: {ratio:.2f} (target <= {TARGET})  {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
