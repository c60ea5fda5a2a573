"""Validators for the shape of every argument a job takes.

All pure: no I/O. Each validator returns the cleaned value or raises
InputError with one line that says what is wrong and one fix. Checking here,
before a host is touched, is what keeps a typo from costing an H100 hour.
"""
from __future__ import annotations

import difflib
import re
from typing import Callable, Iterable, Mapping

from .errors import InputError, unique

# GR00T modality, observation, action, codec, dataset and command names are not tabled here: they are read
# from the positronic checkout's own modules (jobs/upstream.py), so every name upstream defines is accepted.

# -- shapes --------------------------------------------------------------------
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Keys: a conservative set; a stray space, quote or `$` in a path is a typo, not a wish.
KEY_RE = re.compile(r"^[A-Za-z0-9._\-/=+@,]*$")
EXP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
CONFIG_REF_RE = re.compile(r"^[@.]?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_STEPS = 10_000_000
PORT_MIN, PORT_MAX = 1024, 65535


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """'did you mean X? ' for the closest name, or '' when nothing is close."""
    choices = list(choices)
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    if not close and not value.startswith("."):
        close = difflib.get_close_matches("." + value, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _text(kind: str, value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError(f"{kind} is empty", f"give the {kind}")
    if not isinstance(value, str):
        raise InputError(f"{kind} must be text, got {value!r}", f"give a {kind} as a string")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InputError(f"{kind} {value!r} contains control characters", "remove newlines and tabs")
    return value.strip()


def modality(value: object) -> str:
    """A GR00T modality config's name; whether the checkout defines it: jobs/upstream.py (MODALITY_CONFIGS)."""
    return identifier(value, "modality")


def relative_config(value: object, kind: str) -> str:
    """A config named relative to its field's default (`.groot`) or absolutely (`@pkg.mod.name`); a bare
    `groot` means `.groot`, as the runbook writes it. Whether the checkout defines it: jobs/upstream.py."""
    text = _text(kind, value)
    return config_ref(text if text.startswith(("@", ".")) else "." + text, kind)


def observation(value: object) -> str:
    return relative_config(value, "observation")


def action(value: object) -> str:
    return relative_config(value, "action")


def identifier(value: object, kind: str = "name") -> str:
    """A configuronic command or config name (a Python identifier)."""
    text = _text(kind, value)
    if not IDENTIFIER_RE.match(text):
        raise InputError(f"{kind} {text!r} is not a name", "use letters, digits and '_', e.g. ee_rot6d")
    return text


def s3_url(value: object, kind: str = "s3 URL") -> str:
    """`s3://bucket/key...`, returned unchanged but stripped."""
    text = _text(kind, value)
    if not text.startswith("s3://"):
        hint = ("write s3:// then bucket/path" if text.lower().startswith("s3") else
                "add the s3:// prefix" if "://" not in text else "only s3:// URLs are supported")
        raise InputError(f"{kind} {text!r} is not an s3:// URL", f"{hint}, e.g. s3://interim/my_dataset/")
    bucket, _, key = text[5:].partition("/")
    if not BUCKET_RE.match(bucket) or ".." in bucket:
        raise InputError(f"{kind} {text!r} has a bad bucket name {bucket!r}",
                         "bucket names are 3-63 lowercase letters, digits, '.' or '-'")
    if not KEY_RE.match(key):
        bad = sorted({ch for ch in key if not KEY_RE.match(ch)})
        raise InputError(f"{kind} {text!r} contains {''.join(bad)!r}",
                         "use letters, digits and . _ - / = + @ , in S3 paths")
    if "//" in key or any(part in (".", "..") for part in key.split("/")):
        raise InputError(f"{kind} {text!r} has an empty, '.' or '..' path segment", "write the path without them")
    return text


def split_s3(url: str) -> tuple[str, str]:
    """('bucket', 'key/prefix') of a validated s3:// URL."""
    bucket, _, key = s3_url(url)[5:].partition("/")
    return bucket, key


def _integer(kind: str, value: object) -> int:
    if isinstance(value, bool):
        raise InputError(f"{kind} must be a whole number, got {value!r}", f"give {kind} as a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    # ASCII spaces and digits only: int() refuses some of what a Unicode \s matches ('0\x1f')
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value, re.ASCII):
        return int(value)
    raise InputError(f"{kind} must be a whole number, got {value!r}", f"give {kind} as digits, e.g. 2000")


def port(value: object, low: int = PORT_MIN) -> int:
    """One port number (`8000`): not a range, not a docker `-p` mapping, not 0 (never "the default"). A port
    this tool publishes on a host is unprivileged (`low`); a server's to reach may be any (443: https)."""
    number = _integer("port", value)
    if not low <= number <= PORT_MAX:
        raise InputError(f"port {number} is out of range", f"use a port in {low}-{PORT_MAX}, e.g. 9000")
    return number


def steps(value: object, kind: str = "steps") -> int:
    number = _integer(kind, value)
    if number <= 0:
        raise InputError(f"{kind} must be positive, got {number}", f"give {kind} of at least 1, e.g. 20000")
    if number > MAX_STEPS:
        raise InputError(f"{kind} {number} is implausibly large", f"give at most {MAX_STEPS}")
    return number


def save_steps(value: object, total: int | None = None) -> int:
    number = steps(value, "save steps")
    if total is not None and number > total:
        raise InputError(f"save steps {number} exceed the {total} training steps: no checkpoint would be saved",
                         f"give save steps of at most {total}")
    return number


def count(value: object, kind: str) -> int:
    """A whole number of things, zero allowed (e.g. checkpoints that keep their optimizer state)."""
    number = _integer(kind, value)
    if not 0 <= number <= MAX_STEPS:
        raise InputError(f"{kind} must be 0 or more, got {number}", f"give {kind} as e.g. 2")
    return number


def workers(value: object) -> int:
    number = _integer("workers", value)
    if not 0 <= number <= 256:
        raise InputError(f"workers must be 0-256, got {number}", "give e.g. 4")
    return number


def fps(value: object) -> float:
    if isinstance(value, bool):
        raise InputError(f"fps must be a number, got {value!r}", "give e.g. 15")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"fps must be a number, got {value!r}", "give e.g. 15") from None
    if not 0 < number <= 1000 or number != number:
        raise InputError(f"fps must be in (0, 1000], got {value!r}", "give e.g. 15")
    return int(number) if number.is_integer() else number


def exp_name(value: object) -> str:
    text = _text("experiment name", value)
    if not EXP_NAME_RE.match(text):
        raise InputError(f"experiment name {text!r} is not allowed",
                         "use up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return text


def config_ref(value: object, kind: str = "config") -> str:
    """A configuronic reference: `@pkg.mod.name` (absolute) or `.name` (relative)."""
    text = _text(kind, value)
    if not CONFIG_REF_RE.match(text):
        raise InputError(f"{kind} {text!r} is not a config reference",
                         "write @package.module.name or .name (dotted Python identifiers)")
    return text


def config_name(value: object) -> str:
    text = _text("config name", value)
    if not IDENTIFIER_RE.match(text):
        raise InputError(f"config name {text!r} is not an identifier", "e.g. pi05_positronic_lowmem")
    return text


def path_or_s3(value: object, kind: str = "folder") -> str:
    """An s3:// folder (as s3_folder checks it) or a local path without control characters or spaces."""
    text = _text(kind, value)
    if text.startswith("s3://"):
        return s3_folder(text, kind)
    if not KEY_RE.match(text.lstrip("/~")):
        raise InputError(f"{kind} {text!r} is not a plain path", "use letters, digits and . _ - / in the path")
    return text


def checkpoint(value: object) -> str:
    """A checkpoint to serve: a step number or `checkpoint-<step>`."""
    text = _text("checkpoint", value)
    if not re.fullmatch(r"(?:checkpoint-)?\d{1,9}", text):
        raise InputError(f"checkpoint {text!r} is not a step", "give a step number or checkpoint-<step>, e.g. 20000")
    return text


def s3_folder(value: object, kind: str = "output") -> str:
    """An s3:// folder inside a bucket: outputs never go to a bucket's root, where a run would mix
    with (or, for a syncing writer, delete) everything else in the bucket."""
    text = s3_url(value, kind)
    bucket, key = text[5:].partition("/")[::2]
    if not key.strip("/"):
        raise InputError(f"{kind} {text!r} is a bucket root",
                         f"write a folder inside the bucket, e.g. s3://{bucket}/my_run/")
    return text


def output_apart(inputs: Iterable[object], output: object) -> list[InputError]:
    """The output folder shares no prefix with an input folder (both read as folders, `s3://b/x` is
    `s3://b/x/`): a job writing inside its input, or over it, reads what it writes, and a syncing
    writer (pos3's mirror deletes what is not its own) removes the input. Malformed URLs are s3_url's."""
    if not isinstance(output, str) or not output.startswith("s3://"):
        return []
    out = output.strip().rstrip("/") + "/"
    problems = []
    for given in inputs:
        if not isinstance(given, str) or not given.startswith("s3://"):
            continue
        src = given.strip().rstrip("/") + "/"
        if out.startswith(src) or src.startswith(out):
            where = "is" if out == src else "is inside" if out.startswith(src) else "holds"
            problems.append(InputError(f"output {output!r} {where} the input {given!r}",
                                       "give the output a folder of its own, beside the input: "
                                       "neither inside it nor holding it"))
    return problems


JOB_REF_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def job_ref(value: object) -> str:
    """A job id or a prefix of one (or a host name, or `all`, where the task allows them).
    Never empty: an empty prefix would match every job."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError("job id is empty (an empty prefix would match every job)",
                         "give the job id or a unique prefix (inv jobs.list shows them)")
    text = _text("job id", value)
    if not JOB_REF_RE.match(text):
        raise InputError(f"job id {text!r} is not a job id",
                         "give the job id or a unique prefix as inv jobs.list shows it "
                         "(letters, digits, '.', '_', '-')")
    return text


FALSE_WORDS = ("", "0", "false", "no", "off")


def truthy(value: object) -> bool:
    """A yes/no setting (config, INVOKE_* variables, CI=...): a text is true unless empty, 0, false, no or
    off (any case); any other value as Python reads it."""
    if isinstance(value, str):
        return value.strip().lower() not in FALSE_WORDS
    return bool(value)


DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)?\s*$", re.IGNORECASE)


def duration(value: object, kind: str = "duration") -> float:
    """A positive duration: `30m`, `2h`, `90s`, `1d` or a number of seconds; the seconds."""
    if isinstance(value, bool):
        raise InputError(f"{kind} must be a duration, got {value!r}", "write e.g. 30m, 2h or 90s")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        text = _text(kind, value)
        m = DURATION_RE.match(text)
        if not m:
            raise InputError(f"{kind} {text!r} is not a duration", "write e.g. 30m, 2h or 90s")
        seconds = float(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[(m[2] or "s").lower()[0]]
    if not seconds > 0 or seconds == float("inf"):
        raise InputError(f"{kind} must be longer than zero, got {value!r}", "write e.g. 30m, 2h or 90s")
    return seconds


def percent(value: object, kind: str = "percent") -> float:
    """A percentage from 0 to 100."""
    if isinstance(value, bool):
        raise InputError(f"{kind} must be a number, got {value!r}", "give a percentage from 0 to 100, e.g. 10")
    text = value.strip().rstrip("%") if isinstance(value, str) else value
    try:
        number = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"{kind} must be a number, got {value!r}",
                         "give a percentage from 0 to 100, e.g. 10") from None
    if not 0 <= number <= 100:  # also refuses nan
        raise InputError(f"{kind} {value!r} is not a percentage", "give a percentage from 0 to 100, e.g. 10")
    return number


# Which validator checks which typed option of a job (names as JobSpec/service options use them).
OPTION_VALIDATORS: dict[str, Callable[[object], object]] = {
    "modality": modality, "modality_config": modality, "observation": observation, "action": action,
    "port": port, "server_port": lambda v: port(v, 1), "steps": steps, "num_train_steps": steps,
    "save_steps": lambda v: steps(v, "save steps"),
    "workers": workers, "num_workers": workers, "keep_optimizers": lambda v: count(v, "keep optimizers"),
    "trials": lambda v: steps(v, "trials"), "fps": fps, "exp_name": exp_name, "config_name": config_name,
    "dataset": lambda v: config_ref(v, "dataset config"), "checkpoint": checkpoint,
    "input": s3_url, "input_path": s3_url, "output": s3_folder, "output_path": s3_folder, "output_dir": s3_folder,
    "stats": s3_url, "stats_path": s3_url, "checkpoints": s3_url, "checkpoints_dir": s3_url,
}


def check_options(options: Mapping[str, object]) -> list[InputError]:
    """Validate every known option at once; the errors, not the first only."""
    problems: list[InputError] = []
    for name, value in options.items():
        check = OPTION_VALIDATORS.get(name)
        if check is None or value is None:
            continue
        try:
            check(value)
        except InputError as exc:
            problems.append(exc)
    total = options.get("steps", options.get("num_train_steps"))
    every = options.get("save_steps")
    if total is not None and every is not None:
        try:
            save_steps(every, steps(total))
        except InputError as exc:
            problems.append(exc)
    return unique(problems)
