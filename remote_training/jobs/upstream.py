"""The names the positronic checkout's own Python defines, read from its source files without importing them.

Upstream's programs read their arguments with configuronic: a command word picked from the tree handed to
`cfn.cli(...)`, `@pkg.mod.name` imports the longest importable module prefix then `getattr`s the rest, and
`.name` is the same relative to the module of the argument's current default (configuronic/config.py:
`_determine_module_by_path`, `_resolve_relative_import`). Upstream's dependencies (torch, lerobot, jax...) are
not importable in this tool, so the checkout's files are read with `ast`: module-level bindings, `@cfn.config`
functions and `.override(...)` configs, module-level dict keys, command trees, and what a command's config
binds at a field (`bound`: the override chain down to a parameter's default). Whatever upstream defines
is accepted; anything else is refused before launch, with a did-you-mean.
"""
from __future__ import annotations

import ast
import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Mapping

from ..errors import InputError
from ..validate import did_you_mean

PACKAGE = "positronic"  # the one package a positronic checkout holds: references elsewhere are not checked
CONFIG_METHODS = ("override", "copy", "override_data")


@dataclass(frozen=True)
class Unbound:
    """No value read for a config field, and why."""
    why: str


REQUIRED = Unbound("required")  # no default and no override binds it: configuronic refuses to build the config
UNREAD = Unbound("unread")  # bound to something other than a literal, or beyond what this reader follows


@dataclass(frozen=True)
class Command:
    """One word of a program's command tree: `preset` when it binds its own checkpoints (a deployment)."""
    preset: bool = False
    children: Mapping[str, "Command"] | None = None


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    names: frozenset[str]  # every module-level binding: what configuronic's getattr finds
    configs: tuple[str, ...]  # public configs in source order (`@cfn.config` functions, `.override(...)` results)
    dict_keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # NAME = {'k': ...} at module level
    submodules: tuple[str, ...] = ()  # a package's modules (configuronic imports them by path too)


# Where a name's value was found: the module, its parsed tree, and the value's node in that tree.
_Binding = tuple[Module, ast.Module, ast.AST]


def _is_config_call(node: ast.AST) -> bool:
    """`x.override(...)`, `x.copy()`, `cfn.Config(...)`: a configuronic config built at module level."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return isinstance(func, ast.Attribute) and (func.attr in CONFIG_METHODS or func.attr == "Config")


def _is_config_decorator(node: ast.AST) -> bool:
    target = node.func if isinstance(node, ast.Call) else node
    return isinstance(target, ast.Attribute) and target.attr == "config" or isinstance(target, ast.Name) and \
        target.id == "config"


def _top_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Module-level statements, into `if`/`try`/`with` blocks (still module scope), not into defs."""
    for stmt in body:
        yield stmt
        for block in ("body", "orelse", "finalbody"):
            if isinstance(stmt, (ast.If, ast.Try, ast.With)) and block in stmt._fields:
                yield from _top_level(getattr(stmt, block))
        for handler in getattr(stmt, "handlers", ()) or ():
            yield from _top_level(handler.body)


