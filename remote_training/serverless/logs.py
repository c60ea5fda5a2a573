"""Serverless jobs' logs, from Nebius Observability's Grafana Loki-compatible HTTP API.

The SDK (0.6.29) has no method that reads job or endpoint logs; Observability serves them over
Loki's `query_range` (LogQL stream selectors; `logcli` speaks the same API). Every request is
bounded; following polls from the last line's timestamp until the job reaches a final state.
"""
from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable

from ..errors import ProviderError
from .target import ServerlessTarget

REQUEST_S = 15.0
PAGE = 5000
POLL_S = 2.0
# Nebius's LogQL needs a `__bucket__` in every query; its docs name no bucket or label for Serverless
# yet, so both are settings of the target (logs_bucket) and this table: rt_sandbox/nebius_serverless.py says more.
ID_LABEL = {"job": "job_id", "endpoint": "endpoint_id"}


def selector(target: ServerlessTarget, kind: str, resource_id: str) -> str:
    clean = "".join(ch for ch in resource_id if ch.isalnum() or ch in "-_.")
    return '{__bucket__="%s", %s="%s"}' % (target.logs_bucket, ID_LABEL[kind], clean)


def tls_context(target: ServerlessTarget) -> ssl.SSLContext:
    """The system's CAs, plus the target's ca_file when it names one (the sandbox's own CA)."""
    context = ssl.create_default_context()
    if target.ca_file:
        context.load_verify_locations(target.ca_file)
    return context


def query(target: ServerlessTarget, logql: str, *, start_ns: int, end_ns: int | None = None, limit: int = PAGE,
          direction: str = "forward") -> list[tuple[int, str]]:
    """(timestamp ns, line) pairs, oldest first."""
    if not target.logs_url:
        raise ProviderError(f"{target.name}: no logs_url for serverless logs",
                            f"set provider.logs_url of {target.name} in hosts.yaml (Nebius Observability's logs API)")
    token = target.logs_token()
    if not token:
        where = target.logs_token_file or f"${target.logs_token_env}"
        raise ProviderError(f"{target.name}: no Observability token in {where}",
                            "issue one: nebius iam static-key issue --service=OBSERVABILITY ..., and put it there")
    params = {"query": logql, "start": str(start_ns), "end": str(end_ns or time.time_ns() + 10**9),
              "limit": str(limit), "direction": direction}
    url = f"{target.logs_url}/loki/api/v1/query_range?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    context = tls_context(target) if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_S, context=context) as answer:
            body = json.load(answer)
    except urllib.error.HTTPError as exc:
        raise ProviderError(f"{target.name}: the logs API answered {exc.code} {exc.reason}",
                            "check provider.logs_url and the Observability token") from None
    except (OSError, ValueError) as exc:
        raise ProviderError(f"{target.name}: the logs API at {target.logs_url} did not answer ({exc})",
                            "check the network and provider.logs_url, then retry") from None
    lines = [(int(ts), line) for stream in body.get("data", {}).get("result", []) for ts, line in stream.get("values", [])]
    return sorted(lines)


def read(target: ServerlessTarget, kind: str, resource_id: str, since_ns: int, tail: int | None = None) -> list[str]:
    if tail:
        lines = query(target, selector(target, kind, resource_id), start_ns=since_ns, limit=tail, direction="backward")
        return [line for _, line in lines[-tail:]]
    out, start = [], since_ns
    while True:  # page forward until a short page
        page = query(target, selector(target, kind, resource_id), start_ns=start)
        out += [line for _, line in page]
        if len(page) < PAGE:
            return out
        start = page[-1][0] + 1


def follow(target: ServerlessTarget, kind: str, resource_id: str, since_ns: int, ended: Callable[[], bool],
           write: Callable[[str], Any]) -> None:
    """Write new lines as they come, until `ended()` says the resource reached a final state; the
    last read comes after that answer, so lines written just before the end are not lost."""
    start = since_ns
    while True:
        finished = ended()
        for ts, line in query(target, selector(target, kind, resource_id), start_ns=start):
            write(line if line.endswith("\n") else line + "\n")
            start = ts + 1
        if finished:
            return
        time.sleep(POLL_S)
