"""demo: the seed's runbook end to end on the sandbox fleet."""
from __future__ import annotations

import time

from invoke import Collection

from ._cli import PROJECT_ROOT, rt_task


@rt_task(help={"vm": "sandbox VM to start, train on and reap (default vm-train3)",
               "run_id": "name of this pass (S3 paths and experiment); default: demo-<time>",
               "serverless": "only the Nebius Serverless pass (cloud target): convert, train, serve, infer, stop, cost"})
def demo(c, vm="", run_id="", serverless=False):
    """Run the runbook on the sandbox: images, VM, convert, stats, train, serve, infer, reap; then on Serverless."""
    from rt_sandbox.demo import DemoRun
    from remote_training.output import print_table
    from rt_sandbox import fleet

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
        print_table(["step", "host", "seconds", "GPU-hours (stand-in)", "result"], run.summary_rows(),
                    title=f"demo {run.run_id}")


ns = Collection("demo")
ns.add_task(demo)
ns.configure({"demo": {"vm": "vm-train3"}})
