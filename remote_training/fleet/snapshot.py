"""One host snapshot: GPUs, containers and listening ports, read with one remote command.

Every part of the product that asks "what is on this host now" reads a `HostSnapshot`:
fleet status and the idle reaper (fleet_status.py, idle.py), placement and preflight
(placement.py, preflight.py, and the launch gate in jobs/gate.py), doctor's host checks,
lifecycle's busy check before a stop, and the jobs monitor (jobs/monitor.py). There is one
remote command (`COMMAND`, its body `ACTIVE_BODY` for the gate), one parser (`parse`), one nvidia-smi
parser (`parse_smi`) and one `Job` type.

The command runs side by side on the host:

- nvidia-smi's CSV query (one row per GPU),
- `docker ps -a --no-trunc` (the launch gate: without `-a`) with a Go template that renders every
  field as JSON, one JSON array per container: id, name, state, status text, published ports and
  the labels we use. Labels are read one by one (never a whole `docker inspect`), so the containers'
  environments (secrets included) never leave the host. JSON escapes tabs, newlines and quotes, so a hostile label
  cannot break the line; a line that still does not parse costs that row only.
- `ss -Hltn`: the listening TCP sockets, for a port held outside docker.

`BODY` leaves nvidia-smi's exit status in `$s` and docker's in `$d` for whatever follows it (the
launch gate prints them and waits for the laptop's verdict); the statuses are also in the output,
on the section lines, so `parse` needs nothing else.

`take(runner, host)` is one host; `take_all(runner, hosts, deadline)` every host at once, as a
`remote.FanOut`: host name -> HostSnapshot in `succeeded`, host name -> the exception that host
raised in `failed`, the way Fabric's GroupResult splits a group's results.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from ..errors import RemoteCommandError
from .remote import FanOut, quote_command

# The labels the product reads, in the order the template renders them.
LABELS = ("rt.job", "rt.service", "rt.kind", "rt.args", "rt.user", "rt.started", "rt.gpu_mem_mb", "rt.port",
          "rt.image", "rt.output", "rt.client", "rt.program", "rt.era", "com.docker.compose.project")
FIELDS = ("ID", "Names", "State", "Status", "Ports")
SMI_QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,memory.used,utilization.gpu",
             "--format=csv,noheader,nounits"]
PS_FORMAT = "[" + ",".join([f"{{{{json .{f}}}}}" for f in FIELDS]
                           + [f'{{{{json (.Label "{label}")}}}}' for label in LABELS]) + "]"
DOCKER_PS = ["docker", "ps", "-a", "--no-trunc", "--format", PS_FORMAT]
SS_LISTEN = ["ss", "-Hltn"]
MARK = "--rt-snapshot--"
LEASES = ".rt-leases"  # under the login's home: one file per launch between its pull and its start
LEASE_MINUTES = 180  # an older lease is a launch that died without its cleanup: not counted
# Each reader runs under the host's own `timeout` (coreutils: TERM to the reader's process group at the
# limit, KILL `-k` seconds later), so a hung nvidia-smi or docker is ended on the host, not left behind
# one per probe; the limit is under the snapshot's SSH timeout (take's 20 s). Exit 124/137: it was ended.
READ_LIMIT_S, KILL_AFTER_S = 12, 3
TIMED_OUT = (124, 137)


def bounded(argv: Sequence[str]) -> list[str]:
    """`argv` under the host's `timeout`, killed there at READ_LIMIT_S."""
    return ["timeout", "-k", str(KILL_AFTER_S), str(READ_LIMIT_S), *argv]


# Side by side: docker and ss into a private temporary folder, nvidia-smi in the foreground (it can
# take a while to wake the driver); then each section after a line naming it and its exit status.
# Fixed text, no user input; each piece quoted like any remote command.
def body(finished: bool = True) -> str:
    """The snapshot's shell text; `finished`: list finished containers too (`docker ps -a`)."""
    docker_ps = DOCKER_PS if finished else [a for a in DOCKER_PS if a != "-a"]
    return (f't=$(mktemp -d) || exit 1; {quote_command(bounded(docker_ps))} >"$t/d" 2>&1 & p=$!; '
            f'{quote_command(bounded(SS_LISTEN))} >"$t/l" 2>&1 & q=$!; '
            f'{quote_command(bounded(SMI_QUERY))} 2>&1; s=$?; wait $p; d=$?; wait $q; l=$?; '
            f'echo "{MARK} smi $s"; echo "{MARK} docker $d"; cat "$t/d"; echo "{MARK} ss $l"; cat "$t/l"; '
            f'echo "{MARK} leases 0"; find "$HOME/{LEASES}" -type f -mmin -{LEASE_MINUTES} 2>/dev/null; '
            f'echo "{MARK} end"; rm -rf "$t"')


