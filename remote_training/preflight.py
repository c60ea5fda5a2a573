"""Preflight: every check a launch needs, run together, all failures reported at once.

`run_preflight(spec, runner, inventory)` reads a JobSpec (remote_training/jobs/spec.py)
and raises PreflightError with one (check, problem, fix) row per failure, or
returns a PreflightReport (the host state it saw, the latest checkpoint it resolved,
the image digest, notes). It only reads: nothing is created on any host (the one write is the
output's claim, asked for by the caller); a stopped VM the job needs is reported (`startable`),
and the launch path starts it.
"""
from __future__ import annotations

import re
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from . import placement, storage, validate
from .errors import InputError, PreflightError, RTError
from .inventory import Host, Inventory

Row = tuple[str, str, str]  # (check, problem, fix)


@dataclass
class PreflightReport:
    spec: Any
    host_state: placement.HostState | None = None
    placement: placement.Placement | None = None
    checkpoint: storage.Checkpoint | None = None
    image_digest: str | None = None
    replaces: tuple[str, ...] = ()  # job ids that --replace will stop
    startable: str | None = None  # the job's host is a stopped VM its provider can start
    notes: list[str] = field(default_factory=list)


def check_arguments(spec: Any) -> list[Row]:
    """Pure checks of everything the user typed: names against the seed's tables, shapes of values."""
    rows: list[Row] = []

    def bad(exc: RTError) -> None:
        rows.append(("arguments", exc.message, exc.fix or "correct the argument"))

    for arg in spec.args:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in arg):
            rows.append(("arguments", f"argument {arg!r} contains control characters", "remove newlines and tabs"))
    options = dict(spec.options)
    if spec.exp_name is not None:
        options.setdefault("exp_name", spec.exp_name)
    if spec.port is not None:
        options["port"] = spec.port
    for exc in validate.check_options(options):
        bad(exc)
    for url in (*spec.inputs, *([spec.output] if spec.output else [])):
        try:
            validate.s3_url(url)
        except InputError as exc:
            if not any(exc.message == r[1] for r in rows):
                bad(exc)
    if spec.resume and spec.force:
        rows.append(("arguments", "--resume and --force both given",
                     "use --resume to continue the run, or --force to start over"))
    return rows


# -- host, GPU and port ----------------------------------------------------------------
def check_port(snap: Any, host: Host, spec: Any, report: PreflightReport) -> list[Row]:
    """The port from the host's snapshot (snapshot.HostSnapshot): containers publishing it, else a
    process outside docker listening on it (ss); reads nothing itself."""
    if spec.port is None:
        return []
    holders = snap.holders(spec.port)
    rows: list[Row] = []
    for holder in holders:
        container, job, service = holder.name, holder.job_id, holder.service
        who = f"container {container}" + (f" (job {job}, {service})" if job else "")
        if job and spec.replace and service == spec.service:
            report.notes.append(f"--replace: {who} will be stopped to free port {spec.port}")
            continue  # --replace stops this service's jobs on the host (jobs/launch.py)
        if job and service == spec.service:
            fix = f"add --replace to stop {job} first, or choose another --port"
        elif job:
            fix = f"stop it first (inv jobs.stop {job}) or choose another --port"
        else:
            fix = f"stop {container} on {host.name} (docker stop {container}) or choose another --port"
        rows.append(("port", f"port {spec.port} on {host.name} is held by {who}", fix))
    if not holders and snap.listens(spec.port):
        rows.append(("port", f"port {spec.port} on {host.name} is taken by a process outside docker",
                     "free it on the host or choose another --port"))
    return rows


