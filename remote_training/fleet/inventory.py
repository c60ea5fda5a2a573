"""The host inventory: hosts.yaml loaded into frozen, validated objects.

Every problem names the file, the host, the key and the fix, and the whole
file is rejected: nothing may run against a half-understood fleet.
"""
from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import yaml

from ..config_files import read_yaml
from ..errors import InventoryError
from .provider_kinds import COMMAND, NEBIUS, NEBIUS_SERVERLESS, STATIC

PROVIDERS: dict[str, tuple[set[str], set[str]]] = {
    # type: (required option keys, optional option keys)
    STATIC: (set(), set()),
    NEBIUS: ({"instance_id"}, {"project_id", "profile"}),
    COMMAND: ({"start", "stop", "state"}, {"timeout"}),
}
HOST_KEYS = {"ssh", "aliases", "gpu", "gpu_memory_gb", "provider", "compose", "workdir", "tags"}
TOP_KEYS = {"hosts", "defaults", "ssh_config", "known_hosts", "compose_project", "nebius", "s3", "registry"}
DEFAULTS = {"compose": "docker compose", "workdir": "~/remote-training"}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# Words the CLI gives a meaning of its own: `--host auto` picks a free H100, `all` means every host or job.
RESERVED_NAMES = {"auto", "all"}
# [user@]host[:port]; an IPv6 literal only in brackets. Neither user nor host may start with '-':
# ssh would read `-Jx` or `-lroot` as an option.
SSH_RE = re.compile(r"^(?:(?P<user>[A-Za-z0-9_][A-Za-z0-9_.-]*)@)?"
                    r"(?:\[(?P<ipv6>[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\]|(?P<host>[A-Za-z0-9_][A-Za-z0-9_.-]*))"
                    r"(?::(?P<port>\d{1,5}))?$")
# compose: a compose command and nothing else: plain words (no shell metacharacters, no quoting), the program
# docker/podman (then `compose`) or docker-compose/podman-compose, by name or absolute path, and only the flags
# below. Nothing may run first (`touch /tmp/x docker-compose`, `sudo ...`, `env X=1 ...`).
COMPOSE_WORD_RE = re.compile(r"^[A-Za-z0-9_./+=:@,-]+$")
ENGINES = {"docker", "podman"}  # `ENGINE [its flags] compose [compose flags]`
COMPOSE_PROGRAMS = {"docker-compose", "podman-compose"}  # `PROGRAM [compose flags]`
# Flags that only choose which engine or project (each takes one value, `--x v` or `--x=v`), or a mode.
ENGINE_FLAGS = {"--context", "-c", "--connection", "--log-level", "-l"}
COMPOSE_FLAGS = {"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file", "--profile",
                 "--ansi", "--progress", "--parallel"}
COMPOSE_SWITCHES = {"--compatibility"}
COMPOSE_FIX = ("write compose: docker compose (or docker-compose, podman compose, an absolute path to one of "
               "these), with only -f/--file, -p/--project-name, --project-directory, --env-file, --profile, "
               "--ansi, --progress, --parallel, --compatibility after compose (--context before it); "
               "nothing that runs first")
MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:G|GB|GiB)?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class ProviderConfig:
    """A host's `provider:` entry in hosts.yaml (its kind and options); the object that acts on it is
    providers.Provider (provider_for)."""
    type: str
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Host:
    name: str
    ssh: str  # [user@]host[:port]; host may be a ~/.ssh/config alias
    gpu: str
    gpu_memory_gb: float
    provider: ProviderConfig
    aliases: tuple[str, ...] = ()
    compose: tuple[str, ...] = ("docker", "compose")
    workdir: str = DEFAULTS["workdir"]
    tags: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def ssh_user(self) -> str | None:
        return _split_ssh(self.ssh)[0]

    @property
    def ssh_host(self) -> str:
        return _split_ssh(self.ssh)[1]

    @property
    def ssh_port(self) -> int | None:
        return _split_ssh(self.ssh)[2]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "aliases": list(self.aliases), "ssh": self.ssh, "gpu": self.gpu,
            "gpu_memory_gb": self.gpu_memory_gb, "provider": self.provider.type,
            "provider_options": dict(self.provider.options), "compose": " ".join(self.compose),
            "workdir": self.workdir, "tags": list(self.tags),
        }