BODY = body()
# The launch gate's: only the containers that hold the host now (what `docker ps` lists without -a). A
# host's finished jobs grow to hundreds until jobs.clean; none of them matters to a launch's checks.
ACTIVE_BODY = body(finished=False)
# The whole command: exits with nvidia-smi's status if it failed, else docker's (the output has all three).
COMMAND = ["sh", "-c", BODY + "; [ $s -eq 0 ] || exit $s; exit $d"]

EXITED_RE = re.compile(r"^Exited \((-?\d+)\)\s*(.*)$")
PORT_RE = re.compile(r"(?:^|[\s,])\[?[0-9a-fA-F:.]*\]?:(\d+)(?:-(\d+))?->[\d-]+/(?:tcp|udp)")
ACTIVE = ("running", "restarting", "paused")  # what a plain `docker ps` lists: the container holds its host
ENDED = ("exited", "dead")  # docker's two states of a container that does nothing any more


# -- the records ----------------------------------------------------------------------
@dataclass(frozen=True)
class Gpu:
    """One row of nvidia-smi's query; None where it printed [N/A], or a value that is no reading: not a
    number, or outside its range (a total of 0, used below 0 or above the total, utilization outside
    0-100). `problem` says which, for a value that was there but could not be believed."""

    name: str
    total_mb: int | None
    used_mb: int | None
    util_pct: int | None
    problem: str = ""

    @property
    def free_mb(self) -> int | None:
        return None if self.total_mb is None or self.used_mb is None else self.total_mb - self.used_mb


@dataclass(frozen=True)
class Job:
    """One container on a host, as `docker ps -a` shows it; a job when it carries the `rt.job` label.

    `job_id` is empty for a container we did not start (a foreign one still holds ports and GPU memory).
    `exit_code` comes from the status text (`Exited (137) 3 minutes ago`), None while it runs.
    `finished` is what docker ps can give: the relative time of the status text ("3 minutes ago",
    as docker renders it when listed), not a timestamp; empty while the container runs.
    `ports` is docker's text (`0.0.0.0:9000->9000/tcp, ...`); `published` the host ports in it.
    """

    job_id: str
    host: str = ""
    service: str = ""
    kind: str = ""
    state: str = "running"  # created / running / restarting / paused / exited / dead ...
    exit_code: int | None = None
    started: str = ""  # the rt.started label (UTC, ISO)
    finished: str = ""
    user: str = ""
    args: tuple[str, ...] = ()
    gpu_mem_mb: int = 0
    image: str = ""
    port: int | None = None
    output: str = ""
    client: str = ""  # servers: the inference client's policy config (label rt.client)
    container: str = ""  # the full container id
    name: str = ""
    ports: str = ""
    status: str = ""  # docker's status text
    program: str = ""
    era: str = ""
    project: str = ""  # com.docker.compose.project

    @property
    def running(self) -> bool:
        """Not ended yet (a created container is about to run): what jobs.wait waits on."""
        return self.state in ("running", "restarting", "created")

    @property
    def active(self) -> bool:
        """Holds the host now (running, restarting or paused): what makes a host busy."""
        return self.state in ACTIVE

    @property
    def published(self) -> tuple[int, ...]:
        return published_ports(self.ports)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["args"] = list(self.args)
        data["published"] = list(self.published)
        return data