def _targets(stmt: ast.Assign | ast.AnnAssign) -> list[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    out: list[str] = []
    for target in targets:
        out += [n.id for n in ast.walk(target) if isinstance(n, ast.Name)]
    return out


def _string_keys(node: ast.AST) -> tuple[str, ...] | None:
    """The keys of a dict literal, or of `{k: ... for k in ('a', 'b')}`; None for anything else."""
    if isinstance(node, ast.Dict):
        return tuple(k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str))
    if isinstance(node, ast.DictComp) and len(node.generators) == 1:
        source = node.generators[0].iter
        if isinstance(source, (ast.Tuple, ast.List, ast.Set)):
            return tuple(e.value for e in source.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return None


class Sources:
    """A positronic checkout's Python sources (the folder holding `positronic/` and `pyproject.toml`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def of(compose_dir: Path) -> "Sources | None":
        """The checkout whose `docker/` folder is `compose_dir`, or None when it ships no Python sources."""
        root = compose_dir.resolve().parent
        return Sources(root) if (root / PACKAGE / "__init__.py").is_file() else None

    # -- modules ---------------------------------------------------------------------------------------
    def _file(self, dotted: str) -> Path | None:
        base = self.root.joinpath(*dotted.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    def module(self, dotted: str) -> Module | None:
        path = self._file(dotted)
        return _read_module(dotted, path, path.stat().st_mtime_ns) if path else None

    def scripts(self) -> dict[str, str]:
        """pyproject.toml's `[project.scripts]`: console script -> module (the part before `:`)."""
        path = self.root / "pyproject.toml"
        return _scripts(path.read_text()) if path.is_file() else {}

    def program_module(self, program: str) -> Module | None:
        """The module a compose entrypoint runs: `python -m MODULE` or a console script of pyproject.toml."""
        return self.module(self.scripts().get(program, program))

    def takes_parameter(self, program: str, parameter: str) -> bool:
        """Whether the program's code declares `parameter` (False when unreadable): in its own module, or in
        a function it imports by name from the same package (one level, as the vendor servers import
        `positronic.offboard.server.serve`). upstream's workflows/nebius/serve.sh adds
        `--idle_timeout_min=20` to the servers it starts, and `positronic-server` (the dataset viewer) has
        no such parameter: it would fail on the flag."""
        module = self.program_module(program)
        tree = _readable(module.path) if module else None
        if module is None or tree is None:
            return False
        if _functions_with(tree, parameter):
            return True
        package = module.name.split(".", 1)[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == package:
                path = self._file(node.module or "")
                imported = _readable(path) if path else None
                if imported is not None and {a.name for a in node.names} & _functions_with(imported, parameter):
                    return True
        return False

    # -- command trees ---------------------------------------------------------------------------------
    def commands(self, program: str) -> Mapping[str, Command] | None:
        """The program's command tree (`cfn.cli({...})`), or None when it takes no command word."""
        found = self._cli(program)
        return self._tree(*found, depth=0) if found else None

    def _cli(self, program: str) -> _Binding | None:
        """(module, tree, node) of the argument the program hands to `cfn.cli(...)`."""
        module = self.program_module(program)
        if module is None:
            return None
        tree = _parse(module.path, module.path.stat().st_mtime_ns)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "cli" \
                    and node.args:
                return module, tree, node.args[0]
        return None

    def bound(self, program: str, word: str, path: str) -> object:
        """What the config of the program's command `word` binds at the dotted field `path`
        (`pipeline.ee_frame`): a literal, REQUIRED or UNREAD. As configuronic builds it: the last
        `.override(...)` that names the field, else the base config's, else the function's default."""
        found = self._cli(program)
        return self._field(*found, [word, *path.split(".")], 0) if found else UNREAD

    def commands_binding(self, program: str, path: str) -> dict[str, str]:
        """The program's pipeline commands (not presets) by the text each binds at `path`; where two bind the
        same (`serve` is `ee` again), the later one."""
        bound = {word: self.bound(program, word, path) for word, command in (self.commands(program) or {}).items()
                 if not command.preset and word}
        return {value: word for word, value in bound.items() if isinstance(value, str)}

    def _field(self, module: Module, tree: ast.Module, node: ast.AST, path: list[str], depth: int) -> object:
        if depth > 16:
            return UNREAD
        if not path:
            return _literal(node)
        if isinstance(node, ast.Name):
            found = self._binding(module, tree, node.id, depth)
            return self._field(*found, path, depth + 1) if found else UNREAD
        if isinstance(node, ast.Dict):  # a command tree: the word is the key
            value = dict(zip([k.value if isinstance(k, ast.Constant) else None for k in node.keys], node.values))
            return self._field(module, tree, value[path[0]], path[1:], depth + 1) if path[0] in value else UNREAD
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            setting = _setting(node.keywords, path)
            if setting:
                return self._field(module, tree, *setting, depth + 1)
            if node.func.attr in CONFIG_METHODS:  # the config it overrides
                return self._field(module, tree, node.func.value, path, depth + 1)
            if node.func.attr == "Config" and node.args:  # cfn.Config(target, ...): the target's own defaults
                return self._field(module, tree, node.args[0], path, depth + 1)
            return UNREAD
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            for decorator in node.decorator_list:
                setting = _setting(decorator.keywords, path) if isinstance(decorator, ast.Call) and \
                    _is_config_decorator(decorator) else None
                if setting:
                    return self._field(module, tree, *setting, depth + 1)
            function = node if isinstance(node, ast.FunctionDef) else next(
                (s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None)
            default = _default(function, path[0]) if function else UNREAD
            return default if isinstance(default, Unbound) else self._field(module, tree, default, path[1:],
                                                                            depth + 1)
        return UNREAD

    def _tree(self, module: Module, tree: ast.Module, node: ast.AST, depth: int) -> Mapping[str, Command] | None:
        if depth > 4:
            return None
        if isinstance(node, ast.Name):
            bound = self._binding(module, tree, node.id, depth)
            if bound is None:
                return None
            module, tree, node = bound
        if isinstance(node, ast.Dict):
            out = {}
            for key, value in zip(node.keys, node.values):
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    children = self._tree(module, tree, value, depth + 1) \
                        if isinstance(value, (ast.Dict, ast.Name)) else None
                    out[key.value] = Command(_binds_checkpoints(value), children)
            return out
        keys = _string_keys(node)
        if keys is not None:
            return {k: Command(_binds_checkpoints(node), None) for k in keys}
        return None

    def _binding(self, module: Module, tree: ast.Module, name: str, depth: int) -> _Binding | None:
        """(module, tree, value) a module-level name is bound to; follows `from x import name` once."""
        for stmt in _top_level(tree.body):
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None and name in _targets(stmt):
                return module, tree, stmt.value
            if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)) and stmt.name == name:
                return module, tree, stmt
            if isinstance(stmt, ast.ImportFrom) and stmt.module and depth < 4:
                for alias in stmt.names:
                    if (alias.asname or alias.name) == name:
                        source = self.module(_absolute(module, stmt))
                        if source is not None:
                            return self._binding(source, _parse(source.path, source.path.stat().st_mtime_ns),
                                                 alias.name, depth + 1)
        return None

    # -- references ------------------------------------------------------------------------------------
    def check_ref(self, ref: str, kind: str, base: str | None = None) -> InputError | None:
        """Why configuronic would fail to resolve `ref` (`@a.b.c`, or `.c` against the module `base`); None
        when upstream defines it, or it lies outside the checkout's package (not this checkout's to judge)."""
        if ref.startswith("@@"):
            return None  # configuronic's escape: a literal string
        if ref.startswith("@"):
            path = ref[1:]
        elif ref.startswith(".") and base:
            path = _relative(ref, base)
        else:
            return None
        parts = path.split(".")
        if parts[0] != PACKAGE:
            return None
        for cut in range(len(parts), 0, -1):  # the longest module prefix, as _determine_module_by_path
            module = self.module(".".join(parts[:cut]))
            if module is not None:
                break
        else:  # unreachable: positronic/__init__.py exists (Sources.of)
            return InputError(f"{kind} {ref!r}: no module of {path!r} in {self.root}", "name a positronic module")
        rest = parts[cut:]
        if not rest or rest[0] in module.names or rest[0] in module.submodules:
            return None  # deeper attributes (a field of a config) are upstream's to judge
        known = module.configs + module.submodules
        close = difflib.get_close_matches(rest[0], known, n=1, cutoff=0.6)  # on the names, not the long paths
        guess = f"did you mean {_written(close[0], module.name, ref, base)!r}? " if close else ""
        shown = ", ".join(_written(n, module.name, ref, base) for n in known) or "nothing to name"
        return InputError(f"unknown {kind} {ref!r}: {module.name} ({_rel(module.path, self.root)}) defines no "
                          f"{rest[0]!r}", f"{guess}it defines: {shown}")

    def check_command(self, program: str, args: list[str] | tuple[str, ...]) -> InputError | None:
        """The command words at the front of `args` against the program's command tree (configuronic 0.7's
        `_walk_tree`: a word per level; the '' key, where a tree has one, is taken when no word is given)."""
        tree, i = self.commands(program), 0
        words: list[str] = []
        while tree:
            word = args[i] if i < len(args) and not args[i].startswith("-") else None
            choices = [k for k in tree if k]
            if word is None and "" not in tree:
                return InputError(f"{program} needs a command first{' after ' + ' '.join(words) if words else ''}",
                                  f"begin with one of: {', '.join(choices)}")
            if word is not None and word not in tree:
                return InputError(f"{program} has no command {' '.join(words + [word])!r} in this checkout",
                                  f"{did_you_mean(word, choices)}its commands: {', '.join(choices)}")
            node = tree[word if word is not None else ""]
            words += [word] if word is not None else []
            i += 1 if word is not None else 0
            if any(c.preset for c in tree.values()) and not node.preset and \
                    not any(a.partition("=")[0].endswith("checkpoints_dir") for a in args):
                return InputError(f"{program} {' '.join(words)!r} is a pipeline, not a deployment: it has no "
                                  "checkpoints of its own", "give --checkpoints, or a preset: "
                                  + ", ".join(k for k, c in tree.items() if c.preset))
            tree = node.children
        return None

    def check_choice(self, value: str, kind: str, module_name: str, table: str) -> InputError | None:
        """`value` among the keys of the dict `table` bound at the top of `module_name` (e.g. BACKBONES)."""
        module = self.module(module_name)
        keys = module.dict_keys.get(table) if module else None
        if module is None or keys is None or value in keys:
            return None  # a checkout without that table: upstream's to judge
        return InputError(f"unknown {kind} {value!r}: {table} in {_rel(module.path, self.root)} has no such key",
                          f"{did_you_mean(value, keys)}choose one of: {', '.join(keys)}")

    def check_argv(self, program: str, args: list[str] | tuple[str, ...], bases: Mapping[str, str] | None = None,
                   choices: Mapping[str, tuple[str, str, str]] | None = None) -> list[InputError]:
        """Every name in an argv that upstream would refuse: the command words, each `@` value, each `.` value
        whose field's default module `bases` names (`--dataset.observation` -> positronic.cfg.policy.observation),
        and each value `choices` ties to the keys of a module-level dict."""
        problems: list[InputError | None] = [self.check_command(program, args)]
        pairs = [arg.partition("=")[::2] for arg in args if arg.startswith("--") and "=" in arg]
        pairs += [(flag, value) for flag, value in zip(args, args[1:])  # `--key value`, as fire reads it too
                  if flag.startswith("--") and "=" not in flag and not value.startswith("-")]
        for key, value in pairs:
            if value[:1] in ("@", "."):
                problems.append(self.check_ref(value, key, (bases or {}).get(key[2:])))
            elif key[2:] in (choices or {}):
                problems.append(self.check_choice(value, *(choices or {})[key[2:]]))
        return [p for p in problems if p]


def _written(name: str, module: str, ref: str, base: str | None) -> str:
    """How the user would write `module.name` in the form they used (`.name` relative to `base`)."""
    return f".{name}" if not ref.startswith("@") and base == module else f"@{module}.{name}"


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _relative(ref: str, base: str) -> str:
    """configuronic's `_construct_relative_path` with a default created in module `base`: one leading dot
    replaces the last component of `base.stub_name`, each further dot goes one package up."""
    dots = len(ref) - len(ref.lstrip("."))
    parts = base.split(".")
    return ".".join(parts[:len(parts) - (dots - 1)] if dots > 1 else parts) + "." + ref[dots:]


def _absolute(module: Module, stmt: ast.ImportFrom) -> str:
    if not stmt.level:
        return stmt.module or ""
    package = module.name.split(".")
    if module.path.name != "__init__.py":
        package = package[:-1]
    package = package[:len(package) - (stmt.level - 1)]
    return ".".join(package + ([stmt.module] if stmt.module else []))


def _setting(keywords: list[ast.keyword], path: list[str]) -> tuple[ast.AST, list[str]] | None:
    """The last keyword of an `.override(...)` or `@cfn.config(...)` that sets `path` or a field above it
    (`ee_frame=None`, `**{'source.modality_config': 'ee_q'}`, `source=...`): (its value, the rest of the path)."""
    for keyword in reversed(keywords):
        if keyword.arg is not None:
            pairs = [(keyword.arg, keyword.value)]
        elif isinstance(keyword.value, ast.Dict):
            pairs = [(k.value, v) for k, v in zip(keyword.value.keys, keyword.value.values)
                     if isinstance(k, ast.Constant) and isinstance(k.value, str)]
        else:
            continue
        for key, value in reversed(pairs):
            parts = key.split(".")
            if parts == path[:len(parts)]:
                return value, path[len(parts):]
    return None


def _default(function: ast.FunctionDef, name: str) -> ast.AST | Unbound:
    """A parameter's default expression; REQUIRED when it has none, UNREAD when there is no such parameter."""
    args = function.args
    positional = args.posonlyargs + args.args
    defaults = dict(zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults))
    defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    if name in defaults:
        return defaults[name]
    return REQUIRED if name in [a.arg for a in positional + args.kwonlyargs] else UNREAD


