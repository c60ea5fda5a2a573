"""A launch's S3 work (the checks of remote_training/s3_checks.py and the claim of its output) in a forked worker.

Importing boto3 and building a client is a quarter of a second of pure Python. In
the launching process it would hold the GIL while the SSH handshake, the host
probe and the compose run need it. A child forked when the guard is made (no
Python start-up to pay, every module already loaded) does it on another core and
then answers requests, one JSON line each way, until its pipe closes:

    {"op": "check", "spec": {service, kind, args, inputs, output, ...}, "claim": launch record | null}
        -> {"rows": [[check, problem, fix], ...], "notes": [...], "checkpoint": {url, step, name} | null,
            "claimed": run.json URL | null}

The child is this process's copy, so the AWS credential chain is the caller's. When
there is no worker (threads already running: no safe fork) or it stops answering,
`check` returns None and the caller runs the same checks in-process: a slower launch, never a
skipped step.
"""
from __future__ import annotations

import json
import os
import select
import threading
import time
from types import SimpleNamespace
from typing import Any

SPEC_FIELDS = ("service", "kind", "args", "inputs", "output", "exp_name", "resume", "force", "run_folder", "checkpoints",
               "checkpoint", "layout")
ANSWER_TIMEOUT_S = 90.0  # above boto's own connect/read timeouts and retries


class S3Worker:
    """One warm forked worker for one launch; close() ends it."""

    def __init__(self, endpoint: str | None) -> None:
        self.endpoint = endpoint
        self.pid = 0
        self._fallback: Any = None
        if threading.active_count() > 1 or not hasattr(os, "fork"):
            return  # forking a threaded process can deadlock the child on a lock some thread held
        request_r, self._request_w = os.pipe()
        self._answer_r, answer_w = os.pipe()
        self._pending = b""
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns into the caller's code
            code = 1
            try:
                os.close(self._request_w)
                os.close(self._answer_r)
                code = _serve(endpoint, request_r, answer_w)
            finally:
                os._exit(code)
        os.close(request_r)
        os.close(answer_w)

    def check(self, spec: Any, claim: dict[str, Any] | None = None) -> tuple[list, list[str], Any, Any] | None:
        """(rows, notes, checkpoint, claimed url) of the S3 checks for `spec`, claiming its output with the
        launch record `claim` once it is free; None when the worker gave no answer."""
        answer = self._ask({"op": "check", "spec": {name: _plain(getattr(spec, name)) for name in SPEC_FIELDS},
                            "claim": claim})
        try:
            rows, notes, checkpoint = [tuple(r) for r in answer["rows"]], list(answer["notes"]), answer["checkpoint"]
        except (KeyError, TypeError):
            return None
        if checkpoint is not None:
            from .storage import Checkpoint

            checkpoint = Checkpoint(**checkpoint)
        return rows, notes, checkpoint, answer.get("claimed")

    def _ask(self, request: dict[str, Any]) -> Any:
        if not self.pid:
            return None
        try:
            os.write(self._request_w, (json.dumps(request) + "\n").encode())
            return json.loads(self._read_line(ANSWER_TIMEOUT_S))
        except (OSError, ValueError):
            self.close()  # a worker that fails once is not asked again
            return None

    def _read_line(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._answer_r], [], [], left)[0]:
                raise OSError("no answer from the S3 worker")
            chunk = os.read(self._answer_r, 65536)
            if not chunk:
                raise OSError("the S3 worker exited")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def close(self) -> None:
        if not self.pid:
            return
        for fd in (self._request_w, self._answer_r):
            try:
                os.close(fd)
            except OSError:
                pass
        try:  # it is idle between requests: ending it now loses nothing
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self.pid = 0


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def answer_check(request: dict[str, Any], client: Any) -> dict[str, Any]:
    from dataclasses import asdict

    from .s3_checks import Findings, check_storage

    spec = SimpleNamespace(**{**request["spec"], "args": tuple(request["spec"]["args"]),
                              "inputs": tuple(request["spec"]["inputs"])})
    report = Findings()
    claim = {"entry": request["claim"]} if request.get("claim") else None
    rows = check_storage(lambda: client, spec, report, claim)
    return {"rows": [list(row) for row in rows], "notes": report.notes,
            "checkpoint": asdict(report.checkpoint) if report.checkpoint else None,
            "claimed": (claim or {}).get("url")}


def _serve(endpoint: str | None, request_fd: int, answer_fd: int) -> int:
    """The child's whole life: make the client (the head start), then answer until the pipe closes."""
    from . import storage
    from .s3_checks import run_check

    client: Any = None

    def make_client() -> list:
        nonlocal client
        client = storage.client(endpoint)
        return []

    failure = run_check("inputs", make_client)  # an unusable AWS config becomes the answer to every request
    with os.fdopen(request_fd) as requests, os.fdopen(answer_fd, "w") as answers:
        for line in requests:
            request = json.loads(line)
            if failure:
                reply = {"rows": [list(r) for r in failure], "notes": [], "checkpoint": None}
            else:
                reply = answer_check(request, client)
            answers.write(json.dumps(reply) + "\n")
            answers.flush()
    return 0