@dataclass(frozen=True)
class Inventory:
    path: Path
    hosts: tuple[Host, ...]
    ssh_config: Path | None = None
    known_hosts: Path | None = None
    compose_project: Path | None = None  # the docker/ folder shipped to hosts for jobs
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    serverless: tuple[Any, ...] = ()  # ServerlessTarget entries: no SSH, jobs go through the Nebius API

    def get(self, name: str) -> Host:
        """A host by name or alias, or an InventoryError that lists the names known."""
        for host in self.hosts:
            if name in host.names:
                return host
        target = self.serverless_target(name)
        if target is not None:
            raise InventoryError(f"{name!r} is a Nebius Serverless target ({self.path}): it has no SSH, engine or VM",
                                 "this command works on the fixed hosts only; jobs.* and serve.stop reach "
                                 "serverless jobs by their id")
        known = ", ".join(n for h in [*self.hosts, *self.serverless] for n in h.names)
        raise InventoryError(f"unknown host {name!r} in {self.path}",
                             f"use one of: {known}")

    def serverless_target(self, name: str) -> Any:
        """The serverless target called `name` (name or alias), or None."""
        return next((t for t in self.serverless if name in t.names), None)

    @property
    def s3_endpoint(self) -> str | None:
        """The S3 endpoint this fleet names (`s3: {endpoint_url: ...}`), or None for boto3's own chain."""
        s3 = self.extra.get("s3") or {}
        value = s3.get("endpoint_url") or s3.get("endpoint") if isinstance(s3, Mapping) else None
        return str(value) if value else None

    def select(self, names: list[str] | None) -> list[Host]:
        return [self.get(n) for n in names] if names else list(self.hosts)


def _split_ssh(target: str) -> tuple[str | None, str, int | None]:
    m = SSH_RE.match(target)
    if not m:
        return None, target, None
    return m["user"], m["ipv6"] or m["host"], int(m["port"]) if m["port"] else None


def split_ssh_target(target: str) -> tuple[str | None, str, int | None]:
    """(user, host, port) of `[user@]host[:port]` (IPv6 as `[addr]`); the host is returned whole when
    the text has another shape (an ssh config alias is looked up by that text)."""
    return _split_ssh(target.strip())


def ssh_target_problem(target: str) -> tuple[str, str] | None:
    """What is wrong with an ssh target and its fix, or None when `[user@]host[:port]` is well formed."""
    text = target.strip()
    user, _, rest = text.rpartition("@")
    if text.startswith("-") or user.startswith("-"):
        return (f"ssh target {target!r} starts with '-', which ssh would read as an option",
                "write user@host with a user name that does not start with '-'")
    if rest.startswith("-"):
        return (f"ssh target {target!r}: host {rest!r} starts with '-', which ssh would read as an option",
                "write the host's name or address (a jump host goes in ~/.ssh/config as ProxyJump)")
    if not rest.startswith("[") and rest.count(":") > 1:
        return (f"ssh target {target!r}: an IPv6 address must be written in brackets",
                f"write {user + '@' if user else ''}[{rest}] or {user + '@' if user else ''}[{rest}]:22")
    m = SSH_RE.match(text)
    if not m:
        return (f"bad ssh target {target!r}",
                "write [user@]host[:port], e.g. ubuntu@10.0.0.5:22 or an ~/.ssh/config alias")
    if m["ipv6"]:
        try:
            ipaddress.IPv6Address(m["ipv6"])
        except ValueError:
            return f"ssh target {target!r}: {m['ipv6']!r} is not an IPv6 address", "write [fe80::1] or [fe80::1]:22"
    if m["port"] and not 1 <= int(m["port"]) <= 65535:
        return (f"ssh target {target!r}: port {int(m['port'])} is out of range",
                "use a port from 1 to 65535, e.g. host:22")
    return None


def _memory(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) and value > 0 else None
    if isinstance(value, str):
        m = MEMORY_RE.match(value)
        if m and float(m[1]) > 0:
            return float(m[1])
    return None


