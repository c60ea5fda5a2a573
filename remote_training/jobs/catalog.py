"""The service catalog: what the team's positronic compose file runs, and what we know of each program.

Compose services are read from the checkout's own `docker/docker-compose.yml` (image, entrypoint,
ports); everything else (kind, GPU need, host, checkpoint layout) is keyed by the *program* the
entrypoint starts, so upstream renames (`positronic-to-lerobot` -> `lerobot-0_3_3-convert`) are
followed. The era (runbook 4261b1aa or current a060cbea) is recognised from the file itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import InputError


@dataclass(frozen=True)
class Program:
    name: str  # the `python -m` module or console script
    kind: str  # train / serve / convert / stats / infer
    gpu_mem_mb: int  # rough GPU memory the job holds
    needs_h100: bool
    default_host: str  # a host name, `auto` (placement picks) or `local`
    why: str  # placement's reason, shown with --host auto
    layout: str | None = None  # checkpoint layout: groot / openpi / lerobot


def _p(name: str, kind: str, mem: int, h100: bool, host: str, why: str, layout: str | None = None) -> Program:
    return Program(name, kind, mem, h100, host, why, layout)


PROGRAMS: dict[str, Program] = {p.name: p for p in (
    _p("positronic-to-lerobot", "convert", 0, False, "desktop", "dataset conversion runs on the desktop"),
    _p("positronic.vendors.lerobot_0_3_3.to_lerobot", "convert", 0, False, "desktop",
       "dataset conversion runs on the desktop"),
    _p("positronic.vendors.lerobot.to_lerobot", "convert", 0, False, "desktop",
       "dataset conversion runs on the desktop"),
    _p("positronic.vendors.openpi.stats", "stats", 0, False, "desktop", "stats run on the desktop"),
    _p("positronic.vendors.gr00t.train", "train", 60000, True, "auto", "GR00T training needs an H100", "groot"),
    _p("positronic.vendors.openpi.train", "train", 70000, True, "auto", "OpenPI training needs an H100", "openpi"),
    _p("positronic-train", "train", 8000, False, "desktop", "lerobot/ACT training runs on the desktop", "lerobot"),
    _p("positronic.vendors.lerobot_0_3_3.train", "train", 8000, False, "desktop",
       "lerobot/ACT training runs on the desktop", "lerobot"),
    _p("positronic.vendors.lerobot.train", "train", 30000, True, "auto", "SmolVLA training needs an H100", "lerobot"),
    _p("positronic.vendors.gr00t.server", "serve", 6000, False, "vm-train", "a GR00T server holds about 6 GB", "groot"),
    _p("positronic.vendors.openpi.server", "serve", 12000, True, "vm-train", "openpi-server needs an H100", "openpi"),
    _p("positronic.vendors.lerobot_0_3_3.server", "serve", 2000, False, "desktop", "the ACT server runs on the desktop",
       "lerobot"),
    _p("positronic.vendors.lerobot.server", "serve", 4000, False, "desktop", "the SmolVLA server runs on the desktop",
       "lerobot"),
    _p("positronic-inference", "infer", 0, False, "local", "the inference client runs beside the simulator"),
)}


@dataclass(frozen=True)
class Readiness:
    """One readiness ask of a server: a GET of `path` over `scheme` (https: TLS without certificate checks, the
    viewer's certificate is self-signed by design). `page`: a page the user opens, so the ready line shows its
    URL; otherwise `address:port`, as the inference client's --policy.url takes it."""
    scheme: str
    path: str
    page: bool = False

    def url(self, address: str, port: int) -> str:
        """What readiness asks."""
        return f"{self.scheme}://{address}:{port}{self.path}"

    def where(self, address: str, port: int) -> str:
        return self.url(address, port) if self.page else f"{address}:{port}"


@dataclass(frozen=True)
class Serving:
    """How a server program answers: the path readiness asks; `tls_flag`, its own boolean parameter (true by
    default) that makes it serve TLS itself; `checks_token`, whether it refuses requests without AUTH_TOKEN
    itself (upstream's offboard servers do since 95b929c2), else a serverless endpoint puts Nebius's token
    proxy in front of it."""
    path: str
    tls_flag: str | None = None
    checks_token: bool = True
    page: bool = False

    def readiness(self, args: Sequence[str], declares: Callable[[str], bool]) -> Readiness:
        """For these program arguments; `declares(parameter)`: whether the checkout's program takes it (the
        runbook era's viewer has no `https` and serves plain HTTP)."""
        tls = bool(self.tls_flag and declares(self.tls_flag) and flag_value(args, self.tls_flag, True))
        return Readiness("https" if tls else "http", self.path, self.page)


# The model servers: the model list of positronic's offboard server (current era; `GET /api/v1/models`, what
# upstream's e2e.sh waits for, shared/upstream/SERVERLESS.md §8); a runbook-era server ignores the request and
# any reply, or a silent open socket (ZeroMQ), counts on a fixed host.
MODEL_SERVER = Serving("/api/v1/models")
SERVING: dict[str, Serving] = {
    # The dataset viewer (positronic/server/positronic_server.py): `/` is its episode list page; main(https=True)
    # serves TLS with a self-signed cert it makes with the openssl program; it reads no AUTH_TOKEN.
    "positronic-server": Serving("/", tls_flag="https", checks_token=False, page=True),
}


def serving(program: str) -> Serving:
    return SERVING.get(program, MODEL_SERVER)


def flag_value(args: Sequence[str], name: str, default: Any = None) -> Any:
    """A parameter's value as configuronic's python-fire reads it (shared/upstream/positronic-4261b1aa/
    ENTRYPOINTS.md §2), the last one given winning: `--x` and `--x=True` True, `--nox` and `--x=False` False,
    `--x=V` / `--x V` a Python literal or else the string (`--x=false` is the truthy 'false')."""
    value = default
    for i, word in enumerate(args):
        if word == f"--no{name}":
            value = False
        elif word == f"--{name}":
            following = args[i + 1] if i + 1 < len(args) else None
            value = True if following is None or following.startswith("--") else _literal(following)
        elif word.startswith(f"--{name}="):
            value = _literal(word.split("=", 1)[1])
    return value


def given(args: Sequence[str], name: str) -> bool:
    return any(w in (f"--{name}", f"--no{name}") or w.startswith(f"--{name}=") for w in args)


def _literal(text: str) -> Any:
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


@dataclass(frozen=True)
class Era:
    name: str  # the upstream commit it was read from
    label: str
    python: str
    roles: Mapping[str, str | None]  # typed task role -> program (None: the era has no such service)
    server_port: Mapping[str, int]  # server role -> the port it listens on inside the container

    def program(self, role: str) -> str:
        """The program that runs `role` in this era (Checkout.role refuses a missing one first, naming the
        compose file)."""
        program = self.roles.get(role)
        if program is None:
            raise InputError(f"the {self.label} has no {role} service",
                             "point jobs.compose_project at a positronic checkout that has one (a newer one)")
        return program


ROLES = ("convert", "stats", "groot-train", "openpi-train", "lerobot-train", "groot-server", "openpi-server",
         "lerobot-server", "inference", "smolvla-convert", "smolvla-train", "smolvla-server")
ERAS: tuple[Era, ...] = (
    Era("4261b1aa", "runbook era (positronic 4261b1aa)", "3.11", {
        "convert": "positronic-to-lerobot", "stats": "positronic.vendors.openpi.stats",
        "groot-train": "positronic.vendors.gr00t.train", "openpi-train": "positronic.vendors.openpi.train",
        "lerobot-train": "positronic-train", "groot-server": "positronic.vendors.gr00t.server",
        "openpi-server": "positronic.vendors.openpi.server", "lerobot-server": None,
        "inference": "positronic-inference", "smolvla-convert": None, "smolvla-train": None, "smolvla-server": None},
        {"groot-server": 9000, "openpi-server": 8000}),
    Era("a060cbea", "current era (positronic a060cbea)", "3.13", {
        "convert": "positronic.vendors.lerobot_0_3_3.to_lerobot", "stats": "positronic.vendors.openpi.stats",
        "groot-train": "positronic.vendors.gr00t.train", "openpi-train": "positronic.vendors.openpi.train",
        "lerobot-train": "positronic.vendors.lerobot_0_3_3.train", "groot-server": "positronic.vendors.gr00t.server",
        "openpi-server": "positronic.vendors.openpi.server",
        "lerobot-server": "positronic.vendors.lerobot_0_3_3.server",
        "inference": "positronic-inference", "smolvla-convert": "positronic.vendors.lerobot.to_lerobot",
        "smolvla-train": "positronic.vendors.lerobot.train", "smolvla-server": "positronic.vendors.lerobot.server"},
        {"groot-server": 8000, "openpi-server": 8000, "lerobot-server": 8000, "smolvla-server": 8000}),
)


@dataclass(frozen=True)
class ComposeService:
    name: str
    image: str  # as written, e.g. positro/gr00t:${IMAGE_TAG:-latest}
    program: str  # the module after `python -m`, or the console script
    python: str | None = None  # `uv run --python V`
    extra: str | None = None  # `uv run --extra X`
    ports: tuple[tuple[int, int], ...] = ()  # (host, container)
    gpu: bool = False  # reserves an nvidia device
    entrypoint: tuple[str, ...] = ()  # as written: what a serverless job runs (no compose there)
    working_dir: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)  # the file's own values (HOME=/root)

    @property
    def repository(self) -> str:
        """The image's repository without tag (positro/gr00t)."""
        from ..images.registry import split_ref

        return split_ref(self.image)[0]

    @property
    def known(self) -> Program | None:
        return PROGRAMS.get(self.program)


