"""What each job costs: GPU-hours and money from the ledger and vm.reap's samples, priced from config.

The price table (config `cost.prices`) holds USD per hour of one machine, or of one serverless run
of a preset, by host type (hosts.yaml `provider.type`). A number prices every host of that type
(`static: 0`: the desktops are owned); a mapping is searched for the first key that fits, most
specific first: the host's name, `platform/preset`, `platform`, the host's GPU model (hosts.yaml
`gpu`). When none fits the money is unknown (None, shown "?"), never 0, and the key to set is named.

A job counts from its start to its end, or to now when no end is recorded (still running, or
launched without --wait and never waited on: those are flagged `open`). A fixed VM's idle time is
every span between two reap samples, no further apart than `max_gap`, that found it running,
answering and holding no job container, less the ledger's own jobs on it: gaps, stopped and
unreachable time are not counted. Time is cut at ISO week boundaries (UTC), so every item lies in
one week and any grouping is a plain sum.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

from ..errors import InputError, InventoryError
from ..fleet.inventory import Host, Inventory
from ..fleet.provider_kinds import NEBIUS_SERVERLESS, STATIC
from .timestamps import seconds, utc

if TYPE_CHECKING:  # a launch records its facts through this module: the idle history is only for reports
    from ..fleet.idle import SampleStore

CPU_KINDS = ("convert", "stats", "infer")  # an old ledger line without `gpus`: these held no GPU
PRESET_GPUS_RE = re.compile(r"^(\d+)gpu\b")  # Nebius presets: 1gpu-16vcpu-200gb, 8vcpu-32gb
PRICES_FIX = "write cost.prices as {host type: USD per hour, or {name, platform/preset, platform or GPU: USD}}"


@dataclass(frozen=True)
class Facts:
    """What a job's price depends on; a launch records them in its ledger line (launch_facts)."""
    host: str
    host_type: str | None
    gpus: int
    gpu: str | None = None  # the host's GPU model, e.g. H100
    platform: str | None = None  # serverless only, e.g. gpu-h100-sxm
    preset: str | None = None  # serverless only, e.g. 1gpu-16vcpu-200gb


def preset_gpus(preset: str | None) -> int:
    m = PRESET_GPUS_RE.match(preset or "")
    return int(m[1]) if m else 0


def launch_facts(where: Any, uses_gpu: bool, *, platform: str | None = None,
                 preset: str | None = None) -> dict[str, Any]:
    """The ledger fields the cost needs, from the host or serverless target the job launches on, whether
    the job asks for GPU memory (and the platform/preset the serverless launch chose), so history never guesses."""
    if isinstance(where, Host):
        return {"host_type": where.provider.type, "gpu": where.gpu, "gpus": 1 if uses_gpu else 0}  # one GPU a host
    compute = where.gpu if uses_gpu else where.cpu  # conversion runs on the CPU preset, as upstream does it
    platform, preset = platform or compute.platform, preset or compute.preset
    return {"host_type": NEBIUS_SERVERLESS, "platform": platform, "preset": preset, "gpus": preset_gpus(preset)}


def find(inventory: Inventory, name: str) -> Any:
    """The host or serverless target called `name` in the inventory now, or None."""
    try:
        return inventory.serverless_target(name) or inventory.get(name)
    except InventoryError:
        return None


def facts_of(entry: Mapping[str, Any], inventory: Inventory) -> Facts:
    """A ledger line's facts; a line from before launch_facts takes its host's type and GPU from hosts.yaml now."""
    name = entry.get("host") or "?"
    where = find(inventory, name)
    host = where if isinstance(where, Host) else None
    target = where is not None and host is None  # a serverless target of hosts.yaml
    host_type = (entry.get("host_type")
                 or (NEBIUS_SERVERLESS if entry.get("target") == "serverless" or target else None)
                 or (host.provider.type if host else None))
    preset = entry.get("preset")
    if entry.get("gpus") is not None:
        gpus = int(entry["gpus"])
    else:
        gpus = preset_gpus(preset) if preset else 0 if entry.get("kind") in CPU_KINDS else 1
    return Facts(name, host_type, gpus, entry.get("gpu") or (host.gpu if host else None), entry.get("platform"), preset)