def check_host(runner: Any, inventory: Inventory, spec: Any, report: PreflightReport,
               power: Callable[[Host], str] | None = None, dry_run: bool = False,
               probed: Callable[[], tuple[str, int] | None] | None = None) -> list[Row]:
    """`probed`: gives the snapshot's (output, status) when the launch command takes it on the host.
    A stopped VM that its provider can start is one row, and `report.startable` names it: starting
    it is the launch path's step (guard.before_launch), once everything else passed."""
    try:
        host = inventory.get(spec.host)
    except RTError as exc:
        return [("host", exc.message, exc.fix or "name a host from hosts.yaml")]
    rule = placement.rule(spec.program) if spec.program in placement.RULES else None
    need = spec.gpu_mem_mb or (rule.gpu_mem_mb if rule else 0)
    why = placement.eligibility(spec.program, host, need) if rule else None
    if why:
        h100 = [h.name for h in inventory.hosts if placement.is_h100(h)]
        fix = f"use --host auto or one of: {', '.join(h100)}" if rule and rule.needs_h100 else "use a larger host"
        return [("host", why, fix)]
    power = power or placement.provider_power(inventory)
    state = placement.probe(runner, host, power, probed=probed)
    if state.power != "running" and state.startable and dry_run:
        report.notes.append(f"{host.name} is {state.power}; a real launch starts it first (GPU and port unchecked)")
        return []
    report.host_state = state
    if state.power != "running" and state.startable:
        report.startable = host.name
    if state.power != "running":
        fix = (f"start it: inv vm.start {host.name}" if state.startable
               else f"check that {host.name} is on and its sshd answers")
        return [("host", f"{host.name} is {state.power}" + (f": {state.detail}" if state.detail else ""), fix)]
    if spec.replace:
        report.replaces = tuple(j.job_id for j in state.jobs if j.service == spec.service)
    rows = check_port(state.snapshot, host, spec, report) if state.snapshot is not None else []
    freed = sum(j.gpu_mem_mb for j in state.jobs if j.job_id in report.replaces)
    if freed:
        state = replace(state, gpu_used_mb=(state.gpu_used_mb or 0) - freed,
                        jobs=tuple(j for j in state.jobs if j.job_id not in report.replaces))
    problem = placement.memory_problem(state, need)
    if problem:
        rows.append(("gpu memory", problem, "stop a job there (inv jobs.stop), or pick another host (--host auto)"))
    return rows


# -- S3 ------------------------------------------------------------------------------
def check_inputs(s3: Any, spec: Any, report: PreflightReport) -> list[Row]:
    rows: list[Row] = []
    checkpoints_dir = spec.checkpoints if spec.kind == "serve" and spec.layout else None
    for url in spec.inputs:
        if url == checkpoints_dir:
            continue  # checked below, with the checkpoint it resolves to
        if not storage.exists(s3, url):
            rows.append(("inputs", f"{url} does not exist", "check the path (aws s3 ls) or create it first "
                         "(inv dataset.convert / dataset.stats)"))
    if checkpoints_dir:
        rows += _check_checkpoint(s3, spec, checkpoints_dir, spec.checkpoint, report)
    return rows


def _check_checkpoint(s3: Any, spec: Any, folder: str, wanted: Any, report: PreflightReport) -> list[Row]:
    layout = spec.layout
    latest = storage.latest_checkpoint(s3, folder, layout)
    if latest is None:
        return [("inputs", f"no checkpoint under {folder} ({layout} layout)",
                 "point --checkpoints at the run folder that holds the checkpoints, e.g. .../<exp_name>/")]
    report.checkpoint = latest
    if isinstance(wanted, str) and wanted:
        # LeRobot servers take the exact (zero-padded) folder name; GR00T and OpenPI a step number.
        step = re.sub(r"^checkpoint-", "", wanted)
        name = wanted if layout == "lerobot" else f"checkpoint-{int(step)}" if layout == "groot" else str(int(step))
        base = folder if folder.endswith("/") else folder + "/"
        url = base + ("checkpoints/" if layout == "lerobot" else "") + name + "/"
        if not storage.exists(s3, url):
            name = latest.name if layout == "lerobot" else latest.step
            return [("inputs", f"checkpoint {wanted} not found under {folder} (latest is {latest.name})",
                     f"use --checkpoint {name}, or leave it out for the latest")]
        report.notes.append(f"checkpoint: {url}")
    else:
        report.notes.append(f"latest checkpoint: {latest.url} (step {latest.step})")
    return []


