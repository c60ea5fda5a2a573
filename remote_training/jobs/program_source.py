"""What a checkout's own Python code says about a program: whether it takes a flag.

upstream's `workflows/nebius/serve.sh` adds `--idle_timeout_min=20` to the servers it starts (endpoints
have no scale-to-zero), but only programs whose entry point declares that parameter accept it:
the vendor servers' commands are configs of `positronic.offboard.server.serve(..., idle_timeout_min)`,
while `positronic-server` (the dataset viewer, `positronic.server.positronic_server:main`) has none and
fails on an unknown flag. So the flag is added only when the checkout's code shows the parameter, read
with `ast` (nothing imported or run): in the program's module itself, or in a function it imports by
name from the same package (one level, as the vendor servers import `serve`).
"""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path


def module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def program_module(root: Path, program: str) -> str | None:
    """The module a program runs: itself for `python -m X`, else the console script's from pyproject.toml."""
    if module_file(root, program):
        return program
    try:
        scripts = tomllib.loads((root / "pyproject.toml").read_text()).get("project", {}).get("scripts", {})
    except (OSError, tomllib.TOMLDecodeError):
        return None
    target = scripts.get(program)
    return target.split(":", 1)[0].strip() if isinstance(target, str) else None


def _functions_with(tree: ast.AST, parameter: str) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            if any(a.arg == parameter for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)):
                found.add(node.name)
    return found


def _parse(path: Path | None) -> ast.AST | None:
    try:
        return ast.parse(path.read_text(), str(path)) if path else None
    except (OSError, SyntaxError, ValueError):
        return None


def takes_parameter(root: Path, program: str, parameter: str) -> bool:
    """Whether `program`'s code in the checkout at `root` declares `parameter` (False when unreadable)."""
    module = program_module(root, program)
    tree = _parse(module_file(root, module)) if module else None
    if tree is None:
        return False
    if _functions_with(tree, parameter):
        return True
    package = module.split(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == package:
            imported = _parse(module_file(root, node.module or ""))
            names = {alias.name for alias in node.names}
            if imported is not None and names & _functions_with(imported, parameter):
                return True
    return False
