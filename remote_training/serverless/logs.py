"""Serverless jobs' logs, from Nebius Observability's Grafana Loki-compatible HTTP API.

The SDK (0.6.29) has no method that reads job or endpoint logs; Observability serves them over
Loki's `query_range` (LogQL stream selectors; `logcli` speaks the same API). Loki's rules
(https://grafana.com/docs/loki/latest/reference/loki-http-api/): `start` is inclusive, `end`
exclusive, `limit` is capped by the server's `max_entries_limit_per_query` (5000 by default; more
is a 400), and several entries may share one timestamp. So, as logcli pages
(https://github.com/grafana/loki/pull/2482, https://github.com/grafana/loki/issues/11254), each
page starts AT the last timestamp seen and drops the entries already printed at that timestamp:
no line is lost or doubled at a page boundary. Every request is bounded (REQUEST_S); 429 and 5xx
answers and dropped connections are retried with growing, jittered pauses for as long as the
reader's own bound allows (RETRY_S for a read; for a follow, while the job runs and RETRY_S after).
"""
from __future__ import annotations

import json
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .. import interrupts
from ..errors import ProviderError
from ..fleet.serverless_target import ServerlessTarget

REQUEST_S = 15.0
PAGE = 5000  # Loki's default limits_config.max_entries_limit_per_query: a larger limit is a 400
POLL_S = 2.0
RETRY_S = 60.0  # how long a transient failure (429, 5xx, no answer) is retried once nothing else bounds it
BACKOFF_S = (0.5, 8.0)  # first and longest pause between retries (doubling, with jitter)

Entry = tuple[int, str]  # (timestamp ns, line)


class Transient(Exception):
    """An answer worth asking again: 429, 5xx, or no answer at all."""


def selector(target: ServerlessTarget, kind: str, resource_id: str) -> str:
    clean = "".join(ch for ch in resource_id if ch.isalnum() or ch in "-_.")
    label = target.logs_job_label if kind == "job" else target.logs_endpoint_label
    return '{__bucket__="%s", %s="%s"}' % (target.logs_bucket, label, clean)


def tls_context(target: ServerlessTarget) -> ssl.SSLContext:
    """The system's CAs, plus the target's ca_file when it names one (the sandbox's own CA)."""
    context = ssl.create_default_context()
    if target.ca_file:
        context.load_verify_locations(target.ca_file)
    return context


def _query_once(target: ServerlessTarget, logql: str, start_ns: int, end_ns: int, limit: int,
                direction: str) -> list[Entry]:
    if not target.logs_url:
        raise ProviderError(f"{target.name}: no logs_url for serverless logs",
                            f"set provider.logs_url of {target.name} in hosts.yaml (Nebius Observability's logs API)")
    token = target.logs_token()
    if not token:
        where = target.logs_token_file or f"${target.logs_token_env}"
        raise ProviderError(f"{target.name}: no Observability token in {where}",
                            "issue one: nebius iam static-key issue --service=OBSERVABILITY ..., and put it there")
    params = {"query": logql, "start": str(start_ns), "end": str(end_ns), "limit": str(limit), "direction": direction}
    url = f"{target.logs_url}/loki/api/v1/query_range?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    context = tls_context(target) if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_S, context=context) as answer:
            body = json.load(answer)
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise Transient(f"{exc.code} {exc.reason}") from None
        raise ProviderError(f"{target.name}: the logs API answered {exc.code} {exc.reason}",
                            "check provider.logs_url, logs_bucket and the Observability token") from None
    except (OSError, ValueError) as exc:  # refused, reset, timed out, or a body cut short
        raise Transient(str(exc)) from None
    entries = [(int(ts), line) for stream in body.get("data", {}).get("result", [])
               for ts, line in stream.get("values", [])]
    return sorted(entries, key=lambda e: e[0], reverse=direction == "backward")


