"""The serverless log reader (remote_training/serverless/logs.py) against the stand-in's Loki API
(rt_sandbox/serverless_io.LokiServer, in this process on a loopback port): paging with many lines and
with lines sharing one timestamp at a page boundary, the tail, a follow with ingestion lag, and 429/502
answers mid-follow from a small proxy in front of it. The same reader through `inv jobs.logs` and a
`--wait` launch on the sandbox: tests/sandbox/test_serverless_jobs.py.
"""
from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

from remote_training.fleet.serverless_target import Compute, ServerlessTarget
from remote_training.serverless import logs
from rt_sandbox import serverless_io as io

JOB = "aijob-logs0001"
LABELS = {"__bucket__": io.LOG_BUCKET, io.LOG_ID_LABEL["job"]: JOB, "name": "logs-test", "parent_id": "project-x"}
T0 = 1_700_000_000 * 10**9


@pytest.fixture()
def loki(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    server = io.LokiServer(tmp_path, 0)
    yield tmp_path, f"http://127.0.0.1:{server.port}"
    server.close()


def target(url: str, tmp_path: Path, **settings: Any) -> ServerlessTarget:
    token = tmp_path / "token"
    token.write_text("sandbox-token\n")
    return ServerlessTarget(name="cloud", parent_id="project-x", gpu=Compute("gpu-h100-sxm", "1gpu-16vcpu-200gb"),
                            logs_url=url, logs_token_file=str(token), **settings)


def push(url: str, entries: list[tuple[int, str]], labels: dict[str, str] = LABELS) -> None:
    for at in range(0, len(entries), 5000):
        io.push(url, labels, entries[at:at + 5000])


def boundary_entries() -> list[tuple[int, str]]:
    """4990 lines, then 20 sharing one timestamp across the 5000-line page boundary, then 30 more."""
    entries = [(T0 + i * 1000, f"before {i}") for i in range(4990)]
    entries += [(T0 + 4990 * 1000, f"same-instant {i}") for i in range(20)]
    return entries + [(T0 + (5000 + i) * 1000, f"after {i}") for i in range(30)]


def test_loki_push_and_query_follow_lokis_rules(loki) -> None:
    folder, url = loki
    push(url, [(T0 + 5, "b"), (T0, "a"), (T0 + 5, "b"), (T0 + 5, "c"), (T0 + 9, "d")])  # "b" twice: one entry
    tgt = target(url, folder)
    sel = logs.selector(tgt, "job", JOB)
    both = logs.query(tgt, sel, start_ns=T0, end_ns=T0 + 9)  # start inclusive, end exclusive
    assert both == [(T0, "a"), (T0 + 5, "b"), (T0 + 5, "c")]
    assert logs.query(tgt, sel, start_ns=T0, end_ns=T0 + 10, limit=2, direction="backward") == \
        [(T0 + 9, "d"), (T0 + 5, "c")]
    over = urllib.request.Request(f"{url}/loki/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": sel, "limit": 5001}), headers={"Authorization": "Bearer x"})
    with pytest.raises(urllib.error.HTTPError) as refused:  # Loki's max_entries_limit_per_query
        urllib.request.urlopen(over, timeout=5)
    assert refused.value.code == 400 and b"max entries limit per query exceeded" in refused.value.read()
    bad = urllib.request.Request(f"{url}/loki/api/v1/push", data=b'{"streams": [{"stream": {}, "values": []}]}',
                                 method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as rejected:
        urllib.request.urlopen(bad, timeout=5)
    assert rejected.value.code == 400


def test_every_line_once_across_pages_even_when_20_share_a_timestamp_at_the_boundary(loki) -> None:
    folder, url = loki
    entries = boundary_entries() + [(T0 + 10**9 + i, f"bulk {i}") for i in range(12000)]
    push(url, entries)
    tgt = target(url, folder)
    assert logs.read(tgt, "job", JOB, T0) == [line for _, line in entries]
    assert logs.read(tgt, "job", JOB, T0, tail=7000) == [line for _, line in entries][-7000:]
    assert logs.read(tgt, "job", JOB, T0, tail=3) == ["bulk 11997", "bulk 11998", "bulk 11999"]


def test_the_tail_is_exact_when_the_boundary_falls_inside_one_timestamp(loki) -> None:
    folder, url = loki
    entries = [(T0 + i, f"early {i}") for i in range(100)] + [(T0 + 500, f"same {i}") for i in range(20)]
    entries += [(T0 + 1000 + i, f"late {i}") for i in range(4990)]
    push(url, entries)
    assert logs.read(target(url, folder), "job", JOB, T0, tail=5010) == [line for _, line in entries][-5010:]


def test_follow_reads_until_exhausted_after_the_end_and_through_the_grace(loki) -> None:
    folder, url = loki
    first = [(time.time_ns() + i, f"running {i}") for i in range(12000)]
    push(url, first)
    late = [(time.time_ns() + 10**6 + i, f"late {i}") for i in range(5)]
    polls = {"n": 0}

    def ended() -> bool:  # the job ends at once; its last lines reach the API only a second later
        polls["n"] += 1
        if polls["n"] == 1:
            threading.Timer(1.0, push, (url, late)).start()
        return True

    out: list[str] = []
    logs.follow(target(url, folder, logs_grace_s=3.0), "job", JOB, first[0][0], ended, out.append)
    assert out == [line + "\n" for _, line in first + late]


class FlakyProxy:
    """Forwards to the Loki API, but answers 429 and then 502 to the 2nd and 3rd query it sees."""

    def __init__(self, upstream: str, fail: dict[int, int]) -> None:
        self.seen, proxy = 0, self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                proxy.seen += 1
                code = fail.get(proxy.seen)
                if code:
                    self.send_response(code)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = urllib.request.Request(upstream + self.path, headers=dict(self.headers))
                with urllib.request.urlopen(request, timeout=10) as answer:
                    body = answer.read()
                self.send_response(answer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_follow_outlives_429_and_502_from_the_logs_api(loki, monkeypatch) -> None:
    folder, url = loki
    monkeypatch.setattr(logs, "BACKOFF_S", (0.05, 0.2))  # the pauses, not the behaviour, made short
    monkeypatch.setattr(logs, "POLL_S", 0.2)
    entries = boundary_entries()
    push(url, entries)
    proxy = FlakyProxy(url, {2: 429, 3: 502})
    try:
        states = iter([False, False, False])
        out: list[str] = []
        logs.follow(target(proxy.url, folder, logs_grace_s=0.5), "job", JOB, T0, lambda: next(states, True),
                    out.append)
    finally:
        proxy.close()
    assert proxy.seen >= 4
    assert out == [line + "\n" for _, line in entries]


def test_a_read_gives_up_on_a_logs_api_that_keeps_failing_within_its_bound(loki, monkeypatch) -> None:
    folder, url = loki
    monkeypatch.setattr(logs, "BACKOFF_S", (0.05, 0.1))
    monkeypatch.setattr(logs, "RETRY_S", 0.5)
    proxy = FlakyProxy(url, {n: 503 for n in range(1, 1000)})
    try:
        started = time.monotonic()
        with pytest.raises(logs.ProviderError) as failed:
            logs.read(target(proxy.url, folder), "job", JOB, T0)
    finally:
        proxy.close()
    assert "kept failing (503" in str(failed.value) and time.monotonic() - started < 5
