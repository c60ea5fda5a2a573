"""Preflight: every check a launch needs, run together, all failures reported at once. The arguments
are not among them: the plan stage (jobs/run.plan_job) refused bad ones before any check runs.

`run_preflight(spec, runner, inventory)` reads a JobSpec (remote_training/jobs/spec.py)
and raises PreflightError with one (check, problem, fix) row per failure, or
returns a PreflightReport (the host state it saw, the latest checkpoint it resolved,
the image digest, notes). It only reads: nothing is created on any host (the one write is the
output's claim, asked for by the caller); a stopped VM the job needs is reported (`startable`): the
pipeline's provision stage, which runs before these, starts it when vm.auto_start allows.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable

from . import placement
from .errors import PreflightError, RTError
from .fleet.inventory import Host, Inventory
from .jobs.s3_checks import Row, check_inputs, check_output, check_storage, run_check  # noqa: F401  (the S3 checks)
from .records import storage

if TYPE_CHECKING:
    from .jobs.spec import JobSpec


@dataclass
class PreflightReport:
    spec: JobSpec
    host_state: placement.HostState | None = None
    placement: placement.Placement | None = None
    checkpoint: storage.Checkpoint | None = None
    image_digest: str | None = None
    replaces: tuple[str, ...] = ()  # job ids that --replace will stop
    startable: str | None = None  # the job's host is a stopped VM its provider can start
    notes: list[str] = field(default_factory=list)


# -- host, GPU and port ----------------------------------------------------------------
def check_port(snap: Any, host: Host, spec: JobSpec, report: PreflightReport) -> list[Row]:
    """The port from the host's snapshot (snapshot.HostSnapshot): containers publishing it, else a
    process outside docker listening on it (ss); reads nothing itself."""
    if spec.port is None:
        return []
    holders = snap.holders(spec.port)
    rows: list[Row] = []
    for holder in holders:
        container, job, service = holder.name, holder.job_id, holder.service
        who = f"container {container}" + (f" (job {job}, {service})" if job else "")
        if job and spec.replace and service == spec.service:
            report.notes.append(f"--replace: {who} will be stopped to free port {spec.port}")
            continue  # --replace stops this service's jobs on the host (targets/host.HostStart.go)
        if job and service == spec.service:
            fix = f"add --replace to stop {job} first, or choose another --port"
        elif job:
            fix = f"stop it first (inv jobs.stop {job}) or choose another --port"
        else:
            fix = f"stop {container} on {host.name} (docker stop {container}) or choose another --port"
        rows.append(("port", f"port {spec.port} on {host.name} is held by {who}", fix))
    if not holders and snap.listens(spec.port):
        rows.append(("port", f"port {spec.port} on {host.name} is taken by a process outside docker",
                     "free it on the host or choose another --port"))
    return rows


def check_host(runner: Any, inventory: Inventory, spec: JobSpec, report: PreflightReport,
               power: Callable[[Host], str] | None = None, dry_run: bool = False,
               probed: Callable[[], tuple[str, int] | None] | None = None) -> list[Row]:
    """`probed`: gives the snapshot's (output, status) when the launch command takes it on the host.
    A stopped VM that its provider can start is one row, and `report.startable` names it: starting
    it is the provision stage's step (targets/host.FixedHosts.provision), before the checks."""
    try:
        host = inventory.get(spec.host)
    except RTError as exc:
        return [("host", exc.message, exc.fix or "name a host from hosts.yaml")]
    rule = placement.rule(spec.program) if spec.program in placement.RULES else None
    need = spec.gpu_mem_mb or (rule.gpu_mem_mb if rule else 0)
    why = placement.eligibility(spec.program, host, need) if rule else None
    if why:
        h100 = [h.name for h in inventory.hosts if placement.is_h100(h)]
        fix = f"use --host auto or one of: {', '.join(h100)}" if rule and rule.needs_h100 else "use a larger host"
        return [("host", why, fix)]
    power = power or placement.provider_power(inventory)
    state = placement.probe(runner, host, power, probed=probed)
    if state.power != "running" and state.startable and dry_run:
        report.notes.append(f"{host.name} is {state.power}; a real launch starts it first (GPU and port unchecked)")
        return []
    report.host_state = state
    if state.power != "running" and state.startable:
        report.startable = host.name
    if state.power != "running":
        fix = (f"start it: inv vm.start {host.name}" if state.startable
               else f"check that {host.name} is on and its sshd answers")
        return [("host", f"{host.name} is {state.power}" + (f": {state.detail}" if state.detail else ""), fix)]
    if spec.replace:
        report.replaces = tuple(j.job_id for j in state.jobs if j.service == spec.service)
    rows = check_port(state.snapshot, host, spec, report) if state.snapshot is not None else []
    freed = sum(j.gpu_mem_mb for j in state.jobs if j.job_id in report.replaces)
    if freed:
        state = replace(state, gpu_used_mb=(state.gpu_used_mb or 0) - freed,
                        jobs=tuple(j for j in state.jobs if j.job_id not in report.replaces))
    problem = placement.memory_problem(state, need)
    if problem:
        rows.append(("gpu memory", problem, "stop a job there (inv jobs.stop), or pick another host (--host auto)"))
    return rows


