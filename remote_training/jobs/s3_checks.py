"""The S3 checks of a launch: its inputs exist, a server's checkpoint resolves, its output is free and
claimed (run.json, a conditional put). Functions of an S3 client and the job's spec; they note what they
learn on `found` (preflight's PreflightReport: its notes and its checkpoint). preflight.py runs them
beside the host probe (the serverless launch through the same preflight); this module imports neither
preflight nor the launch.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Callable, Protocol

from .. import validate
from ..errors import PreflightError, RTError
from ..records import storage

if TYPE_CHECKING:
    from ..records.claims import TakeBack
    from .spec import JobSpec

Row = tuple[str, str, str]  # (check, problem, fix)


class Findings(Protocol):
    """Where the checks note what they learn: preflight's PreflightReport (named by its shape, as preflight
    sits above this module)."""
    notes: list[str]
    checkpoint: storage.Checkpoint | None


def check_inputs(s3: Any, spec: JobSpec, found: Findings) -> list[Row]:
    rows: list[Row] = []
    layout = spec.layout if spec.kind == "serve" else None
    checkpoints_dir = spec.checkpoints if layout else None
    for url in spec.inputs:
        if url == checkpoints_dir:
            continue  # checked below, with the checkpoint it resolves to
        if not storage.exists(s3, url):
            rows.append(("inputs", f"{url} does not exist", "check the path (aws s3 ls) or create it first "
                         "(inv dataset.convert / dataset.stats)"))
    if checkpoints_dir and layout:
        rows += _check_checkpoint(s3, checkpoints_dir, layout, spec.checkpoint, found)
    return rows


def _check_checkpoint(s3: Any, folder: str, layout: str, wanted: Any, found: Findings) -> list[Row]:
    latest = storage.latest_checkpoint(s3, folder, layout)
    if latest is None:
        return [("inputs", f"no checkpoint under {folder} ({layout} layout)",
                 "point --checkpoints at the run folder that holds the checkpoints, e.g. .../<exp_name>/")]
    found.checkpoint = latest
    if isinstance(wanted, str) and wanted:
        # LeRobot servers take the exact (zero-padded) folder name; GR00T and OpenPI a step number.
        step = re.sub(r"^checkpoint-", "", wanted)
        name = wanted if layout == "lerobot" else f"checkpoint-{int(step)}" if layout == "groot" else str(int(step))
        base = folder if folder.endswith("/") else folder + "/"
        url = base + ("checkpoints/" if layout == "lerobot" else "") + name + "/"
        if not storage.exists(s3, url):
            latest_given = latest.name if layout == "lerobot" else latest.step  # as --checkpoint takes it
            return [("inputs", f"checkpoint {wanted} not found under {folder} (latest is {latest.name})",
                     f"use --checkpoint {latest_given}, or leave it out for the latest")]
        found.notes.append(f"checkpoint: {url}")
    else:
        found.notes.append(f"latest checkpoint: {latest.url} (step {latest.step})")
    return []


def check_output(s3: Any, spec: JobSpec, found: Findings, claim: dict[str, Any] | None = None) -> list[Row]:
    """Is the run folder free (or joined with --resume/--force)? With `claim` ({"entry": launch record}),
    a free folder is claimed at once: its run.json is written before the job starts, and
    claim["url"] says so (the caller takes it back if the launch does not go ahead). claim["take_back"]
    (claims.TakeBack): earlier claims whose launch provably never started are taken back first."""
    rows = _output_rows(s3, spec, found, claim.get("take_back") if claim else None)
    if rows or claim is None or not spec.run_folder or spec.kind not in ("train", "convert", "stats"):
        return rows
    from ..records.ledger import record_url

    url = record_url(spec.run_folder)
    if (spec.resume or spec.force) and claim.get("still_writing"):
        busy = _live_writers(s3, url, claim["still_writing"], found, claim.get("take_back"))
        if busy:  # one live writer per output: --resume/--force join a run, never a running one
            flag = "--resume" if spec.resume else "--force"
            return [("output", f"{flag}: {spec.run_folder} is still being written by {job} ({why})",
                     f"stop it first (inv jobs.stop {job}) or wait for it (inv jobs.wait {job})")
                    for job, why in busy]
    try:
        claim["written"] = storage.claim_run(s3, url, claim["entry"], append=bool(spec.resume or spec.force),
                                             folder=spec.run_folder)
    except storage.ClaimTaken as exc:
        return [("output", exc.message, exc.fix or "choose another --exp-name")]
    except RTError as exc:  # a claim that cannot be written stops the launch: the output would be unguarded
        return [("output", f"could not claim {spec.run_folder}: {exc.message}", exc.fix or "check S3 and retry")]
    claim["url"] = url
    return []


def _live_writers(s3: Any, url: str, still_writing: Callable[[dict[str, Any]], str | None], found: Findings,
                  take_back: TakeBack | None) -> list[tuple[str, str]]:
    """(job, where it runs) for each launch in run.json with no recorded end that still runs (launches that
    provably never started are taken back first)."""
    record, _ = storage.read_run(s3, url)
    record, _ = _take_back(s3, url, record, found, take_back)
    open_launches = [e for e in (record or {}).get("launches", []) if _open(e)]
    return [(e["job_id"], why) for e in open_launches if (why := still_writing(e))]


def _open(launch: dict[str, Any]) -> bool:
    """A launch run.json names with no recorded end."""
    return bool(launch.get("job_id")) and launch.get("exit_code") is None


def _starting(launch: dict[str, Any]) -> bool:
    """A launch that claimed its folder moments ago and has not started (nor ended): it may still start or
    give the folder back. An older one that never started (killed before its start) holds the folder."""
    import time

    from ..records.timestamps import seconds

    started = seconds(launch.get("started"))
    return (_open(launch) and not launch.get("container") and started is not None
            and started > time.time() - 2 * storage.WINNER_WAIT_S)


def _take_back(s3: Any, url: str, record: dict[str, Any] | None, found: Findings,
               take_back: TakeBack | None) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """Take back the claims in run.json whose launch provably never started (claims.py), one line each on
    `found`. Returns the record left and, for each launch with no recorded start that keeps its claim, why."""
    kept: dict[str, str] = {}
    for launch in list((record or {}).get("launches") or []):
        if not isinstance(launch, dict) or not _open(launch) or launch.get("container"):
            continue
        job = launch["job_id"]
        if take_back is None:
            kept[job] = "not checked"
            continue
        why = take_back.why_kept(launch)
        if why is not None:
            kept[job] = why
            continue
        left = storage.release_run(s3, url, job)
        if left is False:
            kept[job] = f"{url} kept changing while its claim was taken back"
            continue
        record = left
        take_back.taken_back(launch)
        launcher = launch.get("launcher") or {}
        found.notes.append(f"took back the claim of {job} in {url}: its launch never started (its launcher, pid "
                           f"{launcher.get('pid')} on {launcher.get('hostname')}, is gone; nothing of it on "
                           f"{launch.get('host')})")
    return record, kept


def _output_rows(s3: Any, spec: JobSpec, found: Findings, take_back: TakeBack | None = None) -> list[Row]:
    if not spec.run_folder or spec.kind not in ("train", "convert", "stats"):
        return []
    from ..records.ledger import record_url

    folder = spec.run_folder
    bucket, key = validate.split_s3(folder)
    answer = storage._call(s3.list_objects_v2, f"checking {folder}", Bucket=bucket, Prefix=key, MaxKeys=1)
    held = answer.get("Contents", [])
    try:
        record = storage.read_run(s3, record_url(folder))[0] if not held else None
    except ValueError:  # a run.json that does not parse still holds the folder: whose it is, unknown
        record = {}
    kept: dict[str, str] = {}
    if record and take_back:
        record, kept = _take_back(s3, record_url(folder), record, found, take_back)
    last = ((record or {}).get("launches") or [{}])[-1]
    if _starting(last) and not (spec.resume or spec.force):
        # A launch still starting (claimed, not started): the claim waits to see it start or give the folder
        # back (storage.claim_run), so two racing launches never both refuse.
        found.notes.append(f"{folder}: {last['job_id']} on {last.get('host', '?')} is starting there; this "
                           "launch waits to see it start or give the folder back")
    elif record is not None:  # launched, nothing written yet: name the launch that holds it
        who = f"the launch of {last['job_id']} on {last.get('host', '?')}" if last.get("job_id") else "the launch"
        why = kept.get(last.get("job_id", ""))
        why = f"; it never recorded a start but is not provably gone: {why}" if why else ""
        held = [{"Key": key + f"nothing yet, claimed by {who} recorded in {record_url(folder)}{why}"}]
    if not held:
        if spec.resume:
            found.notes.append(f"--resume: {folder} is empty, the run starts from scratch")
        return []
    if spec.resume:
        found.notes.append(f"--resume: continuing the run in {folder}")
        return []
    if spec.force:
        found.notes.append(f"--force: {folder} already holds a run; it may be overwritten")
        return []
    what = held[0]["Key"][len(key):] or "an object"
    if spec.kind != "train":  # a dataset or stats folder: no run to resume
        return [("output", f"{folder} already holds data ({what})", "choose another --output, or add --force to "
                 "overwrite it")]
    return [("output", f"{folder} already holds a run ({what})",
             "add --resume to continue it, --force to overwrite it, or choose another --exp-name")]


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


def check_storage(s3_client: Callable[[], Any], spec: JobSpec, found: Findings,
                  claim: dict[str, Any] | None = None) -> list[Row]:
    """Both S3 checks, one after the other, each failure its own row (one thread of the preflight); the
    output is claimed only when the inputs are fine too."""
    rows = run_check("inputs", lambda: check_inputs(s3_client(), spec, found))
    return rows + run_check("output", lambda: check_output(s3_client(), spec, found, None if rows else claim))
