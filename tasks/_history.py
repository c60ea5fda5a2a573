"""jobs.history: the run ledger (remote_training/ledger.py), wired into tasks/jobs.py as `history`."""
from __future__ import annotations

from pathlib import Path

from ._cli import rt_task, setting


def ledger_from_config(c):
    """The ledger launches write and jobs.history reads: config jobs.ledger, else RT_LEDGER or the state dir."""
    from remote_training.ledger import Ledger

    path = str(setting(c, "jobs.ledger") or "")
    return Ledger(Path(path).expanduser() if path else None)  # empty: RT_LEDGER or ~/.local/state/...


@rt_task(help={"json": "print a JSON list instead of a table",
               "job": "show only this job id",
               "trace": "an s3:// path (e.g. a checkpoint): show the launch that wrote it",
               "limit": "show only the newest N launches (0: all)"})
def history(c, json=False, job="", trace="", limit=20):
    """List launches from the run ledger: host, image and digest, who, start, exit code (--json: arguments too)."""
    from remote_training.errors import InputError
    from remote_training.output import print_json, print_table

    book = ledger_from_config(c)
    if trace:
        from remote_training.validate import s3_url

        found = book.trace(s3_url(trace, "--trace path"))
        if not found:  # launched from another laptop: its run.json in S3 tells the same story
            found = _from_s3(c, trace)
        if not found:
            raise InputError(f"no launch in {book.path} wrote {trace}",
                             "check the path, or look for run.json in the run folder on S3")
        entries = [found]
    elif job:
        found = book.get(job)
        if not found:
            raise InputError(f"job {job!r} is not in the ledger {book.path}", "list them: inv jobs.history")
        entries = [found]
    else:
        entries = book.entries()
        entries = entries[-int(limit):] if int(limit) > 0 else entries
    if json:
        print_json(entries)
        return
    # The table keeps to what fits a terminal; --json (or --job ID --json) has every field, arguments included.
    rows = [(e["job_id"], e.get("host"), (e.get("image") or "").rsplit("/", 1)[-1], (e.get("image_digest") or "")[:15],
             e.get("user"), e.get("started"), "" if e.get("exit_code") is None else e["exit_code"]) for e in entries]
    print_table(["job", "host", "image", "digest", "user", "started", "exit"], rows,
                title=f"run ledger ({book.path})")


def _from_s3(c, url: str):
    from remote_training import storage
    from remote_training.ledger import find_run_json

    from ._cli import load_inventory

    return find_run_json(storage.client(load_inventory(c).s3_endpoint), url)
