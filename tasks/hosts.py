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
        print_json([h.to_dict() for h in inv.hosts])
        return
    rows = [(h.name, ", ".join(h.aliases), h.gpu, f"{h.gpu_memory_gb:g} GB", h.provider.type, h.ssh,
             " ".join(h.compose)) for h in inv.hosts]
    print_table(["name", "aliases", "gpu", "memory", "provider", "ssh", "compose"], rows,
                title=f"hosts ({inv.path})")


@rt_task(help={"host": "host name or alias"})
def check(c, host):
    """Validate the inventory and show one host as it was resolved."""
    print_json(load_inventory(c).get(host).to_dict())


ns = Collection("hosts")
ns.add_task(list_, name="list", default=True)
ns.add_task(check)
ns.configure({"hosts": {"file": "hosts.yaml", "connect_timeout": 5}})