@dataclass(frozen=True)
class Prices:
    table: Mapping[str, Any]  # host type -> USD per hour, or -> {key: USD per hour}

    @classmethod
    def parse(cls, raw: Any) -> "Prices":
        if not isinstance(raw, Mapping):
            raise InputError(f"cost.prices must be a table, got {raw!r}", PRICES_FIX)
        table: dict[str, Any] = {}
        for kind, value in raw.items():
            if isinstance(value, Mapping):
                table[str(kind)] = {str(k): _usd(v, f"cost.prices.{kind}.{k}") for k, v in value.items()}
            else:
                table[str(kind)] = _usd(value, f"cost.prices.{kind}")
        return cls(table)

    def rate(self, facts: Facts) -> tuple[float | None, str]:
        """USD per hour and the cost.prices key it came from; (None, the key to set) when none fits."""
        if not facts.host_type:
            return None, ""
        prefix, entry = f"cost.prices.{facts.host_type}", self.table.get(facts.host_type)
        if entry is not None and not isinstance(entry, Mapping):
            return float(entry), prefix
        both = f"{facts.platform}/{facts.preset}" if facts.platform and facts.preset else None
        generic = [k for k in (both, facts.platform, facts.gpu if facts.gpu != "none" else None) if k]
        for key in [facts.host, *generic]:
            if entry and key in entry:
                return float(entry[key]), f"{prefix}.{key}"
        return None, f"{prefix}.{(generic or [facts.host])[0]}"


def _usd(value: Any, where: str) -> float:
    try:
        usd = float(value)
    except (TypeError, ValueError):
        usd = -1.0
    if isinstance(value, bool) or not 0 <= usd < float("inf"):
        raise InputError(f"{where} must be USD per hour (a number, 0 or more), got {value!r}", PRICES_FIX)
    return usd


@dataclass(frozen=True)
class Item:
    """One job's, or one VM's idle, time within one ISO week."""
    what: str  # job / idle
    job_id: str
    user: str
    host: str
    host_type: str | None
    week: str  # e.g. 2026-W48
    start: float
    end: float
    gpus: int
    rate: float | None  # USD per hour; None: unknown
    key: str  # the cost.prices key that priced it, or the one to set
    open: bool = False  # no end recorded: counted up to now

    @property
    def hours(self) -> float:
        return (self.end - self.start) / 3600

    @property
    def usd(self) -> float | None:
        return None if self.rate is None else self.hours * self.rate


def job_items(entries: Sequence[Mapping[str, Any]], prices: Prices, inventory: Inventory, *, now: float,
              since: float | None = None) -> list[Item]:
    items = []
    for entry in entries:
        start, end = seconds(entry.get("started")), seconds(entry.get("ended"))
        if start is None:
            continue  # not a launch line
        facts = facts_of(entry, inventory)
        rate, key = prices.rate(facts)
        for week, s, e in _weeks(max(start, since or start), now if end is None else end):
            items.append(Item("job", entry["job_id"], entry.get("user") or "?", facts.host, facts.host_type, week,
                              s, e, facts.gpus, rate, key, end is None))
    return items


def idle_items(store: "SampleStore", inventory: Inventory, jobs: Sequence[Item], prices: Prices, *, now: float,
               max_gap: float, since: float | None = None) -> list[Item]:
    """Each fixed VM's known-idle time, priced at its own rate."""
    from ..fleet.providers import State

    items = []
    for host in inventory.hosts:
        if host.provider.type in (STATIC, NEBIUS_SERVERLESS):
            continue
        taken = store.history(host.name)
        ran = [(a.t, b.t) for a, b in zip(taken, taken[1:])
               if b.t - a.t <= max_gap and a.state == State.RUNNING.value and a.reachable and not a.jobs]
        busy = [(i.start, i.end) for i in jobs if i.host == host.name]
        rate, key = prices.rate(Facts(host.name, host.provider.type, 0, host.gpu))
        for s, e in _subtract(_merge(ran), _merge(busy)):
            for week, a, b in _weeks(max(s, since or s), min(e, now)):
                items.append(Item("idle", "", "-", host.name, host.provider.type, week, a, b, 0, rate, key))
    return items