# -- image ---------------------------------------------------------------------------
def image_digest(ref: str) -> str | None:
    """The manifest digest the registry reports for a tag, asked as `docker pull` would (docker login's
    credentials); None when it gives none, has no such tag or cannot answer (the digest is best effort)."""
    from .errors import ImageError
    from .images.registry import manifest_digest

    try:
        digest = manifest_digest(ref)
    except ImageError:
        return None
    return digest if digest and digest.startswith("sha256:") else None


def check_image(spec: JobSpec, report: PreflightReport) -> list[Row]:
    if not spec.image:
        return [("image", f"no image is known for {spec.service}",
                 "push the images first (inv images.push) so the images env file names a tag")]
    from .images.registry import manifest_digest

    digest = manifest_digest(spec.image)  # one HEAD: present or not, and its digest for the ledger
    if digest is None:
        return [("image", f"{spec.image} is not in the registry", "push it first: inv images.push")]
    report.image_digest = digest if digest.startswith("sha256:") else None
    return []


# -- the entry point ---------------------------------------------------------------
def resolve_auto(spec: JobSpec, runner: Any, inventory: Inventory,
                 power: Callable[[Host], str] | None = None) -> tuple[Any, placement.Placement | None]:
    """A spec whose host is `auto` gets the placed host (and the placement, with its reason)."""
    if spec.host != "auto":
        return spec, None
    chosen = placement.place(spec.program, inventory, runner, need_mb=spec.gpu_mem_mb or None, power=power)
    return replace(spec, host=chosen.host.name), chosen


def run_preflight(spec: JobSpec, runner: Any, inventory: Inventory, *, s3: Any = None,
                  check_image_tag: bool = True,
                  power: Callable[[Host], str] | None = None, dry_run: bool = False,
                  probed: Callable[[], tuple[str, int] | None] | None = None,
                  claim: dict[str, Any] | None = None) -> PreflightReport:
    """All checks at once; PreflightError with every failing row, else the report.

    `claim` ({"entry": ...}): claim the output once it is known free (see check_output); whoever
    passes it takes the claim back (claim["url"]) when the launch does not go ahead.
    """
    chosen = None
    if spec.host == "auto":
        try:
            spec, chosen = resolve_auto(spec, runner, inventory, power)
        except RTError as exc:
            raise PreflightError([("placement", exc.message, exc.fix or "name a host")]) from None
    report = PreflightReport(spec, placement=chosen)
    if chosen:
        report.notes.append(f"placed on {chosen.host.name}: {chosen.reason}")
    # `s3` may be a client or a function that returns one: called inside the S3 checks'
    # threads, so making the client overlaps the SSH checks instead of preceding them.
    if s3 is None:
        def s3_client() -> Any:
            return storage.client(inventory.s3_endpoint)
    elif callable(s3) and not hasattr(s3, "meta"):  # boto3 clients carry .meta; factories do not
        s3_client = s3
    else:
        def s3_client() -> Any:
            return s3
    checks: list[tuple[str, Callable[[], list[Row]]]] = [] if inventory.serverless_target(spec.host) else [
        ("host", lambda: check_host(runner, inventory, spec, report, power, dry_run, probed)),
    ]  # a serverless target has no host to probe: its compute is provisioned per run
    checks.append(("inputs", lambda: check_storage(s3_client, spec, report, claim)))
    if check_image_tag:
        checks.append(("image", lambda: check_image(spec, report)))
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = list(pool.map(lambda item: run_check(*item), checks))
    rows = [row for result in results for row in result]
    if rows:
        raise PreflightError(rows, report)  # what was learnt, e.g. a stopped VM the launch path may start
    return report
