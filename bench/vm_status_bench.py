#!/usr/bin/env python3
"""Fleet status: `inv vm.status` over 8 sandbox hosts against the same over 1 host (target ratio <= 1.3).

Every host's nvidia-smi stand-in waits 1 s (`--smi-delay 1`), as a slow real
query would. The seed checked its machines one after the other, which makes the
ratio about 8; vm.status checks them all at once, so 8 hosts should cost about
what 1 does.

WARNING: this resizes the SHARED sandbox (sandbox.up --hosts 8 --smi-delay 1) and
restores the default (4 hosts, no delay) at the end, even on failure. Tests of
other people running meanwhile may see extra hosts or a slow nvidia-smi. Run it
when nobody else is testing, e.g. `make bench` at the end of a session.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
TARGET = 1.3
ENV = {**os.environ, "INVOKE_HOSTS_FILE": str(ROOT / ".sandbox" / "hosts.yaml")}


def inv(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=600)


def median_status_seconds(hosts: list[str]) -> float:
    args = ["vm.status", "--json", *[f"--host={h}" for h in hosts]]
    first = inv(*args)  # warm-up, and a check that every host answered
    rows = json.loads(first.stdout)
    bad = [r["name"] for r in rows if not r["reachable"] or r["gpu_util_pct"] is None]
    if first.returncode != 0 or bad or len(rows) != len(hosts):
        raise SystemExit(f"vm.status failed (rc {first.returncode}, unreachable: {bad}): {first.stderr[-500:]}")
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        inv(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    print("WARNING: resizing the shared sandbox to 8 hosts with a 1 s nvidia-smi delay; "
          "it is restored to 4 hosts afterwards", file=sys.stderr)
    try:
        up = inv("sandbox.up", "--hosts", "8", "--smi-delay", "1")
        if up.returncode != 0:
            raise SystemExit(f"sandbox.up --hosts 8 failed: {up.stderr[-500:]}")
        every = [f"vm-train{'' if i == 1 else i}" for i in range(1, 8)]
        eight = ["desktop", *every]
        one = median_status_seconds(["vm-train"])
        many = median_status_seconds(eight)
    finally:
        restore = inv("sandbox.up", "--hosts", "4", "--smi-delay", "0")
        print(f"sandbox restored to 4 hosts (rc {restore.returncode})", file=sys.stderr)
    ratio = many / one
    print(f"vm.status, median of {RUNS} runs, nvidia-smi delay 1 s per host")
    print(f"  1 host : {one:.2f} s")
    print(f"  8 hosts: {many:.2f} s")
    print(f"  ratio  : {ratio:.2f} (target <= {TARGET}; a loop over hosts would be about 8)")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
