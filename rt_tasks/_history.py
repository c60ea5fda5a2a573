"""jobs.history: the run ledger (remote_training/records/ledger.py), wired into rt_tasks/jobs.py as `history`."""
from __future__ import annotations

from pathlib import Path

from ._cli import rt_task, setting, state_folder

# USD per hour of one machine, or one serverless run of a preset; see README "What it costs". Placeholders:
# Nebius's public on-demand prices when written (an H100 VM or 1-GPU preset about $2.95 an hour; cpu-e2's
# 8 vCPU + 32 GB about $0.20), to be replaced with the team's own rates. `static: 0`: the desktops are owned.
COST_DEFAULTS = {
    "prices": {"static": 0.0, "nebius": {"H100": 2.95},
               "nebius-serverless": {"gpu-h100-sxm/1gpu-16vcpu-200gb": 2.95, "cpu-e2/8vcpu-32gb": 0.20}},
    "compare_with": "gpu-h100-sxm/1gpu-16vcpu-200gb",  # when hosts.yaml has no serverless target: upstream's preset
}
BY = ("user", "host", "week")


def ledger_from_config(c):
    """The ledger launches write and jobs.history reads: config jobs.ledger (INVOKE_JOBS_LEDGER), else the
    deprecated RT_LEDGER, else ledger.jsonl in the state dir."""
    from remote_training.records.ledger import Ledger, default_path

    path = str(setting(c, "jobs.ledger") or "")
    return Ledger(Path(path).expanduser() if path else default_path(setting(c, "vm.state_dir") or None))


@rt_task(help={"json": "print a JSON list instead of a table (with --cost: the rows and the comparison)",
               "job": "show only this job id",
               "trace": "an s3:// path (e.g. a checkpoint): show the launch that wrote it",
               "limit": "show only the newest N launches (0: all; --cost sums them all)",
               "cost": "GPU-hours and money by user, host and ISO week, fixed VMs' idle time, and "
                       "fixed VMs against serverless (prices: config cost.prices)",
               "by": "with --cost, only this table: user, host or week (default: all three)",
               "since": "only time from then on: a duration back from now (7d, 12h) or a UTC date (2026-11-01)"})
def history(c, json=False, job="", trace="", limit=20, cost=False, by="", since=""):
    """Launches from the run ledger: host, image, who, start, exit code; --cost: what they cost by user, host, week."""
    import time

    from remote_training.errors import InputError
    from remote_training.output import print_json, print_table
    from remote_training.records import cost as costs
    from remote_training.records.timestamps import seconds

    if by and (not cost or by not in BY):
        raise InputError(f"--by {by!r} " + ("needs --cost" if by in BY else f"is not one of {', '.join(BY)}"),
                         "write e.g. inv jobs.history --cost --by week")
    now = time.time()
    start = costs.since(since, now) if since else None
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
        if start is not None:  # a job that ran into the period counts, however long ago it started
            entries = [e for e in entries if (seconds(e.get("ended")) or now) >= start]
        if not cost:
            entries = entries[-int(limit):] if int(limit) > 0 else entries
    if cost:
        _cost(c, entries, now, start, (by,) if by else BY, json)
        return
    if json:
        print_json(entries)
        return
    # The table keeps to what fits a terminal; --json (or --job ID --json) has every field, arguments included.
    rows = [(e["job_id"], e.get("host"), (e.get("image") or "").rsplit("/", 1)[-1], (e.get("image_digest") or "")[:15],
             e.get("user"), e.get("started"), "" if e.get("exit_code") is None else e["exit_code"]) for e in entries]
    print_table(["job", "host", "image", "digest", "user", "started", "exit"], rows,
                title=f"run ledger ({book.path})", optional=("digest", "image", "user", "started"))


def _from_s3(c, url: str):
    from remote_training.records import storage
    from remote_training.records.ledger import find_run_json
    from ._cli import load_inventory

    return find_run_json(storage.client(load_inventory(c).s3_endpoint), url)


def _cost(c, entries, now, start, by, json):
    """jobs.history --cost: the tables (or JSON), the comparison line, one stderr line per missing price."""
    from remote_training.fleet.idle import SampleStore
    from remote_training.output import print_json, print_table, warn
    from remote_training.records import cost as costs
    from remote_training.validate import duration
    from ._cli import load_inventory

    store = SampleStore(state_folder(c) / "idle")  # where vm.reap writes
    found = costs.report(entries, load_inventory(c), cost_prices(c), store,
                         now=now, since=start, by=by,
                         max_gap=duration(setting(c, "vm.reap.max_gap"), "vm.reap.max_gap"),
                         compare_with=str(setting(c, "cost.compare_with")))
    if json:
        print_json(found)
        return
    period = f"{found['since'] or 'the whole ledger'} to {found['until']}"
    for name, rows in found["by"].items():
        cells = [(r[name], r["what"], r["jobs"], r["open"] or "", f"{r['hours']:.2f}", f"{r['gpu_hours']:.2f}",
                  costs.money(r["usd"], r["usd_known"])) for r in rows]
        t = found["total"]
        cells.append(("total", "", t["jobs"], t["open"] or "", f"{t['hours']:.2f}", f"{t['gpu_hours']:.2f}",
                      costs.money(t["usd"], t["usd_known"])))
        print_table([name, "what", "jobs", "open", "hours", "GPU-hours", "USD"], cells,
                    title=f"cost by {name}, {period}")
    print(found["fixed_vs_serverless"]["line"])
    if found["open"]:
        warn(f"note: {len(found['open'])} job(s) have no recorded end and count up to now (inv jobs.wait JOB "
             f"records it, at the job's own end): {', '.join(found['open'][:5])}")
    for line in found["unpriced"]:
        warn(f"note: {line}")


def cost_prices(c):
    """The price table of config cost.prices (remote_training.records.cost.Prices); InputError when it is malformed."""
    from remote_training.records.cost import Prices

    return Prices.parse(_plain(setting(c, "cost.prices")))


def _plain(value):
    """A config subtree (Invoke's DataProxy) as plain dicts."""
    return {k: _plain(value[k]) for k in value.keys()} if hasattr(value, "keys") else value
