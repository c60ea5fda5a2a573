"""The layers, read from the source: the product imports nothing of the sandbox, the core nothing of
Invoke's task layer, and no module of the product imports itself back through others.

Imports inside functions count too: a lazy import is still a dependency. The core's packages also keep
the order ARCHITECTURE.md draws (CORE_LAYERS): each imports only from the rows below its own.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

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


def module_graph(package: str) -> dict[str, set[str]]:
    """Each module of `package` (its subpackages' too) -> the modules of `package` it imports. A package's
    __init__ importing its own modules is left out: that is how a package shows its parts, not a circle."""
    modules = {_module(p): p for p in (ROOT / package).rglob("*.py")}
    return {name: {i for i in imports_of(path) if i in modules and i != name and not i.startswith(name + ".")}
            for name, path in modules.items()}


def package_graph(package: str) -> dict[str, set[str]]:
    """The same, one level up: each top-level module or subpackage of `package` -> those it imports."""
    def part(module: str) -> str:
        return ".".join(module.split(".")[:2])

    graph: dict[str, set[str]] = {}
    for module, deps in module_graph(package).items():
        graph.setdefault(part(module), set()).update(part(d) for d in deps if part(d) != part(module))
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import circles of a graph, each as the path that closes it (a depth-first walk)."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(trail[trail.index(nxt):] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def _said(found: list[list[str]]) -> str:
    return "import circles: " + "; ".join(" -> ".join(c) for c in found)


def test_the_product_never_imports_the_sandbox() -> None:
    for path in (ROOT / "remote_training").rglob("*.py"):
        bad = sorted(i for i in imports_of(path) if i == "rt_sandbox" or i.startswith("rt_sandbox."))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_the_core_does_not_import_the_task_layer() -> None:
    for path in (ROOT / "remote_training").rglob("*.py"):
        bad = sorted(i for i in imports_of(path) if i in ("rt_tasks", "tasks", "invoke")
                     or i.startswith(("rt_tasks.", "tasks.", "invoke.tasks")))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_no_import_circle_between_the_products_files() -> None:
    found = circles(module_graph("remote_training"))
    assert not found, _said(found)


@pytest.mark.parametrize("package", ["remote_training", "rt_sandbox", "rt_tasks"])
def test_no_import_circle_between_files_or_packages(package: str) -> None:
    found = circles(module_graph(package))
    found += [c for c in circles(package_graph(package)) if c not in found]  # a flat package: the same graph
    assert not found, _said(found)


# The core's packages and top-level modules, lowest first (ARCHITECTURE.md, Layers): each imports only
# from the rows below its own. `remote_training` is the package's own __init__, which imports nothing.
CORE_LAYERS = (
    ("remote_training", "errors", "progress", "state", "output"),
    ("validate", "config_files", "interrupts"),
    ("fleet",),  # hosts.yaml, SSH, snapshots, power (its providers), the serverless target's schema
    ("records", "images"),  # ledger, run records and S3; image refs, builds, the registry
    ("jobs",),  # a job's plan, spec, compose launch and monitor, the record stage
    ("placement",),
    ("preflight",),
    ("serverless",),
    ("targets",),  # the Target interface and its two implementations
    ("launch",),  # the pipeline over the targets
    ("guard", "doctor"),
)


def layer_breaches(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...], package: str) -> list[str]:
    """Each import of `graph` that does not go to a lower row of `layers`, and each part no row names."""
    row = {f"{package}.{name}" if name != package else name: i for i, names in enumerate(layers) for name in names}
    unplaced = [f"{part} is in no layer" for part in sorted(graph) if part not in row]
    upward = [f"{part} imports {dep}" for part, deps in sorted(graph.items()) for dep in sorted(deps)
              if part in row and dep in row and row[dep] >= row[part]]
    return unplaced + upward


def test_the_cores_packages_import_only_downward() -> None:
    bad = layer_breaches(package_graph("remote_training"), CORE_LAYERS, "remote_training")
    assert not bad, "; ".join(bad)


def test_the_layer_check_sees_an_upward_import() -> None:
    layers = (("p",), ("low",), ("high",))
    assert layer_breaches({"p.low": {"p.high"}, "p.high": {"p.low"}}, layers, "p") == ["p.low imports p.high"]
    assert layer_breaches({"p.new": set()}, layers, "p") == ["p.new is in no layer"]


def test_the_circle_check_sees_a_circle() -> None:
    """The walk itself: a circle of three, a package importing its own module, a diamond."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"p": {"p.m"}, "p.m": set(), "x": {"y", "z"}, "y": {"z"}, "z": set()}) == []
