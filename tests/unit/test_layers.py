"""The layers, read from the source: the product imports nothing of the sandbox, the core nothing of
Invoke's task layer, and no module of the product imports itself back through others.

Imports inside functions count too: a lazy import is still a dependency.
"""
from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module `path` imports (relative imports resolved)."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def product_graph() -> dict[str, set[str]]:
    modules = {_module(p): p for p in (ROOT / "remote_training").rglob("*.py")}
    return {name: {i for i in imports_of(path) if i in modules and i != name} for name, path in modules.items()}


def test_the_product_never_imports_the_sandbox() -> None:
    for path in (ROOT / "remote_training").rglob("*.py"):
        bad = sorted(i for i in imports_of(path) if i == "rt_sandbox" or i.startswith("rt_sandbox."))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_core_does_not_import_the_task_layer() -> None:
    for path in (ROOT / "remote_training").rglob("*.py"):
        bad = sorted(i for i in imports_of(path) if i in ("rt_tasks", "tasks", "invoke")
                     or i.startswith(("rt_tasks.", "tasks.", "invoke.tasks")))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_no_import_circle_in_the_product() -> None:
    graph = product_graph()
    # A package's __init__ importing its own modules is not a circle of design: leave those edges out.
    graph = {m: {i for i in deps if not i.startswith(m + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)
