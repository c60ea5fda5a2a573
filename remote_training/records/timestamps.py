"""The one time format of the records (the ledger, run.json, cost reports, job listings): UTC, whole
seconds, ISO 8601 with a Z (2026-11-30T08:00:00Z). Written and read here only."""
from __future__ import annotations

import time
from datetime import datetime, timezone

FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def utc(moment: float | datetime | None = None) -> str:
    """`moment` (seconds since the epoch, or a datetime: naive ones are taken as UTC; default now) in FORMAT."""
    if moment is None:
        moment = time.time()
    if isinstance(moment, datetime):
        value = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    else:
        value = datetime.fromtimestamp(moment, timezone.utc)
    return value.astimezone(timezone.utc).strftime(FORMAT)


def seconds(text: object) -> float | None:
    """Seconds since the epoch of a record's time (FORMAT, or any ISO 8601 form; no zone: UTC), None
    when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