GROUPS: dict[str, Callable[[Item], str]] = {"user": lambda i: i.user, "host": lambda i: i.host,
                                            "week": lambda i: i.week}


def row(items: Sequence[Item], **label: str) -> dict[str, Any]:
    """Sums of items: `usd` is None when any is unpriced (`usd_known` has the priced part)."""
    known = [i.usd for i in items if i.usd is not None]
    return {**label, "jobs": len({i.job_id for i in items if i.what == "job"}),
            "open": len({i.job_id for i in items if i.open}), "hours": round(sum(i.hours for i in items), 3),
            "gpu_hours": round(sum(i.hours * i.gpus for i in items), 3),
            "usd": round(sum(known), 2) if len(known) == len(items) else None, "usd_known": round(sum(known), 2)}


def totals(items: Sequence[Item], by: str) -> list[dict[str, Any]]:
    """One row per user, host or week, and per what (job time apart from idle time)."""
    groups: dict[tuple[str, str], list[Item]] = {}
    for item in items:
        groups.setdefault((GROUPS[by](item), item.what), []).append(item)
    order = sorted(groups.items(), key=lambda kv: (kv[0][0] == "-", kv[0]))  # nobody's idle time last
    return [row(group, **{by: key, "what": what}) for (key, what), group in order]


@dataclass(frozen=True)
class Comparison:
    """What the fixed VMs cost (each VM-hour once, however many jobs shared it) against their GPU-hours
    on the serverless GPU preset (one run per job)."""
    hosts: tuple[str, ...]
    busy_hours: float
    busy_usd: float | None
    idle_hours: float
    idle_usd: float | None
    gpu_hours: float
    serverless: str  # platform/preset
    serverless_usd: float | None
    serverless_key: str  # the cost.prices key of its rate (or the one to set)

    @property
    def fixed_usd(self) -> float | None:
        return None if self.busy_usd is None or self.idle_usd is None else self.busy_usd + self.idle_usd

    def line(self) -> str:
        if not self.hosts:
            return "fixed vs serverless: no fixed VM time in this period"
        return (f"fixed vs serverless: the fixed VMs ({', '.join(self.hosts)}) cost {money(self.fixed_usd)} "
                f"({money(self.busy_usd)} busy for {self.busy_hours:.1f} h, {money(self.idle_usd)} idle for "
                f"{self.idle_hours:.1f} h); their {self.gpu_hours:.1f} GPU-hours on serverless {self.serverless} "
                f"would cost {money(self.serverless_usd)}")


def compare(items: Sequence[Item], prices: Prices, serverless: Facts) -> Comparison:
    fixed = [i for i in items if i.host_type and i.host_type not in (STATIC, NEBIUS_SERVERLESS)]
    busy_hours = 0.0
    busy_usd: float | None = 0.0  # None once a host has no price
    for host in sorted({i.host for i in fixed if i.what == "job"}):
        mine = [i for i in fixed if i.host == host and i.what == "job"]
        hours = sum(e - s for s, e in _merge([(i.start, i.end) for i in mine])) / 3600
        busy_hours += hours
        busy_usd = None if busy_usd is None or mine[0].rate is None else busy_usd + hours * mine[0].rate
    idle = [i for i in fixed if i.what == "idle"]
    gpu_hours = sum(i.hours * i.gpus for i in fixed if i.what == "job")
    rate, key = prices.rate(serverless)
    per_gpu = rate / serverless.gpus if rate is not None and serverless.gpus else None
    return Comparison(tuple(sorted({i.host for i in fixed})), busy_hours, busy_usd, sum(i.hours for i in idle),
                      row(idle)["usd"], gpu_hours, f"{serverless.platform}/{serverless.preset}",
                      None if per_gpu is None else gpu_hours * per_gpu, key)