def query(target: ServerlessTarget, logql: str, *, start_ns: int, end_ns: int, limit: int = PAGE,
          direction: str = "forward", give_up: Callable[[], bool] | None = None) -> list[Entry]:
    """One page, oldest first for "forward", newest first for "backward"; transient failures are
    retried until `give_up()` says so (default: RETRY_S from now)."""
    limit = min(limit, PAGE)
    if give_up is None:
        deadline = time.monotonic() + RETRY_S
        give_up = lambda: time.monotonic() >= deadline  # noqa: E731
    pause = BACKOFF_S[0]
    while True:
        try:
            return _query_once(target, logql, start_ns, end_ns, limit, direction)
        except Transient as exc:
            if give_up():
                raise ProviderError(f"{target.name}: the logs API at {target.logs_url} kept failing ({exc})",
                                    "check the network and provider.logs_url, then retry") from None
            time.sleep(pause * random.uniform(0.5, 1.0))  # jitter: many readers do not retry in step
            pause = min(pause * 2, BACKOFF_S[1])


@dataclass
class Cursor:
    """Where a forward read stands: the next page starts at `at` (inclusive) and skips `seen`, the
    entries already given at that very timestamp."""
    at: int
    seen: set = field(default_factory=set)

    def take(self, page: list[Entry]) -> list[Entry]:
        fresh = [e for e in page if not (e[0] == self.at and e in self.seen)]
        for entry in fresh:
            if entry[0] != self.at:
                self.at, self.seen = entry[0], set()
            self.seen.add(entry)
        return fresh


def pages(target: ServerlessTarget, logql: str, cursor: Cursor, give_up: Callable[[], bool] | None = None,
          end_ns: int | None = None) -> Iterator[list[Entry]]:
    """Forward pages from the cursor until one is short (exhausted for now); each yields only new entries."""
    while True:
        end = end_ns if end_ns is not None else time.time_ns() + 10**9
        page = query(target, logql, start_ns=cursor.at, end_ns=end, give_up=give_up)
        fresh = cursor.take(page)
        yield fresh
        if len(page) < PAGE:
            return
        if not fresh:  # a full page of one timestamp, all seen: more at one instant than Loki gives in a page
            cursor.at, cursor.seen = cursor.at + 1, set()


def read(target: ServerlessTarget, kind: str, resource_id: str, since_ns: int, tail: int | None = None) -> list[str]:
    logql = selector(target, kind, resource_id)
    if tail:
        return _tail(target, logql, since_ns, tail)
    return [line for page in pages(target, logql, Cursor(since_ns)) for _, line in page]


def _tail(target: ServerlessTarget, logql: str, since_ns: int, tail: int) -> list[str]:
    """The last `tail` lines: one backward query when it fits a page, else backward pages, each ending
    just after the oldest timestamp seen (end is exclusive) and skipping what was taken there."""
    out: list[Entry] = []
    end, seen = time.time_ns() + 10**9, set()
    while len(out) < tail:
        page = query(target, logql, start_ns=since_ns, end_ns=end, limit=min(tail, PAGE), direction="backward")
        fresh = [e for e in page if e not in seen]
        out += fresh
        if len(page) < min(tail, PAGE):
            break
        oldest = page[-1][0]
        if fresh:
            seen, end = {e for e in out if e[0] == oldest}, oldest + 1
        else:  # a full page of one timestamp, all taken: step past it
            seen, end = set(), oldest
    return [line for _, line in reversed(out[:tail])]


def follow(target: ServerlessTarget, kind: str, resource_id: str, since_ns: int, ended: Callable[[], bool],
           write: Callable[[str], Any]) -> None:
    """Write new lines as they come until `ended()` says the resource reached a final state, then go
    on reading until exhausted and for the target's logs_grace_s more: lines reach the logs API after
    they were written (ingestion lag), and the last ones are usually the ones that matter."""
    logql, cursor = selector(target, kind, resource_id), Cursor(since_ns)
    ended_at: list[float] = []

    def give_up() -> bool:  # transient failures are retried while the job runs, and RETRY_S after
        if not ended_at and ended():
            ended_at.append(time.monotonic())
        return bool(ended_at) and time.monotonic() >= ended_at[0] + max(RETRY_S, target.logs_grace_s)

    while True:
        interrupts.again()  # a signal whose exception Python dropped ends the follow here
        finished = bool(ended_at) or ended()  # asked before the read: lines up to the end are in it
        if finished and not ended_at:
            ended_at.append(time.monotonic())
        for page in pages(target, logql, cursor, give_up):
            for _, line in page:
                write(line if line.endswith("\n") else line + "\n")
        if finished and time.monotonic() >= ended_at[0] + target.logs_grace_s:
            return
        time.sleep(min(POLL_S, target.logs_grace_s) if finished else POLL_S)