def _literal(node: ast.AST) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return UNREAD


def _binds_checkpoints(node: ast.AST) -> bool:
    """A deployment preset: its config binds `source.checkpoints_dir` (upstream's COMMANDS comments: 'a
    pipeline with its checkpoints bound')."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value.endswith("checkpoints_dir"):
            return True
        if isinstance(sub, ast.keyword) and sub.arg == "checkpoints_dir":
            return True
    return False


@lru_cache(maxsize=64)
def _parse(path: Path, mtime_ns: int) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _functions_with(tree: ast.AST, parameter: str) -> set[str]:
    """The functions in `tree` that declare `parameter`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            if any(a.arg == parameter for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)):
                found.add(node.name)
    return found


def _readable(path: Path) -> ast.Module | None:
    """The module's tree, or None when it cannot be read or parsed."""
    try:
        return _parse(path, path.stat().st_mtime_ns)
    except (OSError, SyntaxError, ValueError):
        return None


@lru_cache(maxsize=256)
def _read_module(dotted: str, path: Path, mtime_ns: int) -> Module:
    tree = _parse(path, mtime_ns)
    names: set[str] = set()
    configs: list[str] = []
    dict_keys: dict[str, tuple[str, ...]] = {}
    for stmt in _top_level(tree.body):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
            if not isinstance(stmt, ast.ClassDef) and any(_is_config_decorator(d) for d in stmt.decorator_list):
                configs.append(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = _targets(stmt)
            names.update(targets)
            if stmt.value is not None and _is_config_call(stmt.value):
                configs += targets
            keys = _string_keys(stmt.value) if stmt.value is not None else None
            if keys is not None:
                dict_keys.update({t: keys for t in targets})
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
    submodules: tuple[str, ...] = ()
    if path.name == "__init__.py":
        submodules = tuple(sorted(p.stem if p.suffix == ".py" else p.name for p in path.parent.iterdir()
                                  if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()))
    public = tuple(dict.fromkeys(c for c in configs if not c.startswith("_")))
    return Module(dotted, path, frozenset(names), public, dict_keys, submodules)


SCRIPT_RE = re.compile(r"""^\s*["']?([A-Za-z0-9_.-]+)["']?\s*=\s*["']([A-Za-z0-9_.]+)(?::[A-Za-z0-9_.]+)?["']""")


def _scripts(text: str) -> dict[str, str]:
    """The `[project.scripts]` table of a pyproject.toml (simple `name = "module:function"` lines, as
    PEP 621 writes entry points); read by line so Python 3.10 needs no TOML parser."""
    out, inside = {}, False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped == "[project.scripts]"
            continue
        match = SCRIPT_RE.match(line) if inside else None
        if match:
            out[match[1]] = match[2]
    return out
