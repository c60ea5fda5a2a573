"""The run ledger: what ran where, from which image, with which arguments.

A local append-only JSON-lines file (one line per event: a launch, then an end),
merged by job id when read, so two laptops' processes never rewrite each other's
lines. Where: config jobs.ledger (INVOKE_JOBS_LEDGER), else the deprecated RT_LEDGER,
else ledger.jsonl in the state dir (remote_training/state.py). When a job writes to S3, the same record lands as
`run.json` in the job's run folder, so a checkpoint can be traced to its image
and arguments without the laptop that launched it.

Secrets never get in: arguments whose name looks secret, and any value equal to
a secret in the environment, are replaced by "***" before anything is written.
A job's log is shown through the same masks (`scrub_log`, `MaskedStream`): upstream prints
its whole environment.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol

from . import timestamps

SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "WANDB_API_KEY",
              "HF_TOKEN", "NEBIUS_IAM_TOKEN")
SECRET_NAME_RE = re.compile(r"(secret|token|passw|api[_-]?key|access[_-]?key|credential|private[_-]?key)", re.I)
MASK = "***"


class LaunchSpec(Protocol):
    """What the ledger reads of a launch: jobs.spec.JobSpec, named here by its shape (jobs/ sits above
    records/). The fields it reads from the dict are those of `Ledger.entry`."""

    def to_dict(self) -> dict[str, Any]: ...


def default_path(state: str | Path | None = None) -> Path:
    """Where the ledger is when no jobs.ledger is set: the deprecated RT_LEDGER, else in the state dir
    (`state`: config vm.state_dir)."""
    from ..state import deprecated_env, state_dir

    old = deprecated_env("RT_LEDGER")
    return Path(old).expanduser() if old else state_dir(state) / "ledger.jsonl"


def secret_values(environ: Mapping[str, str]) -> list[str]:
    values = [environ[k] for k in environ if (k in SECRET_ENV or SECRET_NAME_RE.search(k)) and environ[k]]
    # Longest first: no partial masks. Very short values ("test") would mask ordinary words instead.
    return sorted({v for v in values if len(v) >= 8}, key=len, reverse=True)


def _mask(text: str, secrets: list[str]) -> str:
    for value in secrets:
        text = text.replace(value, MASK)
    return text


# An environment variable printed with its value: `'AWS_SECRET_ACCESS_KEY': 'x'` (a dict's repr, as upstream's
# `print(f'Running command: ... with env: {env}')` writes it) or `HF_TOKEN=x` (`env`). By name, so a value too
# short to mask wherever it appears is still masked here.
ENV_PAIR_RE = re.compile(r"""(?P<key>(?P<q>['"]?)(?P<name>[A-Z][A-Z0-9_]*)(?P=q)\s*[:=]\s*)"""
                         r"""(?P<value>'[^'\n]*'|"[^"\n]*"|[^\s'",}]+)""")


def scrub_log(text: str, secrets: list[str]) -> str:
    """A job's log fit to show: the secret values masked anywhere, and any secret-named variable's value."""
    def pair(m: re.Match[str]) -> str:
        if not SECRET_NAME_RE.search(m["name"]) or m["value"].strip("'\"") in ("", MASK):
            return m[0]
        quote = m["value"][0] if m["value"][0] in "'\"" else ""
        return f"{m['key']}{quote}{MASK}{quote}"

    return ENV_PAIR_RE.sub(pair, _mask(text, secrets))


class MaskedStream:
    """A text stream that writes a job's log through `scrub_log`, a line at a time: a secret split across two
    writes (an SSH channel's chunks) is masked whole. `close` writes an unfinished last line."""

    HOLD_MAX = 1 << 16  # a line longer than this goes out masked as it is

    def __init__(self, stream: Any, secrets: list[str]) -> None:
        import threading

        self.stream, self.secrets, self.pending = stream, secrets, ""
        self.lock = threading.Lock()  # Invoke writes a command's stdout and stderr from two threads

    def write(self, text: str) -> int:
        with self.lock:
            self.pending += text
            cut = max(self.pending.rfind("\n"), self.pending.rfind("\r")) + 1  # tqdm ends its lines with \r
            if not cut and len(self.pending) > self.HOLD_MAX:
                cut = len(self.pending)
            if cut:
                done, self.pending = self.pending[:cut], self.pending[cut:]
                self.stream.write(scrub_log(done, self.secrets))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        with self.lock:
            if self.pending:
                self.stream.write(scrub_log(self.pending, self.secrets))
                self.pending = ""
        self.stream.flush()


def scrub_args(args: Iterable[str], secrets: list[str] | None = None) -> list[str]:
    """Arguments fit for a log: `--x_token=...` masked by name, known secret values masked anywhere.
    `secrets`: the values to mask when the caller has them (else read from the environment)."""
    secrets = secret_values(os.environ) if secrets is None else secrets
    out = []
    for arg in args:
        name, eq, _ = arg.partition("=")
        out.append(f"{name}={MASK}" if eq and SECRET_NAME_RE.search(name) else _mask(arg, secrets))
    return out


def scrub(value: Any, secrets: list[str] | None = None) -> Any:
    """A JSON-able structure with secret-named keys and secret values masked, recursively (the secret
    values are read from the environment once, not once per string)."""
    secrets = secret_values(os.environ) if secrets is None else secrets
    if isinstance(value, Mapping):
        return {k: (MASK if SECRET_NAME_RE.search(str(k)) and v else scrub(v, secrets)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value):
            return scrub_args(value, secrets)
        return [scrub(v, secrets) for v in value]
    if isinstance(value, str):
        return _mask(value, secrets)
    return value


def now() -> str:
    return timestamps.utc()


RECORDS = ".rt-runs"  # beside run folders: jobs sync (and mirror-delete) inside theirs, never here


def record_url(run_folder: str) -> str:
    """Where a run folder's run.json lives: `<parent>/.rt-runs/<name>/run.json`, outside every prefix
    the job syncs (pos3's mirror would delete it; the LeRobot writer wants its folder absent)."""
    bucket, _, key = run_folder[len("s3://"):].partition("/")
    parts = [p for p in key.split("/") if p]
    if not parts:
        raise ValueError(f"{run_folder} is a bucket root: a run needs a folder")
    parent, name = parts[:-1], parts[-1]
    return f"s3://{bucket}/" + "".join(f"{p}/" for p in parent) + f"{RECORDS}/{name}/run.json"


class Ledger:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def _append(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(scrub(event), sort_keys=True, default=str) + "\n"
        # O_APPEND and one write per line: concurrent writers never interleave a line.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    @staticmethod
    def entry(spec: LaunchSpec | Mapping[str, Any], *, image_digest: str | None = None,
              extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A launch's record (secrets scrubbed): the ledger's line and its run folder's run.json entry.
        `spec`: a JobSpec, or its dict."""
        data = dict(spec) if isinstance(spec, Mapping) else spec.to_dict()
        entry = {
            "job_id": data["job_id"], "host": data.get("host"), "service": data.get("service"),
            "kind": data.get("kind"), "image": data.get("image"), "image_digest": image_digest,
            "args": scrub_args(data.get("args") or ()), "inputs": list(data.get("inputs") or ()),
            "output": data.get("output"), "exp_name": data.get("exp_name"), "port": data.get("port"),
            "resume": data.get("resume", False), "force": data.get("force", False), "user": data.get("user"),
            "started": now(), "ended": None, "exit_code": None, "run_folder": None, "run_json": None,
            **(extra or {}),
        }
        folder = data.get("run_folder")
        if folder and folder.startswith("s3://"):
            entry["run_folder"], entry["run_json"] = folder, record_url(folder)
        return scrub(entry)

    def start(self, spec: LaunchSpec | Mapping[str, Any], *, image_digest: str | None = None,
              extra: Mapping[str, Any] | None = None, entry: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Record a launch in the local ledger (run.json was written when the output was claimed)."""
        record = {**(entry or self.entry(spec)), **(extra or {})}
        if image_digest:
            record["image_digest"] = image_digest
        self._append({"event": "start", **record})
        return record

    def launch(self, entry: Mapping[str, Any]) -> None:
        """A launch about to start (its `start` line follows once it did): written before anything starts."""
        self._append({"event": "launch", **entry})

    def abandoned(self, job_id: str) -> None:
        """A launch that provably did not start: its intent no longer counts (history, cost)."""
        self._append({"event": "abandoned", "job_id": job_id})

    def finish(self, job_id: str, exit_code: int, *, s3: Any = None, ended: str | None = None) -> dict[str, Any] | None:
        """Record a job's end; also in its run.json when an S3 client is given."""
        event = {"event": "end", "job_id": job_id, "ended": ended or now(), "exit_code": int(exit_code)}
        self._append(event)
        entry = self.get(job_id)
        if entry and s3 is not None and entry.get("run_json"):
            from . import storage

            storage.update_run(s3, entry["run_json"], job_id, {"ended": event["ended"], "exit_code": event["exit_code"],
                                                                "image_digest": entry.get("image_digest")})
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """One merged record per job, oldest first; unreadable lines are skipped, not fatal."""
        if not self.path.exists():
            return []
        merged: dict[str, dict[str, Any]] = {}
        for line in self.path.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or "job_id" not in event:
                continue
            record = merged.setdefault(event["job_id"], {"job_id": event["job_id"]})
            if event.get("event") == "abandoned":
                merged.pop(event["job_id"])  # it did not start: not a launch of the history
            elif event.get("event") == "end":
                record.update(ended=event.get("ended"), exit_code=event.get("exit_code"))
            else:
                record.update({k: v for k, v in event.items() if k != "event"}
                              | {k: record[k] for k in ("ended", "exit_code") if record.get(k) is not None})
        return list(merged.values())

    def get(self, job_id: str) -> dict[str, Any] | None:
        return next((e for e in self.entries() if e["job_id"] == job_id), None)

    def trace(self, url: str) -> dict[str, Any] | None:
        """The launch that wrote `url` (a checkpoint or any path under a run folder)."""
        best = None
        for entry in self.entries():
            folder = entry.get("run_folder") or ""
            if folder and url.startswith(folder) and (best is None or len(folder) >= len(best["run_folder"])):
                best = entry
        return best


def find_run_json(s3: Any, url: str) -> dict[str, Any] | None:
    """The launch recorded in the run.json of the run folder holding `url`, from S3: works on a laptop
    that did not launch it. The latest launch, with the earlier ones (--resume, --force) beside it.

    Walks up from the path, one request per folder level (a checkpoint is a few levels deep).
    """
    from ..validate import split_s3
    from . import storage

    bucket, key = split_s3(url)
    parts = [p for p in key.split("/") if p]
    for depth in range(len(parts), 0, -1):
        record, _ = storage.read_run(s3, record_url(f"s3://{bucket}/{'/'.join(parts[:depth])}/"))
        launches = (record or {}).get("launches") or []
        if launches:
            return {**launches[-1], "earlier_launches": launches[:-1]}
    return None