@dataclass(frozen=True)
class Checkout:
    """One positronic checkout's compose project: the folder shipped to hosts and its services."""
    compose_dir: Path
    era: Era
    services: Mapping[str, ComposeService]

    def role(self, role: str) -> tuple[ComposeService, Program]:
        """The compose service (and program facts) a typed task runs in this checkout's era."""
        program = self.era.roles.get(role)
        if program is None:
            raise InputError(f"the {self.era.label} compose file has no {role} service "
                             f"({self.compose_dir / 'docker-compose.yml'})",
                             "point jobs.compose_project at a positronic checkout that has one (a newer one)")
        for svc in self.services.values():
            if svc.program == program:
                return svc, PROGRAMS[program]
        raise InputError(f"no service of {self.compose_dir / 'docker-compose.yml'} runs {program}",
                         "update the positronic checkout, or point jobs.compose_project at one that has it")


    def service(self, name: str) -> tuple[ComposeService, Program]:
        """Any service of the checkout by name (inv jobs.run), with what the catalog knows of its program."""
        svc = self.services.get(name)
        if svc is None:
            from ..validate import did_you_mean

            raise InputError(f"no service {name!r} in {self.compose_dir / 'docker-compose.yml'} ({self.era.label})",
                             f"{did_you_mean(name, self.services)}services: {', '.join(sorted(self.services))}")
        return svc, program_of(svc)


