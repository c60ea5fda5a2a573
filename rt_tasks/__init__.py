"""The tasks: one collection per domain, for `rt` (rt_rt_tasks/program.py) and for `inv` from the repository root.

This is a package, not a tasks.py: Python cannot import a module and a package
of the same name from one folder, and a package lets each domain live in its own
small file while `inv` still finds `tasks` from the repository root.
"""
import importlib
import sys
from importlib.util import find_spec
from pathlib import Path

from invoke import Collection

from .program import adopt

# One module per domain, each ending with its `ns` Collection and its defaults.
DOMAINS = ("hosts", "sandbox", "images", "vm", "dataset", "train", "serve", "infer", "jobs", "doctor", "demo")
# Domains of development only: they run rt_sandbox, which a development install has (scripts/install.sh puts
# the checkout on its path) and the product's wheel does not ship, so an installed `rt` does not list them.
SANDBOX_DOMAINS = ("sandbox", "demo")

ns = Collection()
for name in DOMAINS:
    if not (Path(__file__).parent / f"{name}.py").exists():
        continue  # a domain whose tasks have not landed yet
    if name in SANDBOX_DOMAINS and find_spec("rt_sandbox") is None:
        continue
    module = importlib.import_module(f"{__name__}.{name}")
    if name in ("doctor", "demo"):
        for t in module.ns.tasks.values():  # single-task domains sit at the top: `inv doctor`
            ns.add_task(t)
    else:
        ns.add_collection(module.ns)
    ns.configure(module.ns.configuration())

# `inv`, `invoke`, `python3 -m invoke`: Invoke's own program object is loading these tasks; from here on
# it follows the same rules as `rt` (TASK --help, --dry, optional positionals, exit codes).
if "invoke.main" in sys.modules:
    adopt(sys.modules["invoke.main"].program)
