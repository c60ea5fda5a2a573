"""Errors carry structure: the product decides by an error's type and fields, never by its text, and
sets no attribute on an exception after making it (a field of its class says what it carries)."""
from __future__ import annotations

import ast
import re
import textwrap
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


# The one function allowed to read an error's text, and why: paramiko raises these failures as a bare
# SSHException whose message is all it gives (its docstring names them).
READS_TEXT_ON_PURPOSE = {("remote_training/fleet/remote.py", "_bare_ssh_failure")}
TEXT_FIELDS = ("message", "fix", "args", "text", "strerror")  # where an error keeps its words
TEXT_METHODS = ("startswith", "endswith", "find", "index", "count", "__contains__")


class _TextMatches(ast.NodeVisitor):
    """Decisions on an error's text, one function at a time: the error is a name an `except` binds (or a
    parameter called exc/err/error), its text `str(err)`, a field of TEXT_FIELDS, a method chain on those
    (`.lower()`), or a name assigned one of these. A match is `in`, `==`/`!=`, a TEXT_METHODS call or a
    `re` call on such text; showing the text (f-strings, slicing, splitlines) is no decision."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int]] = []  # (function, line)
        self._scopes: list[tuple[str, set[str], set[str]]] = [("<module>", set(), set())]  # (name, errors, texts)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        params = {a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)}
        self._scopes.append((node.name, params & {"exc", "err", "error"}, set()))
        self.generic_visit(node)
        self._scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._scopes[-1][1].add(node.name)
        self.generic_visit(node)

    def _is_text(self, node: ast.AST) -> bool:
        _, errors, texts = self._scopes[-1]
        if isinstance(node, ast.Name):
            return node.id in texts
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("str", "repr"):
            return len(node.args) == 1 and isinstance(node.args[0], ast.Name) and node.args[0].id in errors
        if isinstance(node, ast.Attribute):
            return node.attr in TEXT_FIELDS and isinstance(node.value, ast.Name) and node.value.id in errors
        if isinstance(node, ast.Subscript):  # exc.args[0]
            return self._is_text(node.value)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):  # str(exc).lower().strip()
            return node.func.attr not in TEXT_METHODS and self._is_text(node.func.value)
        return False

    def visit_Assign(self, node: ast.Assign) -> None:
        if self._is_text(node.value):
            self._scopes[-1][2].update(t.id for t in node.targets if isinstance(t, ast.Name))
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        sides = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, sides, sides[1:]):
            if isinstance(op, (ast.In, ast.NotIn)) and self._is_text(right) or \
                    isinstance(op, (ast.Eq, ast.NotEq)) and (self._is_text(left) or self._is_text(right)):
                self.found.append((self._scopes[-1][0], node.lineno))
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and (
                func.attr in TEXT_METHODS and self._is_text(func.value)
                or isinstance(func.value, ast.Name) and func.value.id == "re"
                and any(self._is_text(a) for a in node.args)):
            self.found.append((self._scopes[-1][0], node.lineno))
        self.generic_visit(node)


def text_matches(source: str) -> list[tuple[str, int]]:
    finder = _TextMatches()
    finder.visit(ast.parse(source))
    return finder.found


def product_lines():
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                yield f"{path.relative_to(ROOT)}:{number}", line


def test_no_control_flow_reads_error_text():
    found = [f"{where}: {what}: {line.strip()}" for where, line in product_lines()
             for what, pattern in TEXT_TESTS.items() if pattern.search(line)]
    assert not found, "decide by the error's type or fields instead:\n" + "\n".join(found)


def test_no_decision_reads_an_errors_text_through_a_name_or_method():
    """The grep above sees `in str(exc)` on one line; this also sees the text kept in a name first
    (`text = str(exc)` ... `"known_hosts" in text`), and `str(exc).startswith(...)`."""
    found = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            where = str(path.relative_to(ROOT))
            found += [f"{where}:{line} in {function}" for function, line in text_matches(path.read_text())
                      if (where, function) not in READS_TEXT_ON_PURPOSE]
    assert not found, "decide by the error's type, fields or errno instead:\n" + "\n".join(found)


def test_each_function_excused_still_reads_text():
    """An excuse outlives its reason silently: each one must still name a function that reads text."""
    for where, function in READS_TEXT_ON_PURPOSE:
        assert function in {f for f, _ in text_matches((ROOT / where).read_text())}, (where, function)


@pytest.mark.parametrize("source", [
    """
    try:
        conn.open()
    except SSHException as exc:
        text = str(exc)
        if "known_hosts" in text or "not found in" in text:
            raise
    """,
    """
    def classify(exc):
        return str(exc).lower().startswith("no existing session")
    """,
    """
    try:
        go()
    except OSError as failure:
        if failure.args[0] == "Timeout opening channel.":
            pass
    """,
    """
    try:
        go()
    except Exception as exc:
        words = exc.message.lower()
        found = re.search(r"S3 error (404|NoSuchKey)", words)
    """,
])
def test_the_name_tracking_catches_text_matched_later(source):
    assert text_matches(textwrap.dedent(source)), source


def test_showing_an_errors_text_is_no_decision():
    source = """
    def short(exc):
        text = str(exc).strip().splitlines()
        return f"{type(exc).__name__}: {text[-1] if text else ''}"[:200]

    try:
        go()
    except OSError as exc:
        lines = [line for line in str(exc).splitlines() if line]
        if exc.errno == errno.ECONNREFUSED or isinstance(exc.__context__, EOFError):
            print(f"refused: {exc}", lines)
    """
    assert text_matches(textwrap.dedent(source)) == []


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
