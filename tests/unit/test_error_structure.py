"""Errors carry structure: the product decides by an error's type and fields, never by its text, and
sets no attribute on an exception after making it (a field of its class says what it carries)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from remote_training.errors import InputError, JobFailed, JobNotFound, PreflightError, exit_code_for, unique
from remote_training.records import storage

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("remote_training", "rt_tasks")
ERROR = r"(?:exc|err|error|e|failure|problem|p)"  # the names the product gives a caught error
TEXT_TESTS = {
    "a substring of an error's text": re.compile(rf"\bin\s+(?:str\({ERROR}\)|{ERROR}\.(?:message|fix)\b)"),
    "an error's text compared": re.compile(rf"(?:\.message|\.fix|str\({ERROR}\))\s*[!=]="
                                           rf"|[!=]=\s*(?:\w+\.(?:message|fix)\b|str\({ERROR}\))"),
    "a pattern matched on an error's text": re.compile(rf"re\.\w+\(.*(?:\.message|\.fix\b|str\({ERROR}\))"),
    "an attribute set on an error": re.compile(rf"^\s*{ERROR}\.\w+\s*=[^=]"),
}


def product_lines():
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                yield f"{path.relative_to(ROOT)}:{number}", line


def test_no_control_flow_reads_error_text():
    found = [f"{where}: {what}: {line.strip()}" for where, line in product_lines()
             for what, pattern in TEXT_TESTS.items() if pattern.search(line)]
    assert not found, "decide by the error's type or fields instead:\n" + "\n".join(found)


@pytest.mark.parametrize("line", [
    'if "no job" in exc.message:', "if not any(exc.message == r[1] for r in rows):",
    'if re.search(r"S3 error (404|NoSuchKey)", exc.message):', "error.job_exit = code",
    "problems += [] if any(str(exc) == str(p) for p in problems) else [exc]", 'if "denied" in str(e):',
    'if "vm.start" not in exc.fix:',
])
def test_the_grep_catches_the_forms_it_replaced(line):
    assert any(pattern.search(line) for pattern in TEXT_TESTS.values()), line


def test_a_job_failure_carries_the_jobs_exit_code():
    assert exit_code_for(JobFailed("job x exited 3", exit_code=3)) == 3
    assert exit_code_for(JobFailed("job x exited 0?")) == 10  # none of its own: rt's JOB_FAILED


def test_a_preflight_failure_carries_what_the_checks_learnt():
    report = object()
    assert PreflightError([("host", "down", "start it")], report).report is report
    assert PreflightError([("host", "down", "start it")]).report is None


def test_a_missing_job_is_a_bad_input_of_its_own_type():
    assert issubclass(JobNotFound, InputError) and exit_code_for(JobNotFound("no job 'x' on vm")) == 2


def test_storage_errors_carry_s3s_code():
    assert storage.StorageError("head", code="404").missing and storage.StorageError("get", code="NoSuchKey").missing
    assert storage.StorageError("put", code="PreconditionFailed").conflict
    other = storage.StorageError("put", code="SlowDown")
    assert not other.missing and not other.conflict and other.code == "SlowDown"


def test_one_mistake_found_twice_is_reported_once():
    a, b = InputError("--steps 'x' is not a number", "give a number"), InputError("--steps 'x' is not a number",
                                                                                 "give a number")
    c = InputError("--steps 'x' is not a number", "another fix")
    assert unique([a, b, c]) == [a, c]