def program_of(svc: ComposeService) -> Program:
    """The catalog's facts, or for a program it does not know yet (a service upstream just added)
    a neutral entry: no GPU estimate, no checkpoint layout, the host the user names."""
    known = PROGRAMS.get(svc.program)
    if known is not None:
        return known
    kind = "serve" if svc.ports else "train"
    return Program(svc.program, kind, 0, False, "", f"{svc.program} is not in the catalog: it runs where you say")


def _entrypoint(name: str, raw: Any) -> tuple[str, str | None, str | None]:
    """(program, python, extra) from `uv run --python V [--extra X] (python -m MODULE | PROGRAM)`."""
    argv = [str(a) for a in raw] if isinstance(raw, list) else str(raw or "").split()
    if argv[:2] != ["uv", "run"]:
        return (argv[0] if argv else ""), None, None
    python = extra = None
    rest = argv[2:]
    while rest and rest[0].startswith("--"):
        flag, rest = rest[0], rest[1:]
        value, rest = (rest[0], rest[1:]) if rest else ("", rest)
        python, extra = ((value, extra) if flag == "--python" else (python, value) if flag == "--extra"
                         else (python, extra))
    if rest[:2] == ["python", "-m"] and len(rest) > 2:
        return rest[2], python, extra
    return (rest[0] if rest else ""), python, extra


