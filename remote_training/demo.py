"""The demo: the seed's whole runbook, run as a user would type it, against the sandbox fleet.

Each step is a real `inv ...` command in a child process (the CLI is what the
demo shows), pointed at the sandbox through the INVOKE_* variables. The demo
stops at the first failed step and says which; the summary tells what ran
where, how long it took and what it would have cost in GPU-hours.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .errors import RTError

STARTED_RE = re.compile(r"^started (\S+) on (\S+)", re.M)
SERVER_RE = re.compile(r"\(job (\S+); stop:", re.M)


@dataclass
class StepResult:
    name: str
    host: str
    seconds: float
    exit_code: int
    gpu: bool  # the step held a GPU on its host for its whole duration
    job: str | None = None
    output: str = ""

    @property
    def gpu_hours(self) -> float:
        return self.seconds / 3600 if self.gpu and self.exit_code == 0 else 0.0


@dataclass
class DemoRun:
    """One pass of the pipeline; `run_id` keeps its S3 paths apart from earlier passes."""

    root: Path
    run_id: str
    vm: str = "vm-train3"
    echo: Callable[[str], None] = print
    results: list[StepResult] = field(default_factory=list)
    server_job: str | None = None
    server_started: float = 0.0

    def env(self) -> dict[str, str]:
        sandbox = self.root / ".sandbox"
        env = dict(os.environ)
        env.update({
            "INVOKE_HOSTS_FILE": str(sandbox / "hosts.yaml"),
            "INVOKE_IMAGES_CATALOG": str(self.root / "docker" / "sandbox" / "images.yaml"),
            "INVOKE_IMAGES_REGISTRY": "localhost:5000",
            "INVOKE_IMAGES_ENV_FILE": str(sandbox / "images.env"),
            "RT_STATE_DIR": str(sandbox / "demo-state"),
            "RT_LEDGER": str(sandbox / "demo-state" / "ledger.jsonl"),
            # moto accepts any key; these are placeholders, not credentials.
            "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID", "sandbox"),
            "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY", "sandbox"),
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
        })
        env.pop("AWS_ENDPOINT_URL", None)  # the sandbox inventory names its own S3 endpoint
        return env

    def inv(self, name: str, args: Sequence[str], *, host: str = "local", gpu: bool = False) -> StepResult:
        """Run one `inv` command, streaming its output, and time it."""
        argv = [sys.executable, "-m", "invoke", *args]
        self.echo(f"\n== {name}: inv {' '.join(args)}")
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=self.root, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        captured: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            captured.append(line)
            sys.stdout.write(line)
            sys.stdout.flush()
        code = proc.wait()
        text = "".join(captured)
        job = (m := STARTED_RE.search(text)) and m[1] or None
        result = StepResult(name, host, time.monotonic() - started, code, gpu, job, text)
        self.results.append(result)
        if code != 0:
            raise RTError(f"demo step {name!r} failed (exit {code})", "read its output above; inv doctor may say why")
        return result

    # -- the runbook, in order --------------------------------------------------------
    def pipeline(self) -> None:
        data = f"s3://interim/demo/{self.run_id}/groot_rot6d_q/"
        assets = f"s3://interim/demo/{self.run_id}/openpi_assets/"
        checkpoints = f"s3://checkpoints/demo/{self.run_id}/groot_rot6d_q/"
        vm = self.vm
        self.inv("images", ["images.push"])
        self.inv("vm stopped (setup)", ["vm.stop", "--host", vm, "--force"], host=vm)
        self.results.pop()  # setting the stage is not part of the pipeline's bill
        self.inv("vm.start", ["vm.start", "--host", vm], host=vm)
        self.inv("dataset.convert", ["dataset.convert", "--host", "desktop",
                                     "--dataset", "@positronic.cfg.phail.sim_stack_groot_ft",
                                     "--observation", ".groot_rot6d_joints", "--action", ".groot_rot6d",
                                     "--output", data, "--fps", "15", "--wait"], host="desktop", gpu=True)
        self.inv("dataset.stats", ["dataset.stats", "--host", "desktop", "--input", data, "--output", assets,
                                   "--wait"], host="desktop", gpu=True)
        self.inv("train.groot", ["train.groot", "--host", vm, "--input", data, "--output", checkpoints,
                                 "--exp-name", self.run_id, "--modality", "ee_rot6d_q", "--steps", "2000",
                                 "--save-steps", "500", "--wait"], host=vm, gpu=True)
        served = self.inv("serve.groot", ["serve.groot", "--host", vm, "--checkpoints",
                                          f"{checkpoints}{self.run_id}/", "--modality", "ee_rot6d_q",
                                          "--port", "9000", "--replace"], host=vm)
        self.server_job, self.server_started = served.job, time.monotonic()
        if not self.server_job:
            raise RTError("serve.groot printed no job id", "run inv jobs.list to see what started")
        self.inv("infer.sim", ["infer.sim", "--server", self.server_job, "--simulation-time", "3"], host=vm)
        self.inv("jobs.list", ["jobs.list"])
        self.inv("jobs.history", ["jobs.history"])
        stop = self.inv("serve.stop", ["serve.stop", self.server_job], host=vm)
        # The server held a GPU from its start until it was stopped.
        self.results.append(StepResult("server up", vm, time.monotonic() - self.server_started - stop.seconds,
                                       0, True, self.server_job))
        # Two samples a few seconds apart prove the VM idle for a short window, as cron would over 30 minutes.
        self.inv("vm.reap (sample)", ["vm.reap", "--idle", "3s", "--host", vm], host=vm)
        time.sleep(4)
        self.inv("vm.reap", ["vm.reap", "--idle", "3s", "--host", vm], host=vm)
        status = self.inv("vm.status", ["vm.status", "--host", vm, "--json"], host=vm)
        state = json.loads(status.output)[0]["state"]
        if state != "STOPPED":
            status.exit_code = 1
            raise RTError(f"vm.reap left {vm} {state}, not STOPPED", "read the reap table above for its reason")

    def summary_rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = [(r.name, r.host, f"{r.seconds:.1f}", f"{r.gpu_hours:.5f}" if r.gpu else "",
                 "ok" if r.exit_code == 0 else f"exit {r.exit_code}") for r in self.results]
        total = sum(r.seconds for r in self.results if r.name != "server up")
        rows.append(("total", "", f"{total:.1f}", f"{sum(r.gpu_hours for r in self.results):.5f}", ""))
        return rows