def compose_problem(value: Any) -> str | None:
    """Why `compose:` is not a compose command we may run, or None.

    The rule: plain words separated by spaces (letters, digits and `_ . / + = : @ , -`, so no
    shell metacharacters, quotes or `~`); first the program, `docker` or `podman` followed by
    `compose`, or `docker-compose` / `podman-compose`, by name or by absolute path (no `..`); then
    only flags that pick the engine or the project (`ENGINE_FLAGS` before `compose`, `COMPOSE_FLAGS`
    after it), each with its one value. So `docker compose`, `/usr/local/bin/docker-compose`,
    `docker --context gpu compose -p team`; never a program that runs first (`sudo`, `env`,
    `touch /tmp/x docker-compose`). Jobs append their own arguments to these words.
    """
    if not isinstance(value, str) or not value.split():
        return f"must be a command, got {value!r}"
    words = value.split()
    bad = [w for w in words if not COMPOSE_WORD_RE.match(w)]
    if bad:
        return f"{value!r} holds shell metacharacters or quotes ({bad[0]!r}); it is not run through a shell"
    if words[0].startswith("-"):
        return f"{value!r} starts with an option, not a program"
    program = words[0]
    if "/" in program and (not program.startswith("/") or ".." in program.split("/")):
        return f"{value!r}: the program {program!r} must be a bare name or an absolute path without '..'"
    name = program.rsplit("/", 1)[-1]
    if name in COMPOSE_PROGRAMS:
        return _compose_flags_problem(value, words[1:], COMPOSE_FLAGS, COMPOSE_SWITCHES)
    if name not in ENGINES:
        return f"{value!r} is not a compose command: {program!r} would run first"
    if "compose" not in words[1:]:
        return f"{value!r} is not a compose command: no 'compose' after {program!r}"
    at = words.index("compose", 1)
    return (_compose_flags_problem(value, words[1:at], ENGINE_FLAGS, set())
            or _compose_flags_problem(value, words[at + 1:], COMPOSE_FLAGS, COMPOSE_SWITCHES))


def _compose_flags_problem(value: str, words: list[str], valued: set[str], switches: set[str]) -> str | None:
    """Each word a known flag, with its one value (`-f x` or `--file=x`); anything else is not data."""
    i = 0
    while i < len(words):
        flag, eq, inline = words[i].partition("=")
        if flag in switches and not eq:
            i += 1
        elif flag in valued and eq and inline:
            i += 1
        elif flag in valued and not eq and i + 1 < len(words) and not words[i + 1].startswith("-"):
            i += 2
        elif flag in valued:
            return f"{value!r}: {flag} needs one value"
        else:
            return f"{value!r}: {words[i]!r} is not a flag a compose command may carry here"
    return None


def _workdir_problem(value: Any) -> str | None:
    """A folder of its own on the host: absolute, or relative to the login's home (`~/x` or `x`), and never
    climbing out of where it says (`..`)."""
    if not isinstance(value, str) or not value.strip():
        return f"must be a folder on the host, got {value!r}"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return f"{value!r} holds control characters"
    text = value.strip()
    if text.startswith("-"):
        return f"{value!r} starts with '-', which cd would read as an option"
    if text.startswith("~") and not (text == "~" or text.startswith("~/")):
        return f"{value!r} names another user's home; only ~/ (the login's own) is meant"
    if ".." in text.split("/"):
        return f"{value!r} climbs out with '..'; write the folder itself, absolute or under the home"
    if text.rstrip("/") in ("", "~", ".", "~/.") or text in ("./",):
        return f"{value!r} is a whole home or root folder; jobs write files into it"
    return None


