"""doctor: the runbook's common issues, checked in parallel, each with its fix."""
from __future__ import annotations

from pathlib import Path

from invoke import Collection, Exit

from ._cli import load_inventory, rt_task, runner, setting


def _list(value: object) -> list[str]:
    """Config lists may arrive as a list or, from INVOKE_* env vars, as 'a,b'."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in (value or [])]


@rt_task(iterable=["host", "job", "log"], help={
    "host": "check only this host (name or alias); repeat for several; default: every host",
    "json": "print the results as JSON instead of a table",
    "need_gb": "GPU memory the next job needs, in GB (default doctor.gpu_need_gb: a GR00T server ~6)",
    "service": "size the GPU check for this compose service's need (placement rules), e.g. groot-train",
    "timeout": "seconds each check may take (default doctor.timeout)",
    "job": "instead of the machine checks, read this job's log for known problems; repeatable",
    "log": "instead of the machine checks, read this saved log file for known problems; repeatable",
})
def doctor(c, host=None, json=False, need_gb=None, service=None, timeout=None, job=None, log=None):
    """Check engine, contexts, SSH, Nebius auth, S3, GPU memory, ports and display; print each fix."""
    from remote_training.doctor import FAIL, DoctorSettings, diagnose, failed
    from remote_training.errors import ExitCode
    from remote_training.output import print_json, print_table

    inventory = load_inventory(c)
    need_mb = int(float(need_gb if need_gb is not None else setting(c, "doctor.gpu_need_gb")) * 1024)
    needs_h100 = False
    compose_project = _compose_project(c, inventory)
    if service:
        from remote_training.placement import rule

        service_rule = rule(_program(compose_project, service))  # unknown: InputError with a did-you-mean
        needs_h100 = service_rule.needs_h100
        need_mb = need_mb if need_gb is not None else service_rule.gpu_mem_mb
    settings = DoctorSettings(
        ports=tuple(int(p) for p in _list(setting(c, "doctor.ports"))),
        buckets=tuple(_list(setting(c, "doctor.buckets"))),
        gpu_need_mb=need_mb,
        needs_h100=needs_h100,
        timeout=float(timeout if timeout is not None else setting(c, "doctor.timeout")),
        connect_timeout=float(setting(c, "hosts.connect_timeout")),
        workers=int(setting(c, "doctor.workers")),
        compose_project=str(compose_project or ""),
    )
    results = config_results(c) + diagnose(inventory, host or None, runner=runner(c, inventory=inventory),
                                           settings=settings, jobs=job or (), log_files=log or ())
    if json:
        print_json([r.to_dict() for r in results])
    else:
        from remote_training.output import Styled

        marks = {"ok": Styled("[green]ok[/]"), "warn": Styled("[yellow]warn[/]"), FAIL: Styled("[red]FAIL[/]")}
        print_table(["check", "target", "status", "finding", "fix"],
                    [(r.check, r.target, marks[r.status], r.summary, r.fix) for r in results],
                    title=f"doctor ({inventory.path})")
    bad = failed(results)
    if bad:
        raise Exit(f"error: {len(bad)} check(s) failed: " + ", ".join(f"{r.check}[{r.target}]" for r in bad),
                   code=int(ExitCode.PREFLIGHT))


def config_results(c) -> list:
    """Which files this run's configuration came from: Invoke's own (README "Configuration"), the INVOKE_*
    variables set (names only), the inventory and the image catalog with the step of the search that found them."""
    import os

    from remote_training.config_files import CATALOG, HOSTS
    from remote_training.doctor.base import OK, WARN, CheckResult
    from remote_training.errors import RTError
    from ._cli import CHECKOUT, config_file

    # Invoke's levels and suffixes, first found per level (docs.pyinvoke.org, concepts/configuration)
    levels = ["/etc/invoke", "~/.invoke", str((CHECKOUT or Path.cwd()) / "invoke")]
    files = [found for found in (next((f for f in (Path(f"{p}.{s}").expanduser() for s in ("yaml", "yml", "json", "py"))
                                       if f.is_file()), None) for p in levels) if found]
    if os.environ.get("INVOKE_RUNTIME_CONFIG"):
        files.append(Path(os.environ["INVOKE_RUNTIME_CONFIG"]))
    names = sorted(k for k in os.environ if k.startswith("INVOKE_") and k != "INVOKE_RUNTIME_CONFIG")
    read = ", ".join(map(str, files)) or "none: the defaults"
    rows = [CheckResult("config", "invoke files", OK, read + (f"; set: {', '.join(names)}" if names else ""))]
    found = config_file(c, HOSTS, setting(c, "hosts.file"))
    rows.append(CheckResult("config", "inventory", OK, f"{found.path} ({found.how})"))
    try:
        catalog = config_file(c, CATALOG, setting(c, "images.catalog"))
        rows.append(CheckResult("config", "image catalog", OK, f"{catalog.path} ({catalog.how})"))
    except RTError as exc:  # only the image tasks need it
        rows.append(CheckResult("config", "image catalog", WARN, exc.message, exc.fix or ""))
    return rows


def _compose_project(c, inventory):
    from remote_training.errors import RTError
    from ._jobrun import compose_folder

    try:
        return compose_folder(c, inventory)
    except RTError:
        return None  # the checkout check says what is missing


def _program(compose_project, service: str) -> str:
    """A compose service name of the checkout (groot-train) as the program it runs; else as given."""
    from remote_training.errors import RTError
    from remote_training.jobs.catalog import load_checkout

    try:
        services = load_checkout(compose_project).services if compose_project else {}
    except RTError:
        services = {}
    if service in services:
        return services[service].program
    from remote_training.errors import InputError
    from remote_training.placement import RULES
    from remote_training.validate import did_you_mean

    if service not in RULES:
        raise InputError(f"unknown service {service!r}", f"{did_you_mean(service, [*services, *RULES])}"
                         f"known: {', '.join(services) or ', '.join(RULES)}")
    return service


ns = Collection("doctor")
ns.add_task(doctor)
ns.configure({"doctor": {
    "ports": "8000,9000",  # a string, so INVOKE_DOCTOR_PORTS=8000,9000,8080 can override it
    "buckets": "interim,checkpoints",
    "gpu_need_gb": 6,
    "timeout": 20,
    "workers": 8,
}})