@dataclass(frozen=True)
class HostSnapshot:
    """What one host has now: its GPUs, all its containers, its listening TCP ports.

    `smi_error` / `docker_error` say why a part is missing (that part is then empty, the others
    still hold); `listening` is None when ss gave no answer.
    """

    host: str
    gpus: tuple[Gpu, ...] = ()
    containers: tuple[Job, ...] = ()
    listening: frozenset[int] | None = frozenset()
    smi_error: str = ""
    docker_error: str = ""
    bad_rows: int = 0  # container lines that did not parse (and were left out)
    leases: int = 0  # launches between their pull and their container's start (jobs/compose.py)

    @property
    def jobs(self) -> tuple[Job, ...]:
        """Containers labelled rt.job, in every state."""
        return tuple(c for c in self.containers if c.job_id)

    @property
    def active_jobs(self) -> tuple[Job, ...]:
        """Jobs holding the host now: the busy check of status, placement, reap and vm.stop."""
        return tuple(c for c in self.jobs if c.active)

    @property
    def gpu(self) -> str | None:
        """The GPU's name, `Nx name` for several."""
        if not self.gpus:
            return None
        return self.gpus[0].name if len(self.gpus) == 1 else f"{len(self.gpus)}x {self.gpus[0].name}"

    @property
    def gpu_total_mb(self) -> int | None:
        """Summed over the GPUs whose memory is known (None when none is)."""
        known = [g.total_mb for g in self.gpus if g.total_mb is not None and g.used_mb is not None]
        return sum(known) if known else None

    @property
    def gpu_used_mb(self) -> int | None:
        known = [g.used_mb for g in self.gpus if g.total_mb is not None and g.used_mb is not None]
        return sum(known) if known else None

    @property
    def gpu_util_pct(self) -> int | None:
        """The busiest GPU's utilization; None when any GPU's is unknown (unknown is not idle)."""
        if not self.gpus or any(g.util_pct is None for g in self.gpus):
            return None
        return max(g.util_pct for g in self.gpus)  # type: ignore[type-var]

    def holders(self, port: int) -> tuple[Job, ...]:
        """Containers publishing `port` on the host."""
        return tuple(c for c in self.containers if port in c.published)

    def listens(self, port: int) -> bool | None:
        """Something listens on TCP `port` (docker's proxy included); None when ss gave no answer."""
        return None if self.listening is None else port in self.listening

    def require_docker(self) -> "HostSnapshot":
        """Itself, or RemoteCommandError when docker gave no list (a busy check cannot be made)."""
        if self.docker_error:
            raise RemoteCommandError(f"{self.host}: could not list containers: {self.docker_error}",
                                     "check docker on the host (inv doctor)")
        return self


# -- parsing ----------------------------------------------------------------------------
def _number(text: str) -> int | None:
    try:
        return int(float(text.strip()))
    except (ValueError, OverflowError):
        return None  # "[N/A]", "[Not Supported]", "", "nan", "inf"


def parse_smi(text: str) -> tuple[Gpu, ...]:
    """nvidia-smi's `name,memory.total,memory.used,utilization.gpu` CSV (noheader, nounits): one Gpu per row.

    A field it cannot read ([N/A] on some boards) is None for that GPU only. A field that is there but
    no reading (`-5`, `250`, a total of `0`, `abc`) is None too, and the GPU's `problem` says so: what
    cannot be believed is unknown, never a number that makes a busy GPU look idle. Lines that are no
    GPU row (an error message: fewer than three fields, or no field a number or `[...]`) are skipped.
    The name may itself hold commas: the numbers are the last three fields.
    """
    gpus = []
    for line in text.splitlines():
        if line.count(",") < 3:
            continue
        name, total, used, util = (p.strip() for p in line.rsplit(",", 3))
        if not name or all(_number(x) is None and not x.startswith("[") for x in (total, used, util)):
            continue
        values = {"memory.total": _number(total), "memory.used": _number(used), "utilization.gpu": _number(util)}
        limits = {"memory.total": (1, None), "memory.used": (0, values["memory.total"]), "utilization.gpu": (0, 100)}
        problems = []
        for (field_name, value), raw in zip(values.items(), (total, used, util)):
            low, high = limits[field_name]
            if value is None and raw.startswith("["):
                continue  # [N/A]: unknown on this board, said by nvidia-smi itself
            if value is None or value < low or (high is not None and value > high):
                problems.append(f"{field_name} {raw!r}")
                values[field_name] = None
        gpus.append(Gpu(name, values["memory.total"], values["memory.used"], values["utilization.gpu"],
                        "reading out of range: " + ", ".join(problems) if problems else ""))
    return tuple(gpus)


def published_ports(text: str) -> tuple[int, ...]:
    """Host ports in docker's Ports text (`0.0.0.0:8000-8002->80-82/tcp, :::9000->9000/tcp`)."""
    found = {p for first, last in PORT_RE.findall(text) for p in range(int(first), int(last or first) + 1)}
    return tuple(sorted(found))


def parse_container(host: str, line: str) -> Job:
    """One line of DOCKER_PS's output; ValueError when it is not one."""
    row = json.loads(line)
    if not isinstance(row, list) or len(row) != len(FIELDS) + len(LABELS) or not all(isinstance(x, str) for x in row):
        raise ValueError(f"not a container row: {line[:80]!r}")
    cid, name, state, status, ports = row[:len(FIELDS)]
    labels = dict(zip(LABELS, row[len(FIELDS):]))
    try:
        args = json.loads(labels["rt.args"] or "[]")
        args = tuple(str(a) for a in args) if isinstance(args, list) else ()
    except ValueError:
        args = ()
    exited = EXITED_RE.match(status)
    mem, port = labels["rt.gpu_mem_mb"].strip(), labels["rt.port"].strip()
    return Job(job_id=labels["rt.job"], host=host, service=labels["rt.service"], kind=labels["rt.kind"],
               state=state or "unknown", exit_code=int(exited[1]) if exited else None,
               started=labels["rt.started"], finished=exited[2].strip() if exited else "",
               user=labels["rt.user"], args=args, gpu_mem_mb=int(mem) if mem.isdigit() else 0,
               image=labels["rt.image"], port=int(port) if port.isdigit() else None, output=labels["rt.output"],
               client=labels["rt.client"], container=cid, name=name.split(",")[0], ports=ports, status=status,
               program=labels["rt.program"], era=labels["rt.era"], project=labels["com.docker.compose.project"])


