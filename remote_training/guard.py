"""The launch's hooks (jobs/spec.Guard) that plug placement, the checks and the ledger into the pipeline
(launch/pipeline.py):

    guard = LaunchGuard(runner, inventory)
    spec = guard.place(spec)             # host "auto" -> a real host, and says why (the place stage)
    checks = guard.checks(spec)          # the check stage: what preflight.run_preflight is given
    guard.keep(spec, report)             # ... and the report it gave (abandon() if it raised)
    guard.intent(spec) ... guard.record(spec, result)   # the record stage's ledger lines
    guard.finish(job_id, exit_code)      # when the job's end is seen (the follow, jobs.wait)
"""
from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable

from . import preflight
from .errors import InputError, RTError
from .fleet.inventory import Inventory
from .fleet.snapshot import ENDED
from .records import claims, storage
from .records.ledger import Ledger

if TYPE_CHECKING:
    from .jobs.spec import JobSpec


def _find_serverless(inventory: Any, job_id: str, targets: Any) -> Any:
    """serverless/jobs.find, loaded only when a claim's earlier launch was on a serverless target: a launch on a
    fixed host does not import the Nebius client and the Loki reader (about 25 ms on the launch's path)."""
    from .serverless import jobs

    return jobs.find(inventory, job_id, targets)