def serverless_gpu(inventory: Inventory, fallback: str) -> Facts:
    """The serverless GPU preset to compare with: the first serverless target's in hosts.yaml, else `fallback`."""
    target = next(iter(inventory.serverless), None)
    if target is not None:
        return Facts(target.name, NEBIUS_SERVERLESS, preset_gpus(target.gpu.preset), None, target.gpu.platform,
                     target.gpu.preset)
    platform, _, preset = fallback.partition("/")
    if not platform or not preset_gpus(preset):
        raise InputError(f"cost.compare_with {fallback!r} is not a serverless GPU platform/preset",
                         "write e.g. gpu-h100-sxm/1gpu-16vcpu-200gb")
    return Facts("", NEBIUS_SERVERLESS, preset_gpus(preset), None, platform, preset)


def unpriced(items: Sequence[Item]) -> list[str]:
    """One line per missing price: whose time it leaves unknown and the cost.prices key to set."""
    missing: dict[tuple[str, str], set[str]] = {}
    for i in items:
        if i.rate is None:
            missing.setdefault((i.host, i.key), set()).add(i.job_id or "idle time")
    lines = []
    for (host, key), what in sorted(missing.items()):
        jobs = len(what - {"idle time"})
        whose = ", ".join(([f"{jobs} job(s)"] if jobs else []) + (["idle time"] if "idle time" in what else []))
        lines.append(f"{host}: price unknown for {whose}: " + (
            f"set {key} (USD per hour) in invoke.yaml" if key else
            "the host is not in hosts.yaml and its ledger lines carry no host_type (add the host back, or ignore)"))
    return lines


def report(entries: Sequence[Mapping[str, Any]], inventory: Inventory, prices: Prices, store: "SampleStore", *,
           now: float, max_gap: float, compare_with: str, since: float | None = None,
           by: Sequence[str] = tuple(GROUPS)) -> dict[str, Any]:
    """Everything `jobs.history --cost` shows, as JSON-able data."""
    jobs = job_items(entries, prices, inventory, now=now, since=since)
    items = jobs + idle_items(store, inventory, jobs, prices, now=now, max_gap=max_gap, since=since)
    versus = compare(items, prices, serverless_gpu(inventory, compare_with))
    return {"since": utc(since) if since else None, "until": utc(now),
            "by": {b: totals(items, b) for b in by}, "total": row(items),
            "fixed_vs_serverless": {**{k: round(v, 3) if isinstance(v, float) else v
                                       for k, v in asdict(versus).items()},
                                    "fixed_usd": versus.fixed_usd and round(versus.fixed_usd, 3),
                                    "line": versus.line()},
            "unpriced": unpriced(items) + ([] if versus.serverless_usd is not None or not versus.hosts else [
                f"serverless {versus.serverless}: price unknown for the comparison: set {versus.serverless_key} "
                "(USD per hour) in invoke.yaml"]),
            "open": sorted({i.job_id for i in items if i.open})}


def money(usd: float | None, known: float | None = None) -> str:
    """$12.34; "?" when unknown; "$12.34 + ?" when only part of it is known."""
    if usd is not None:
        return f"${usd:,.2f}"
    return f"${known:,.2f} + ?" if known else "?"


def since(text: str, now: float) -> float:
    """The period's start: a duration back from now (7d, 12h) or a UTC date or time (2026-11-01)."""
    from ..validate import duration

    moment = seconds(text.strip())
    if moment is not None:
        return moment
    try:
        return now - duration(text, "--since")
    except InputError:
        raise InputError(f"--since {text!r} is neither a duration nor a date",
                         "write e.g. --since 7d, --since 12h or --since 2026-11-01") from None


def _weeks(start: float, end: float) -> Iterator[tuple[str, float, float]]:
    """[start, end) cut at Mondays 00:00 UTC, each piece with its ISO week."""
    while start < end:
        day = datetime.fromtimestamp(start, timezone.utc)
        year, week, weekday = day.isocalendar()
        monday = (day - timedelta(days=weekday - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
        cut = min(end, (monday + timedelta(days=7)).timestamp())
        yield f"{year}-W{week:02d}", start, cut
        start = cut


def _merge(spans: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        elif s < e:
            out.append((s, e))
    return out


def _subtract(spans: Sequence[tuple[float, float]], holes: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merged spans less merged holes."""
    out = []
    for s, e in spans:
        for hs, he in holes:
            if he <= s or hs >= e:
                continue
            if hs > s:
                out.append((s, hs))
            s = max(s, he)
        if s < e:
            out.append((s, e))
    return out
