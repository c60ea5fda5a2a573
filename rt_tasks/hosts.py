"""hosts: the fleet as the inventory describes it."""
from __future__ import annotations

from invoke import Collection

from remote_training.output import print_json, print_table
from ._cli import load_inventory, rt_task


@rt_task(help={"json": "print a JSON list instead of a table"})
def list_(c, json=False):
    """Show the fleet from the inventory (hosts.file)."""
    inv = load_inventory(c)
    if json:
        print_json([h.to_dict() for h in [*inv.hosts, *inv.serverless]])
        return
    rows = [(h.name, ", ".join(h.aliases), h.gpu, f"{h.gpu_memory_gb:g} GB", h.provider.type, h.ssh,
             " ".join(h.compose)) for h in inv.hosts]
    rows += [(t.name, ", ".join(t.aliases), f"{t.gpu_name} ({t.gpu.preset})", f"{t.gpu_memory_gb:g} GB", t.kind,
              "(none: Nebius API)", f"{t.parent_id}") for t in inv.serverless]
    print_table(["name", "aliases", "gpu", "memory", "provider", "ssh", "compose"], rows,
                title=f"hosts ({inv.path})", optional=("compose", "aliases", "memory", "provider"))


@rt_task(help={"host": "host name or alias"})
def check(c, host):
    """Validate the inventory and show one host (or serverless target) as it was resolved."""
    inv = load_inventory(c)
    target = inv.serverless_target(host)
    print_json(target.to_dict() if target else inv.get(host).to_dict())


ns = Collection("hosts")
ns.add_task(list_, name="list", default=True)
ns.add_task(check)
ns.configure({"hosts": {"file": "", "connect_timeout": 5}})  # file: empty means the search (README "Configuration")