class LaunchGuard:
    def __init__(self, runner: Any, inventory: Inventory, *, ledger: Ledger | None = None, s3: Any = None,
                 check_image: bool = True, check_in_dry_run: bool = True,
                 echo: Callable[[str], None] | None = None, overflow: Any = None) -> None:
        self.runner = runner
        self.inventory = inventory
        self.ledger = ledger or Ledger()
        self._s3 = s3
        self._s3_future: Future | None = None
        self.overflow = overflow  # the serverless target --host auto may overflow to (placement.overflow)
        self.check_image = check_image
        self.check_in_dry_run = check_in_dry_run  # preflight only reads, so --dry-run shows refusals too
        self.echo = echo or (lambda line: print(line))
        self.reports: dict[str, preflight.PreflightReport] = {}
        self.claims: dict[str, dict[str, Any] | None] = {}
        self.intents: set[str] = set()  # launches whose intent is in the ledger

    def _prefetch_s3(self) -> None:
        """Make the S3 client in the background (botocore's, when static keys do not do, takes a quarter
        of a second: it overlaps the SSH checks)."""
        if self._s3 is None and self._s3_future is None:
            pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-client")
            self._s3_future = pool.submit(self._make_s3)
            pool.shutdown(wait=False)

    def close(self) -> None:
        """Nothing is held between launches (the Guard protocol's)."""

    def _make_s3(self) -> Any:
        return storage.client(self.inventory.s3_endpoint)

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self._s3_future.result() if self._s3_future else self._make_s3()
        return self._s3

    def place(self, spec: JobSpec) -> Any:
        """Resolve `host="auto"`; print which host and why. Other specs come back unchanged.

        The fixed fleet first (those machines are paid for); only when none of it can take the job
        and `overflow` names a serverless target, that target, saying why."""
        try:
            placed, chosen = preflight.resolve_auto(spec, self.runner, self.inventory)
        except InputError as exc:
            if self.overflow is None or spec.host != "auto":
                raise
            from dataclasses import replace

            from .fleet.serverless_target import resource_name

            self.echo(f"placement: {self.overflow.name} (Nebius Serverless, placement.overflow): no fixed host can "
                      f"take it: {exc.message.split(': ', 1)[-1]}")
            return replace(spec, host=self.overflow.name, job_id=resource_name(spec.job_id))
        if chosen:
            self.echo(f"placement: {chosen.host.name}: {chosen.reason}")
        return placed

    def checks(self, spec: JobSpec) -> dict[str, Any] | None:
        """What the check stage hands `preflight.run_preflight` for `spec`, besides the host probe (None:
        nothing to check, a dry run with check_in_dry_run off). The output's claim is this launch's from
        here: run_preflight writes it once the output is known free, and abandon() gives it back."""
        if self.runner.dry_run and not self.check_in_dry_run:
            return None
        needs_s3 = bool(spec.inputs or spec.output)
        if needs_s3:
            self._prefetch_s3()  # overlaps the SSH checks
        # The output is claimed (its run.json written) as soon as it is known free; taken back by
        # abandon() when another check fails, or when the launch itself fails.
        claim = ({"entry": self.ledger.entry(spec), "still_writing": self.still_writing,
                  "take_back": claims.TakeBack(self.runner, self.inventory, self.ledger, _find_serverless)}
                 if spec.run_folder and not self.runner.dry_run else None)
        self.claims[spec.job_id] = claim
        # the runner's inventory: a VM the provision stage started may have moved to a new address
        return {"runner": self.runner, "inventory": self.runner.inventory,
                "s3": (lambda: self.s3) if needs_s3 else None, "check_image_tag": self.check_image,
                "dry_run": bool(self.runner.dry_run), "claim": claim}

    def keep(self, spec: JobSpec, report: preflight.PreflightReport) -> None:
        """The checks passed: their report (the image digest, the checkpoint, the record stage's), notes said."""
        self.reports[spec.job_id] = report
        for note in report.notes:
            self.echo(f"preflight: {note}")

    def image_digest(self, job_id: str) -> str | None:
        """The digest the image check saw for this launch (None: not checked, or the registry gave none)."""
        report = self.reports.get(job_id)
        return report.image_digest if report else None

    def intent(self, spec: JobSpec) -> None:
        """The ledger's launch line, written before the launch may start anything (run.json's claim already
        is): a launch killed at any point after this is in jobs.history. Raises when it cannot be written:
        no job without a record."""
        claim = self.claims.get(spec.job_id)
        self.ledger.launch(claim["entry"] if claim else self.ledger.entry(spec))
        self.intents.add(spec.job_id)

    def record(self, spec: JobSpec, result: Any) -> None:
        if getattr(result, "dry_run", False):
            return
        report = self.reports.get(spec.job_id)
        extra = {"container": getattr(result, "container_id", ""), **dict(getattr(result, "details", {}) or {})}
        extra = {**self._cost_facts(spec, extra), **extra}
        if report and report.checkpoint:
            extra["checkpoint"] = report.checkpoint.url
        claim = self.claims.get(spec.job_id)
        try:
            self.ledger.start(spec, image_digest=report.image_digest if report else None, extra=extra,
                              entry=claim["entry"] if claim else None)
        except (OSError, RTError) as exc:  # the job runs either way; a lost record is a warning, not a failure
            import sys

            sys.stderr.write(f"warning: {spec.job_id} started but was not recorded in the ledger: {exc}\n")
        if claim and claim.get("url") and extra.get("container"):
            try:  # run.json says the launch started: a launch that lost the race for the folder stops waiting
                storage.update_run(self.s3, claim["url"], spec.job_id, {"container": extra["container"]},
                                   known=claim.get("written"))
            except RTError as exc:
                import sys

                sys.stderr.write(f"warning: {spec.job_id} started; its start is not in {claim['url']}: {exc}\n")

    def still_writing(self, launch: dict[str, Any]) -> str | None:
        """Whether an earlier launch of the run folder (a run.json entry) may still write there: where it
        runs, or why that cannot be told (its host silent, its target's API down: unknown is still
        writing); None once its container is gone or ended."""
        from .targets.fleet import for_host

        job_id, where = launch.get("job_id") or "", launch.get("host") or ""
        try:  # the runner's inventory: a VM started here may have moved to a new address
            found = for_host(self.runner.inventory, self.runner, where).find(job_id)
        except RTError as exc:
            return f"{where or 'its host'} did not answer ({exc.message}): it may still run"
        return f"it is {found.job.state} on {where}" if found and found.job.state not in ENDED else None

    def _cost_facts(self, spec: JobSpec, extra: dict[str, Any]) -> dict[str, Any]:
        """Host type, GPU count, serverless platform/preset: what jobs.history --cost prices the job by."""
        from .records.cost import find, launch_facts

        where = find(self.inventory, spec.host) if self.inventory is not None else None
        chosen = {k: extra[k] for k in ("platform", "preset") if extra.get(k)}  # a serverless launch's own choice
        return launch_facts(where, spec.gpu_mem_mb > 0, **chosen) if where is not None else {}

    def abandon(self, spec: JobSpec) -> None:
        """The launch failed after the checks passed: take its claim on the output back, and its intent."""
        self._release(spec.job_id, self.claims.pop(spec.job_id, None))
        if spec.job_id in self.intents:
            try:
                self.ledger.abandoned(spec.job_id)
            except OSError as exc:
                import sys

                sys.stderr.write(f"warning: {spec.job_id} did not start; the ledger still names it: {exc}\n")

    def _release(self, job_id: str, claim: dict[str, Any] | None) -> None:
        if not claim or not claim.get("url"):
            return
        from .records import storage

        try:
            storage.release_run(self.s3, claim["url"], job_id)
        except RTError as exc:
            import sys

            sys.stderr.write(f"warning: {job_id} did not start, but its claim {claim['url']} could not be taken "
                             f"back: {exc}; delete it by hand\n")

    def finish(self, job_id: str, exit_code: int, ended: str | None = None) -> None:
        entry = self.ledger.get(job_id)
        self.ledger.finish(job_id, exit_code, s3=self.s3 if entry and entry.get("run_json") else None, ended=ended)