def parse_listening(text: str) -> frozenset[int]:
    """Local ports of `ss -Hltn` lines (State Recv-Q Send-Q Local:Port Peer:Port)."""
    ports = set()
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 4 and ":" in parts[3]:
            port = parts[3].rpartition(":")[2]
            if port.isdigit():
                ports.add(int(port))
    return frozenset(ports)


def _sections(text: str) -> dict[str, tuple[int, str]]:
    """{section: (exit status, text)}; the text before the first mark is nvidia-smi's."""
    sections: dict[str, tuple[int, list[str]]] = {"smi-text": (0, [])}
    current = "smi-text"
    for line in text.splitlines():
        if line.startswith(MARK + " "):
            words = line[len(MARK) + 1:].split()
            name = words[0] if words else "?"
            status = int(words[1]) if len(words) > 1 and words[1].lstrip("-").isdigit() else 0
            sections[name] = (status, [])
            current = name
        else:
            sections[current][1].append(line)
    return {k: (s, "\n".join(lines)) for k, (s, lines) in sections.items()}


def parse(host: str, text: str) -> HostSnapshot:
    """BODY's output (COMMAND's, or the gate's head) -> HostSnapshot.

    RemoteCommandError when the output is not whole (the command did not get to its end).
    """
    sections = _sections(text)
    if "end" not in sections or "smi" not in sections or "docker" not in sections:
        tail = text.strip()[-200:]
        raise RemoteCommandError(f"{host}: the host snapshot is incomplete" + (f": {tail}" if tail else ""),
                                 "check the host: mktemp, nvidia-smi and docker (inv doctor)")
    smi_text = sections["smi-text"][1]
    smi_status = sections["smi"][0]
    gpus = parse_smi(smi_text)
    smi_error = ""
    if smi_status in TIMED_OUT:
        smi_error = f"nvidia-smi gave no answer within {READ_LIMIT_S} s (ended on the host)"
    elif smi_status != 0 or not gpus:
        smi_error = f"nvidia-smi exited {smi_status}: " if smi_status else "nvidia-smi printed no GPU: "
        smi_error += smi_text.strip()[-200:] or "no output"
    docker_status, docker_text = sections["docker"]
    containers, bad, docker_error = [], 0, ""
    if docker_status in TIMED_OUT:
        docker_error = f"docker ps gave no answer within {READ_LIMIT_S} s (ended on the host)"
    elif docker_status != 0:
        docker_error = f"docker ps exited {docker_status}: {docker_text.strip()[-200:]}"
    else:
        for line in docker_text.splitlines():
            if not line.strip():
                continue
            try:
                containers.append(parse_container(host, line))
            except (ValueError, TypeError):
                bad += 1
    ss_status, ss_text = sections.get("ss", (1, ""))
    listening = parse_listening(ss_text) if ss_status == 0 else None
    leases = sum(1 for line in sections.get("leases", (0, ""))[1].splitlines() if line.strip())
    return HostSnapshot(host, gpus, tuple(containers), listening, smi_error, docker_error, bad, leases)


# -- taking it ---------------------------------------------------------------------------
def take(runner: Any, host: Any, *, timeout: float = 20.0) -> HostSnapshot:
    """One host's snapshot over SSH (read-only, also in dry-run). Raises what the runner raises for a
    host that does not answer, RemoteCommandError for an incomplete answer."""
    out = runner.run(host, COMMAND, check=False, mutating=False, timeout=timeout)
    return parse(getattr(host, "name", str(host)), out.stdout)


def take_all(runner: Any, hosts: Sequence[Any], deadline: float = 30.0, *, max_workers: int = 16,
             timeout: float = 20.0) -> FanOut:
    """Every host at once, in the order given; a host not done by `deadline` s fails with UnreachableError."""
    return runner.fan_out(list(hosts), lambda h: take(runner, h, timeout=timeout), max_workers=max_workers,
                          deadline=deadline)