class _Checker:
    """Collects every problem in a file, so the user fixes them in one pass."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def bad(self, where: str, message: str, fix: str) -> None:
        self.problems.append(f"{self.path}: {where}: {message} (fix: {fix})")

    def raise_if_any(self) -> None:
        if self.problems:
            first, rest = self.problems[0], self.problems[1:]
            raise InventoryError(first + "".join(f"\n{p}" for p in rest))


def _provider(check: _Checker, where: str, raw: Any) -> ProviderConfig | None:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict) or "type" not in raw:
        check.bad(f"{where}.provider", "must be a provider name or a mapping with 'type'",
                  "write provider: static, or provider: {type: nebius, instance_id: ...}")
        return None
    kind = raw["type"]
    if kind not in PROVIDERS:
        check.bad(f"{where}.provider", f"unknown provider {kind!r}",
                  f"use one of: {', '.join(sorted(PROVIDERS))}")
        return None
    required, optional = PROVIDERS[kind]
    options = {k: v for k, v in raw.items() if k != "type"}
    for key in sorted(required - options.keys()):
        check.bad(f"{where}.provider.{key}", f"missing for provider {kind!r}", f"add {key}: ...")
    for key in sorted(options.keys() - required - optional):
        check.bad(f"{where}.provider.{key}", f"unknown key for provider {kind!r}",
                  f"remove it; allowed: {', '.join(sorted(required | optional)) or 'none'}")
    return ProviderConfig(kind, MappingProxyType(options))


def _host(check: _Checker, name: Any, raw: Any, defaults: dict[str, Any]) -> Host | None:
    where = f"host {name!r}"
    if not _name_ok(check, where, name):
        return None
    if not isinstance(raw, dict):
        check.bad(where, "must be a mapping of keys", "indent ssh:, gpu:, ... under the host name")
        return None
    raw = {**defaults, **raw}
    for key in sorted(raw.keys() - HOST_KEYS):
        check.bad(f"{where}, key {key!r}", "unknown key", f"remove it; allowed: {', '.join(sorted(HOST_KEYS))}")
    ok = True
    ssh = raw.get("ssh")
    if not isinstance(ssh, str) or not ssh.strip():
        check.bad(f"{where}, key 'ssh'", "missing ssh target", "add ssh: user@hostname (or a ~/.ssh/config alias)")
        ok = False
    elif (ssh_problem := ssh_target_problem(ssh)) is not None:
        check.bad(f"{where}, key 'ssh'", *ssh_problem)
        ok = False
    memory = _memory(raw.get("gpu_memory_gb"))
    if memory is None:
        check.bad(f"{where}, key 'gpu_memory_gb'", f"bad memory value {raw.get('gpu_memory_gb')!r}",
                  "give a positive, finite number of GB, e.g. gpu_memory_gb: 80")
        ok = False
    aliases = _aliases(check, where, raw)
    compose = raw.get("compose", DEFAULTS["compose"])
    problem = compose_problem(compose)
    if problem:
        check.bad(f"{where}, key 'compose'", problem, COMPOSE_FIX)
        ok = False
    workdir = raw.get("workdir", DEFAULTS["workdir"])
    problem = _workdir_problem(workdir)
    if problem:
        check.bad(f"{where}, key 'workdir'", problem, "write workdir: ~/remote-training (a folder of its own)")
        ok = False
    tags = _tags(check, where, raw)
    provider = _provider(check, where, raw.get("provider", STATIC))
    # Every problem above is reported before giving up, so the None checks come last.
    if not ok or memory is None or aliases is None or tags is None or provider is None:
        return None
    return Host(
        name=name, ssh=ssh.strip(), gpu=str(raw.get("gpu", "none")), gpu_memory_gb=memory,
        provider=provider, aliases=tuple(aliases), compose=tuple(compose.split()),
        workdir=workdir.strip(), tags=tuple(tags),
    )


def parse_inventory(text: str, path: Path) -> Inventory:
    check = _Checker(path)
    try:
        data = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark else "somewhere"
        raise InventoryError(f"{path}: YAML syntax error at {line}: {getattr(exc, 'problem', exc)}",
                             "correct the YAML (indentation, colons, quotes) at that line") from None
    if not isinstance(data, dict) or not isinstance(data.get("hosts"), dict) or not data["hosts"]:
        raise InventoryError(f"{path}: no 'hosts' mapping", "start the file with hosts: and one entry per machine")
    for key in sorted(data.keys() - TOP_KEYS):
        check.bad(f"top-level key {key!r}", "unknown key", f"remove it; allowed: {', '.join(sorted(TOP_KEYS))}")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        check.bad("defaults", "must be a mapping", "write defaults: {compose: docker compose}")
        defaults = {}
    hosts: list[Host] = []
    targets: list[Any] = []
    for name, raw in data["hosts"].items():
        if _is_serverless(raw):
            target = _serverless(check, name, raw, path.parent)
            if target:
                targets.append(target)
            continue
        host = _host(check, name, raw, defaults)
        if host:
            hosts.append(host)
    seen: dict[str, str] = {}
    for host in [*hosts, *targets]:
        for n in host.names:
            if n in seen:
                check.bad(f"host {host.name!r}", f"name or alias {n!r} is already used by host {seen[n]!r}",
                          "give every host and alias a unique name")
            else:
                seen[n] = host.name
    check.raise_if_any()
    base = path.parent

    def rel(key: str) -> Path | None:
        value = data.get(key)
        if not value:
            return None
        p = Path(str(value)).expanduser()
        return p if p.is_absolute() else base / p

    extra = {k: data[k] for k in ("nebius", "s3", "registry") if k in data}
    return Inventory(path=path, hosts=tuple(hosts), ssh_config=rel("ssh_config"),
                     known_hosts=rel("known_hosts"), compose_project=rel("compose_project"),
                     extra=MappingProxyType(extra),
                     serverless=tuple(targets))


def _is_serverless(raw: Any) -> bool:
    provider = raw.get("provider") if isinstance(raw, dict) else None
    return isinstance(provider, dict) and provider.get("type") == NEBIUS_SERVERLESS


def _serverless(check: _Checker, name: Any, raw: dict[str, Any], base: Path) -> Any:
    """A serverless target (no defaults: they are SSH hosts' settings), checked like a host."""
    where = f"host {name!r}"
    if not _name_ok(check, where, name):
        return None
    aliases, tags = _aliases(check, where, raw), _tags(check, where, raw)
    if aliases is None or tags is None:
        return None
    from .serverless_target import parse_target  # only a hosts.yaml with serverless targets pays its import

    return parse_target(check.bad, name, raw, tuple(aliases), tuple(tags), base)


def _name_ok(check: _Checker, where: str, name: Any) -> bool:
    """A host's (or serverless target's) own name: a plain word, and not one the CLI reserves."""
    if not isinstance(name, str) or not NAME_RE.match(name):
        check.bad(where, "bad host name", "use letters, digits, '-', '_' or '.'")
        return False
    if name in RESERVED_NAMES:
        check.bad(where, f"{name!r} is a reserved word of the CLI (--host auto picks a free H100, 'all' means every "
                  "host)", "rename the host, e.g. vm-auto")
        return False
    return True


def _aliases(check: _Checker, where: str, raw: dict[str, Any]) -> list[str] | None:
    """`aliases:` as a list of names (one name alone too); None after reporting what is wrong."""
    aliases = raw.get("aliases", [])
    if isinstance(aliases, str):
        aliases = [aliases]
    if not isinstance(aliases, list) or not all(isinstance(a, str) and NAME_RE.match(a) for a in aliases):
        check.bad(f"{where}, key 'aliases'", "must be a list of names", "write aliases: [train2]")
        return None
    reserved = [a for a in aliases if a in RESERVED_NAMES]
    for alias in reserved:
        check.bad(f"{where}, key 'aliases'", f"{alias!r} is a reserved word of the CLI (--host auto picks "
                  "a free H100, 'all' means every host)", "choose another alias")
    return None if reserved else aliases


def _tags(check: _Checker, where: str, raw: dict[str, Any]) -> list[str] | None:
    """`tags:` as a list of names (none: no tags); None after reporting what is wrong."""
    tags = raw.get("tags", [])
    if tags is None:
        tags = []
    if not isinstance(tags, list) or not all(isinstance(t, str) and NAME_RE.match(t) for t in tags):
        shown = f"[{tags}]" if isinstance(tags, str) else "[gpu, h100]"
        check.bad(f"{where}, key 'tags'", f"must be a list of names, got {tags!r}", f"write tags: {shown}")
        return None
    return tags


def resolve_path(value: str, project_root: Path) -> Path:
    """A relative path is taken from the working directory if it exists there, else from the project root."""
    p = Path(value).expanduser()
    if p.is_absolute() or p.exists():
        return p
    return project_root / p


def load_inventory(path: Path) -> Inventory:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InventoryError(f"{path}: inventory file not found",
                             "create it (see hosts.yaml) or set INVOKE_HOSTS_FILE / hosts.file") from None
    return parse_inventory(text, path)
