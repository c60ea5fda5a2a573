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
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from remote_training.errors import RTError
from . import standin_image

STARTED_RE = re.compile(r"^started (\S+) on (\S+)", re.M)
SERVER_RE = re.compile(r"\(job (\S+); stop:", re.M)


# The current era's OpenPI and ACT servers decode the model stubs' zero actions as joint targets (joints_traj); an
# ee pipeline refuses their zero quaternion.
JOINTS_TRAJ = ["--pipeline", "joints_traj"]


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
    era: str = "a060cbea"  # the sandbox positronic checkout whose verbatim compose file runs the jobs
    era_images: bool = False  # the era's job image (upstream's own code) instead of the catalog's stand-ins
    _lane: threading.local = field(default_factory=threading.local, repr=False)  # see `lanes`

    def env(self) -> dict[str, str]:
        sandbox = self.root / ".sandbox"
        env = dict(os.environ)
        env.update({
            "INVOKE_HOSTS_FILE": str(sandbox / "hosts.yaml"),
            "INVOKE_IMAGES_CATALOG": str(self.root / "docker" / "sandbox" / "images.yaml"),
            "INVOKE_IMAGES_REGISTRY": "localhost:5000",
            "INVOKE_IMAGES_ENV_FILE": str(standin_image.env_file(self.root, self.era) if self.era_images
                                          else sandbox / "images.env"),
            "INVOKE_VM_STATE_DIR": str(sandbox / "demo-state"),
            "INVOKE_JOBS_LEDGER": str(sandbox / "demo-state" / "ledger.jsonl"),
            "INVOKE_JOBS_COMPOSE_PROJECT": str(self.root / "docker" / "sandbox" / "checkouts" /
                                               f"positronic-{self.era}" / "docker"),
            # moto accepts any key; these are placeholders, not credentials.
            "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID", "sandbox"),
            "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY", "sandbox"),
            "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION", "us-east-1"),
        })
        env.pop("AWS_ENDPOINT_URL", None)  # the sandbox inventory names its own S3 endpoint
        env["PATH"] = f"{self.standin_uv()}{os.pathsep}{env.get('PATH', os.defpath)}"
        return env

    def standin_uv(self) -> Path:
        """.sandbox/bin/ with a `uv` that runs the sandbox's stand-in of uv on this machine (docker/sandbox/local/uv:
        the era image's uv and upstream's own code, in a container here): the inference client runs on this
        machine, as in the runbook, and finds it first on PATH."""
        folder = self.root / ".sandbox" / "bin"
        standin = self.root / "docker" / "sandbox" / "local" / "uv"
        text = f'#!/bin/sh\nexec "{standin}" "$@"\n'
        wrapper = folder / "uv"
        if not wrapper.is_file() or wrapper.read_text() != text:
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f".uv.{os.getpid()}"
            partial.write_text(text)
            partial.chmod(0o755)
            partial.replace(wrapper)  # atomic: a concurrent demo never runs half a file
        return folder

    def inv(self, name: str, args: Sequence[str], *, host: str = "local", gpu: bool = False,
            refused: str | None = None) -> StepResult:
        """Run one `inv` command, streaming its output, and time it; `refused`: it must fail saying this."""
        argv = [sys.executable, "-m", "invoke", *args]
        self._say(f"\n== {name}: inv {' '.join(args)}\n")
        started = time.monotonic()
        proc = subprocess.Popen(argv, cwd=self.root, env=self.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        captured: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            captured.append(line)
            self._say(line)
        code = proc.wait()
        text = "".join(captured)
        job = (m := STARTED_RE.search(text)) and m[1] or None
        result = StepResult(name, host, time.monotonic() - started, code, gpu, job, text)
        self._record(result)
        if refused is not None:
            if code == 0 or refused not in text:
                raise RTError(f"demo step {name!r} should have been refused ({refused!r})", "read its output above")
            result.exit_code = 0  # refused as it must be: a passed step
            return result
        if code != 0:
            raise RTError(f"demo step {name!r} failed (exit {code})", "read its output above; inv doctor may say why")
        return result

    def _say(self, text: str) -> None:
        """Print now, or, inside a lane, into its block (printed whole when the lane ends)."""
        held = getattr(self._lane, "held", None)
        if held is None:
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            held.append(text)

    def _record(self, result: StepResult) -> None:
        getattr(self._lane, "results", self.results).append(result)

    def lanes(self, *work: tuple[str, Callable[[], None]]) -> None:
        """Run parts of the pipeline that share no host at once (so no GPU, port, server or output either):
        each lane's output is held and printed whole when it ends, so every step still reads as one block, and
        its steps join the summary in lane order. A failed lane stops only itself; the first failure is raised
        once every lane has ended."""
        ended: list[tuple[list[StepResult], BaseException | None]] = [([], None)] * len(work)
        printing = threading.Lock()

        def lane(index: int, part: Callable[[], None]) -> None:
            self._lane.held, self._lane.results = [], []
            error: BaseException | None = None
            try:
                part()
            except BaseException as exc:  # noqa: BLE001 - raised in the main thread once all have ended
                error = exc
            with printing:
                sys.stdout.write("".join(self._lane.held))
                sys.stdout.flush()
            ended[index] = (self._lane.results, error)

        self._say(f"\n-- at once: {', '.join(name for name, _ in work)} (each printed whole when it ends)\n")
        threads = [threading.Thread(target=lane, args=(i, part), name=f"demo-{name}", daemon=True)
                   for i, (name, part) in enumerate(work)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for results, _ in ended:
            self.results.extend(results)
        failed = [error for _, error in ended if error is not None]
        if failed:
            raise failed[0]

    # -- the runbook, in order --------------------------------------------------------
    def pipeline(self, eras: Sequence[str] = ("4261b1aa", "a060cbea")) -> None:
        vm = self.vm
        self.inv("images", ["images.push"])
        self.inv("vm stopped (setup)", ["vm.stop", "--host", vm, "--force"], host=vm)
        self.results.pop()  # setting the stage is not part of the pipeline's bill
        self.inv("vm.start", ["vm.start", "--host", vm], host=vm)
        for era in eras:  # the same tasks through each era's verbatim compose file, on its job image
            self.era, self.era_images = era, True
            self.era_image()
            # The serverless pass (upstream's current workflow, the `cloud` target) shares no host with the fleet:
            # it runs beside the current era's lanes.
            self.chain(also=[("cloud", self.serverless)] if era == "a060cbea" else [])
        if "a060cbea" not in eras:
            self.serverless()
        self.inv("jobs.list", ["jobs.list"])
        self.inv("jobs.history", ["jobs.history"])
        # Two samples a few seconds apart prove the VM idle for a short window, as cron would over 30 minutes.
        self.inv("vm.reap (sample)", ["vm.reap", "--idle", "3s", "--host", vm], host=vm)
        time.sleep(4)
        self.inv("vm.reap", ["vm.reap", "--idle", "3s", "--host", vm], host=vm)
        status = self.inv("vm.status", ["vm.status", "--host", vm, "--json"], host=vm)
        state = json.loads(status.output)[0]["state"]
        if state != "STOPPED":
            status.exit_code = 1
            raise RTError(f"vm.reap left {vm} {state}, not STOPPED", "read the reap table above for its reason")
        self.inv("jobs.history --cost", ["jobs.history", "--cost"])  # each job's cost; fixed VMs against serverless

    def era_image(self) -> None:
        """The era's job image (upstream's checkout, its locked packages, stubs at the model layer), built if
        needed and pushed to the sandbox registry, named for every service in the era's images env file."""
        self.echo(f"\n== [{self.era}] job image")
        started = time.monotonic()
        self.echo(standin_image.ensure_named(self.root, self.era))
        self._record(StepResult(f"[{self.era}] job image", "local", time.monotonic() - started, 0, False))

    def chain(self, also: Sequence[tuple[str, Callable[[], None]]] = ()) -> None:
        """convert and stats; then at once (`lanes`) the VM's lane (train GR00T and OpenPI, each server with the
        client against it), the desktop's (ACT's own conversion, its training and server) and `also`."""
        vm, era, run = self.vm, self.era, f"{self.run_id}-{self.era}"
        base = f"demo/{run}"
        data, stats = f"s3://interim/{base}/groot_rot6d_q/", f"s3://interim/{base}/openpi_stats/"
        groot, openpi, act = (f"s3://checkpoints/{base}/{name}/" for name in ("groot", "openpi", "act"))
        runbook = era == "4261b1aa"
        recipe = (["--dataset", "@positronic.cfg.phail.sim_stack_groot_ft", "--observation", ".groot_rot6d_joints",
                   "--action", ".groot_rot6d", "--fps", "15"] if runbook else
                  ["--dataset", "@positronic.cfg.ds.internal.sim_stack",  # sim_stack_cubes reads a public
                   "--codec", "@positronic.vendors.gr00t.codecs.ee_rot6d_joints"])  # bucket the sandbox cannot reach
        step = f"[{era}] "
        self.inv(step + "dataset.convert", ["dataset.convert", "--host", "desktop", *recipe, "--output", data,
                                            "--wait"], host="desktop", gpu=True)
        self.inv(step + "dataset.stats", ["dataset.stats", "--host", "desktop", "--input", data, "--output", stats,
                                          "--wait"], host="desktop", gpu=True)
        self.lanes((vm, lambda: self._vm_lane(step, data, stats, groot, openpi, run)),
                   ("desktop", lambda: self._desktop_lane(step, base, act, run)), *also)

    def _vm_lane(self, step: str, data: str, stats: str, groot: str, openpi: str, run: str) -> None:
        vm, runbook = self.vm, self.era == "4261b1aa"
        self.inv(step + "train.groot", ["train.groot", "--host", vm, "--input", data, "--output", groot,
                                        "--exp-name", run, "--modality", "ee_rot6d_q", "--steps", "2000",
                                        "--save-steps", "500", "--wait"], host=vm, gpu=True)
        self.inv(step + "train.openpi", ["train.openpi", "--host", vm, "--input", data, "--stats",
                                         f"{stats}assets/", "--output", openpi, "--exp-name", run, "--steps", "1000",
                                         "--wait"], host=vm, gpu=True)
        self.serve(step + "serve.groot", ["serve.groot", "--checkpoints", f"{groot}{run}/", "--modality",
                                          "ee_rot6d_q"], vm)
        pipeline = [] if runbook else JOINTS_TRAJ
        self.serve(step + "serve.openpi", ["serve.openpi", "--checkpoints",
                                           f"{openpi}pi05_positronic_lowmem/{run}/", *pipeline], vm)

    def _desktop_lane(self, step: str, base: str, act: str, run: str) -> None:
        runbook = self.era == "4261b1aa"
        # ACT trains on a conversion of its own shape (`observation.state`, `observation.images.*`): lerobot's
        # make_policy reads the runbook GR00T conversion's images without their `names` (KeyError), and the
        # current one's image keys are not ones upstream's ACT server makes channels-first for its policy.
        # The current era's is joints_traj: the ACT stub's zero actions decode as joint targets, where the ee
        # codec's zero quaternion is refused, and upstream's own client runs a trial against its server.
        act_data = f"s3://interim/{base}/act/"
        act_recipe = (["--dataset", "@positronic.cfg.phail.sim_stack_groot_ft", "--observation", ".eepose",
                       "--action", ".absolute_position", "--fps", "15"] if runbook else
                      ["--dataset", "@positronic.cfg.ds.internal.sim_stack",
                       "--codec", "@positronic.vendors.lerobot_0_3_3.codecs.joints_traj"])
        self.inv(step + "dataset.convert (act)", ["dataset.convert", "--host", "desktop", *act_recipe, "--output",
                                                  act_data, "--wait"], host="desktop", gpu=True)
        act_codec = [] if runbook else ["--codec", ".joints_traj"]
        self.inv(step + "train.lerobot", ["train.lerobot", "--host", "desktop", "--input", act_data, "--output", act,
                                          "--exp-name", run, "--steps", "1000", *act_codec, "--wait"],
                 host="desktop", gpu=True)
        lerobot = ["serve.lerobot", "--checkpoints", f"{act}{run}/", *([] if runbook else JOINTS_TRAJ)]
        if runbook:  # upstream added the LeRobot server after the runbook: refused, naming the era
            self.inv(step + "serve.lerobot (refused)", [*lerobot, "--host", "desktop"], host="desktop",
                     refused="runbook era")
        else:
            self.serve(step + "serve.lerobot", lerobot, "desktop")

    def serverless(self) -> None:
        """The current era on the `cloud` target (Nebius Serverless stand-in): convert, train, serve, the
        client against the endpoint's HTTPS URL, delete; then what every step cost, fixed against serverless."""
        if (self.era, self.era_images) != ("a060cbea", True):  # the serverless workflow is upstream's current one
            self.era, self.era_images = "a060cbea", True
            self.era_image()
        run = f"{self.run_id}-cloud"
        data, groot = f"s3://interim/demo/{run}/groot/", f"s3://checkpoints/demo/{run}/groot/"
        step = "[cloud] "
        # internal.sim_stack: the sandbox's recording (sim_stack_cubes reads a public bucket it cannot reach)
        self.inv(step + "dataset.convert", ["dataset.convert", "--host", "cloud", "--dataset",
                                            "@positronic.cfg.ds.internal.sim_stack", "--codec",
                                            "@positronic.vendors.gr00t.codecs.ee_rot6d_joints", "--output", data,
                                            "--wait"], host="cloud")
        self.inv(step + "train.groot", ["train.groot", "--host", "cloud", "--input", data, "--output", groot,
                                        "--exp-name", run, "--modality", "ee_rot6d_q", "--steps", "2000",
                                        "--save-steps", "500", "--wait"], host="cloud", gpu=True)
        self.serve(step + "serve.groot", ["serve.groot", "--checkpoints", f"{groot}{run}/", "--modality",
                                          "ee_rot6d_q"], "cloud")

    def serve(self, name: str, args: list[str], host: str) -> None:
        """Start a server, run the simulation client against it, stop it; bill the server's GPU time."""
        served = self.inv(name, [*args, "--host", host, *([] if host == "cloud" else ["--replace"])], host=host)
        started = time.monotonic()
        server = (m := SERVER_RE.search(served.output)) and m[1] or served.job
        if not server:
            raise RTError(f"{args[0]} printed no job id", "run inv jobs.list to see what started")
        # Upstream's own client, recording its trial (its dataset writer, synced to S3 by pos3): the current era's on
        # the server's fleet host (its positronic-inference service); the runbook era's and the serverless one's here,
        # as the runbook runs it (the sandbox's local uv: the era image's client in a container on this machine).
        fleet = self.era == "a060cbea" and self.era_images and host != "cloud"
        run = f"{self.run_id}-{'cloud' if host == 'cloud' else self.era}"
        record = f"s3://interim/demo/{run}/sim-{args[0].removeprefix('serve.')}/"
        self.inv(name.replace("serve.", "infer.sim vs "), ["infer.sim", "--server", server, "--simulation-time", "3",
                                                          "--output-dir", record, *(["--host", host] if fleet else [])],
                 host=host if fleet else "local")
        stop = self.inv(name.replace("serve.", "serve.stop "), ["serve.stop", server], host=host)
        self._record(StepResult(name.replace("serve.", "server up: "), host,
                                time.monotonic() - started - stop.seconds, 0, True, server))

    def summary_rows(self, usd: Callable[[StepResult], float | None] = lambda r: None) -> list[tuple[str, ...]]:
        """One row per step: seconds, GPU-hours, what it cost (`usd`: the step's price, None when unpriced)."""
        def money(value: float | None) -> str:
            return "" if value is None else f"${value:.4f}"

        costs = [usd(r) for r in self.results]
        rows = [(r.name, r.host, f"{r.seconds:.1f}", f"{r.gpu_hours:.5f}" if r.gpu else "", money(cost),
                 "ok" if r.exit_code == 0 else f"exit {r.exit_code}") for r, cost in zip(self.results, costs)]
        total = sum(r.seconds for r in self.results if "server up" not in r.name)
        priced = [c for c in costs if c is not None]
        rows.append(("total", "", f"{total:.1f}", f"{sum(r.gpu_hours for r in self.results):.5f}",
                     money(sum(priced)) if priced else "", ""))
        return rows