def check_output(s3: Any, spec: Any, report: PreflightReport, claim: dict[str, Any] | None = None) -> list[Row]:
    """Is the run folder free (or joined with --resume/--force)? With `claim` ({"entry": launch record}),
    a free folder is claimed at once: its run.json is written before the job starts, and
    claim["url"] says so (the caller takes it back if the launch does not go ahead)."""
    rows = _output_rows(s3, spec, report)
    if rows or claim is None or not spec.run_folder or spec.kind not in ("train", "convert", "stats"):
        return rows
    from .ledger import record_url

    url = record_url(spec.run_folder)
    try:
        storage.claim_run(s3, url, claim["entry"], append=bool(spec.resume or spec.force), folder=spec.run_folder)
    except storage.ClaimTaken as exc:
        return [("output", exc.message, exc.fix or "choose another --exp-name")]
    except RTError as exc:  # a claim that cannot be written stops the launch: the output would be unguarded
        return [("output", f"could not claim {spec.run_folder}: {exc.message}", exc.fix or "check S3 and retry")]
    claim["url"] = url
    return []


def _output_rows(s3: Any, spec: Any, report: PreflightReport) -> list[Row]:
    if not spec.run_folder or spec.kind not in ("train", "convert", "stats"):
        return []
    from .ledger import record_url

    folder = spec.run_folder
    bucket, key = validate.split_s3(folder)
    answer = storage._call(s3.list_objects_v2, f"checking {folder}", Bucket=bucket, Prefix=key, MaxKeys=1)
    held = answer.get("Contents", [])
    if not held and storage.object_exists(s3, record_url(folder)):  # launched, nothing written yet
        held = [{"Key": key + f"nothing yet, claimed by the launch recorded in {record_url(folder)}"}]
    if not held:
        if spec.resume:
            report.notes.append(f"--resume: {folder} is empty, the run starts from scratch")
        return []
    if spec.resume:
        report.notes.append(f"--resume: continuing the run in {folder}")
        return []
    if spec.force:
        report.notes.append(f"--force: {folder} already holds a run; it may be overwritten")
        return []
    what = held[0]["Key"][len(key):] or "an object"
    if spec.kind != "train":  # a dataset or stats folder: no run to resume
        return [("output", f"{folder} already holds data ({what})", "choose another --output, or add --force to "
                 "overwrite it")]
    return [("output", f"{folder} already holds a run ({what})",
             "add --resume to continue it, --force to overwrite it, or choose another --exp-name")]


# -- image ---------------------------------------------------------------------------
def image_digest(ref: str) -> str | None:
    """The manifest digest the registry reports for a tag (HEAD; None when it gives none)."""
    from .images.registry import MANIFEST_TYPES, TIMEOUT_S, parse_ref

    parsed = parse_ref(ref)
    req = urllib.request.Request(f"{parsed.api_base}/v2/{parsed.repository}/manifests/{parsed.tag}",
                                 method="HEAD", headers={"Accept": MANIFEST_TYPES})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
            return resp.headers.get("Docker-Content-Digest")
    except (urllib.error.URLError, OSError):
        return None  # authenticated registries: presence was checked; the digest is best effort


def check_image(spec: Any, report: PreflightReport) -> list[Row]:
    if not spec.image:
        return [("image", f"no image is known for {spec.service}",
                 "push the images first (inv images.push) so the images env file names a tag")]
    from .images.registry import manifest_exists

    if not manifest_exists(spec.image):
        return [("image", f"{spec.image} is not in the registry", "push it first: inv images.push")]
    report.image_digest = image_digest(spec.image)
    return []


# -- the entry point ---------------------------------------------------------------
def run_check(name: str, fn: Callable[[], list[Row]]) -> list[Row]:
    """Run one check; an error in it becomes its row instead of hiding the other checks."""
    try:
        return fn()
    except PreflightError as exc:
        return list(exc.failures)
    except RTError as exc:
        return [(name, exc.message, exc.fix or "see the message")]
    except Exception as exc:  # a bug in one check must not hide the others' results
        return [(name, f"check failed: {type(exc).__name__}: {exc}", "report this; retry with --dry-run to see more")]


