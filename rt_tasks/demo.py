"""demo: the seed's runbook end to end on the sandbox fleet."""
from __future__ import annotations

import time

from invoke import Collection

from ._cli import PROJECT_ROOT, rt_task


@rt_task(help={"vm": "sandbox VM to start, train on and reap (default vm-train3)",
               "run_id": "name of this pass (S3 paths and experiment); default: demo-<time>",
               "serverless": "only the Nebius Serverless pass (cloud target): "
                             "convert, train, serve, infer, stop, cost"})
def demo(c, vm="", run_id="", serverless=False):
    """Run the runbook on the sandbox: images, VM, convert, stats, train, serve, infer, reap; then on Serverless."""
    from remote_training.output import print_table
    from rt_sandbox import fleet
    from rt_sandbox.demo import DemoRun

    fleet.ensure_up(PROJECT_ROOT)  # a no-op when `make demo` already brought it up
    run = DemoRun(PROJECT_ROOT, run_id or time.strftime("demo-%y%m%d%H%M%S"), vm=vm or c.demo.vm)
    try:
        if serverless:
            run.inv("images", ["images.push"])
            run.serverless()
            run.inv("jobs.history --cost", ["jobs.history", "--cost"])
        else:
            run.pipeline()
    finally:
        print()
        print_table(["step", "host", "seconds", "GPU-hours (stand-in)", "USD (cost.prices)", "result"],
                    run.summary_rows(step_price(c, run)), title=f"demo {run.run_id}")


def step_price(c, run):
    """What a step's job cost at cost.prices (its host's rate for the step's time; a server's time is its
    "server up" row); None for a step without a job or a rate. The fixed-vs-serverless line is jobs.history's."""
    from pathlib import Path

    from remote_training.errors import RTError
    from remote_training.fleet.inventory import load_inventory
    from remote_training.records.cost import facts_of
    from remote_training.records.ledger import Ledger
    from ._history import cost_prices

    env = run.env()
    try:  # the summary is printed after a failed step too: a price problem must not hide that failure
        ledger, inventory = Ledger(Path(env["INVOKE_JOBS_LEDGER"])), load_inventory(Path(env["INVOKE_HOSTS_FILE"]))
        prices = cost_prices(c)
    except RTError:
        return lambda step: None

    def usd(step):
        entry = ledger.get(step.job) if step.job and (step.gpu or step.host == "cloud") else None
        if entry is None or (entry.get("kind") == "serve" and "server up" not in step.name):
            return None
        rate, _ = prices.rate(facts_of(entry, inventory))
        return None if rate is None else rate * step.seconds / 3600

    return usd


ns = Collection("demo")
ns.add_task(demo)
ns.configure({"demo": {"vm": "vm-train3"}})