def _ports(raw: Any) -> tuple[tuple[int, int], ...]:
    out = []
    for item in raw or ():
        text = (str(item.get("published", "")) + ":" + str(item.get("target", "")) if isinstance(item, dict)
                else str(item))
        host, _, container = text.rpartition(":")
        if host.isdigit() and container.isdigit():
            out.append((int(host), int(container)))
    return tuple(out)


def parse_compose(text: str, where: str) -> dict[str, ComposeService]:
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        """`!override` / `!reset` are Compose's own tags: read them as plain values."""

    Loader.add_multi_constructor("!", lambda loader, suffix, node: loader.construct_sequence(node)
                                 if isinstance(node, yaml.SequenceNode) else loader.construct_scalar(node)
                                 if isinstance(node, yaml.ScalarNode) else loader.construct_mapping(node))
    try:
        data = yaml.load(text, Loader=Loader) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"{where}: not valid YAML: {exc}".splitlines()[0],
                         "restore the checkout's compose file") from None
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict):
        raise InputError(f"{where} has no services", "point jobs.compose_project at positronic's docker/ folder")
    out = {}
    for name, raw in services.items():
        if not isinstance(raw, dict) or "entrypoint" not in raw:
            continue  # anchors such as positronic-training-base start no program
        program, python, extra = _entrypoint(name, raw["entrypoint"])
        devices = (((raw.get("deploy") or {}).get("resources") or {}).get("reservations") or {}).get("devices") or []
        gpu = any(isinstance(d, dict) and d.get("driver") == "nvidia" for d in devices)
        entrypoint = raw["entrypoint"]
        argv = (tuple(str(a) for a in entrypoint) if isinstance(entrypoint, list)
                else tuple(str(entrypoint or "").split()))
        out[name] = ComposeService(name, str(raw.get("image", "")), program, python, extra,
                                   _ports(raw.get("ports")), gpu,
                                   argv, str(raw.get("working_dir") or ""), _environment(raw.get("environment")))
    return out


def _environment(raw: Any) -> dict[str, str]:
    """`environment:` as a mapping (a list of K=V too); values with ${...} are left to compose."""
    pairs = raw.items() if isinstance(raw, dict) else (str(i).partition("=")[::2] for i in raw or ())
    return {str(k): str(v) for k, v in pairs if v is not None and "$" not in str(v)}


def load_checkout(compose_dir: Path) -> Checkout:
    """Read a checkout's docker/ folder; an unrecognised layout is one error naming what differs."""
    path = compose_dir / "docker-compose.yml"
    if not path.is_file():
        raise InputError(f"no positronic checkout at {compose_dir} (docker-compose.yml missing)",
                         "clone positronic beside this project (../positronic), or set jobs.compose_project "
                         "(INVOKE_JOBS_COMPOSE_PROJECT) to its docker/ folder")
    services = parse_compose(path.read_text(), str(path))
    return Checkout(compose_dir, recognise(services, path), services)


def recognise(services: Mapping[str, ComposeService], path: Path | str) -> Era:
    """The era whose programs and python version the compose file matches; else say what differs."""
    differences = []
    for era in ERAS:
        programs = {s.program: s for s in services.values()}
        missing = [p for p in era.roles.values() if p and p not in programs]
        python = sorted({s.python for s in services.values() if s.python and s.program in PROGRAMS} - {era.python})
        if not missing and not python:
            return era
        differences.append(f"{era.name}: " + "; ".join(
            ([f"no service runs {', '.join(missing)}"] if missing else [])
            + ([f"uses python {', '.join(python)} instead of {era.python}"] if python else [])))
    raise InputError(f"{path} matches no positronic layout this tool knows ({' | '.join(differences)})",
                     "check out positronic at a known commit (4261b1aa or a060cbea), or update remote-training")