def check_storage(s3_client: Callable[[], Any], spec: Any, report: PreflightReport,
                  claim: dict[str, Any] | None = None) -> list[Row]:
    """Both S3 checks, one after the other, each failure its own row (the S3 worker's whole job); the
    output is claimed only when the inputs are fine too."""
    rows = run_check("inputs", lambda: check_inputs(s3_client(), spec, report))
    return rows + run_check("output", lambda: check_output(s3_client(), spec, report, None if rows else claim))


def _worker_checks(worker: Any, s3_client: Callable[[], Any], spec: Any, report: PreflightReport,
                   claim: dict[str, Any] | None = None) -> list[Row]:
    """The S3 checks from the worker process; in-process when it gave no answer."""
    answer = worker.check(spec, claim=claim["entry"] if claim else None)
    if answer is None:
        return check_storage(s3_client, spec, report, claim)
    rows, notes, checkpoint, claimed = answer
    report.notes.extend(notes)
    report.checkpoint = report.checkpoint or checkpoint
    if claimed and claim is not None:
        claim["url"] = claimed
    return rows


def resolve_auto(spec: Any, runner: Any, inventory: Inventory,
                 power: Callable[[Host], str] | None = None) -> tuple[Any, placement.Placement | None]:
    """A spec whose host is `auto` gets the placed host (and the placement, with its reason)."""
    if spec.host != "auto":
        return spec, None
    chosen = placement.place(spec.program, inventory, runner, need_mb=spec.gpu_mem_mb or None, power=power)
    return replace(spec, host=chosen.host.name), chosen


def run_preflight(spec: Any, runner: Any, inventory: Inventory, *, s3: Any = None,
                  check_image_tag: bool = True,
                  power: Callable[[Host], str] | None = None, dry_run: bool = False,
                  s3_worker: Any = None, probed: Callable[[], tuple[str, int] | None] | None = None,
                  claim: dict[str, Any] | None = None) -> PreflightReport:
    """All checks at once; PreflightError with every failing row, else the report.

    `s3_worker` (remote_training.s3_worker.S3Worker) runs the S3 checks in its own process.
    `claim` ({"entry": ...}): claim the output once it is known free (see check_output); whoever
    passes it takes the claim back (claim["url"]) when the launch does not go ahead.
    """
    argument_rows = check_arguments(spec)
    chosen = None
    if spec.host == "auto":
        try:
            spec, chosen = resolve_auto(spec, runner, inventory, power)
        except RTError as exc:
            raise PreflightError(argument_rows + [("placement", exc.message, exc.fix or "name a host")]) from None
    report = PreflightReport(spec, placement=chosen)
    if chosen:
        report.notes.append(f"placed on {chosen.host.name}: {chosen.reason}")
    # `s3` may be a client or a function that returns one: called inside the S3 checks'
    # threads, so making the client overlaps the SSH checks instead of preceding them.
    if s3 is None:
        def s3_client() -> Any:
            return storage.client(inventory.s3_endpoint)
    elif callable(s3) and not hasattr(s3, "meta"):  # boto3 clients carry .meta; factories do not
        s3_client = s3
    else:
        def s3_client() -> Any:
            return s3
    checks: list[tuple[str, Callable[[], list[Row]]]] = [] if inventory.serverless_target(spec.host) else [
        ("host", lambda: check_host(runner, inventory, spec, report, power, dry_run, probed)),
    ]  # a serverless target has no host to probe: its compute is provisioned per run
    if not argument_rows and s3_worker is not None:  # S3 calls with malformed URLs would only repeat errors
        checks.append(("inputs", lambda: _worker_checks(s3_worker, s3_client, spec, report, claim)))
    elif not argument_rows:
        checks.append(("inputs", lambda: check_storage(s3_client, spec, report, claim)))
    if check_image_tag:
        checks.append(("image", lambda: check_image(spec, report)))
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = list(pool.map(lambda item: run_check(*item), checks))
    rows = argument_rows + [row for result in results for row in result]
    if rows:
        error = PreflightError(rows)
        error.report = report  # what was learnt, e.g. a stopped VM the launch path may start
        raise error
    return report
