#!/usr/bin/env python3
"""CLI start-up: median of 10 runs of `inv --list` against `inv --version` (target ratio <= 1.5).

`inv --version` loads Invoke only; `inv --list` also imports every task module, so the ratio shows
what the project's own import cost adds. Heavy libraries (boto3, docker, nebius, paramiko) must stay
out of that path. Run from anywhere: the commands run in the repository root.
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


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    timed(["--version"]), timed(["--list"])  # warm the file cache once
    listing, version = [], []
    for _ in range(RUNS):  # interleaved, so load from other processes hits both alike
        version.append(timed(["--version"]))
        listing.append(timed(["--list"]))
    v, l = statistics.median(version), statistics.median(listing)
    ratio = l / v
    print(f"inv --version  median of {RUNS}: {v * 1000:7.1f} ms")
    print(f"inv --list     median of {RUNS}: {l * 1000:7.1f} ms")
    print(f"ratio --list/--version: {ratio:.2f} (target <= {TARGET})  {'OK' if ratio <= TARGET else 'TOO SLOW'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
