"""The `inv` entry point: one collection per domain.

This is a package, not a tasks.py: Python cannot import a module and a package
of the same name from one folder, and a package lets each domain live in its own
small file while `inv` still finds `tasks` from the repository root.
"""
import sys
from pathlib import Path

# Invoke imports this package by path; make the core package beside it importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from invoke import Collection  # noqa: E402

import importlib  # noqa: E402

# One module per domain, each ending with its `ns` Collection and its defaults.
DOMAINS = ("hosts", "sandbox", "images", "vm", "dataset", "train", "serve", "infer", "jobs", "doctor", "demo")

ns = Collection()
for name in DOMAINS:
    if not (Path(__file__).parent / f"{name}.py").exists():
        continue  # a domain whose tasks have not landed yet
    module = importlib.import_module(f"{__name__}.{name}")
    if name in ("doctor", "demo"):
        for t in module.ns.tasks.values():  # single-task domains sit at the top: `inv doctor`
            ns.add_task(t)
    else:
        ns.add_collection(module.ns)
    ns.configure(module.ns.configuration())
