"""Where rt finds the files its settings name: the inventory (hosts.yaml) and the image catalog.

One search order for both, the first that gives a file wins (README "Configuration"):
1. the flag (`rt --hosts FILE`, `rt --catalog FILE`);
2. the setting (hosts.file, images.catalog: any Invoke config file, or INVOKE_HOSTS_FILE, INVOKE_IMAGES_CATALOG);
3. the current directory;
4. ~/.config/remote-training/ ($XDG_CONFIG_HOME/remote-training/);
5. the positronic checkout (the repository of jobs.compose_project, else positronic/ under images.root);
6. this project's own checkout, when rt runs from one (an editable install: development, the sandbox).
A flag or a setting that names a missing file is an error, never passed over.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InputError, InventoryError, RTError


def read_yaml(text: str) -> Any:
    """YAML as `yaml.safe_load` reads it, by libyaml's C parser where PyYAML has it (a tenth of the time:
    hosts.yaml and the image catalog are read on every command)."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


@dataclass(frozen=True)
class Kind:
    what: str
    key: str  # the config key
    env: str  # its INVOKE_ variable
    flag: str  # rt's core flag
    names: tuple[str, ...]  # what is looked for in each folder, in order
    error: type[RTError]


HOSTS = Kind("inventory", "hosts.file", "INVOKE_HOSTS_FILE", "--hosts", ("hosts.yaml",), InventoryError)
CATALOG = Kind("image catalog", "images.catalog", "INVOKE_IMAGES_CATALOG", "--catalog",
               ("images.yaml", "docker/images.yaml"), InputError)


@dataclass(frozen=True)
class Found:
    path: Path
    how: str  # which step of the search gave it ("setting hosts.file", "~/.config/remote-training", ...)


def user_folder() -> Path:
    """~/.config/remote-training, or under $XDG_CONFIG_HOME (the XDG base directory spec)."""
    return Path(os.environ.get("XDG_CONFIG_HOME") or "~/.config").expanduser() / "remote-training"


def find(kind: Kind, *, flag: str = "", setting: str = "", positronic: Path | None = None,
         project: Path | None = None) -> Found:
    """The file of `kind` by the search order. `project`: this project's checkout when rt runs from one; a
    relative flag or setting is taken from the current directory, else from there."""
    for value, how in ((flag, f"flag {kind.flag}"), (setting, f"setting {kind.key}")):
        if value:
            path = Path(value).expanduser()
            if not path.is_absolute() and not path.exists() and project is not None:
                path = project / path
            if not path.is_file():
                raise kind.error(f"{kind.what} {value} ({how}) not found",
                                 f"create it, or point {kind.flag} / {kind.env} at the file")
            return Found(path, how)
    places = [("current directory", Path.cwd()), ("user config folder", user_folder()),
              ("positronic checkout", positronic), ("this checkout", project)]
    for how, folder in places:
        if folder is None:
            continue
        for name in kind.names:
            if (folder / name).is_file():
                return Found(folder / name, how)
    looked = ", ".join(str(folder) for _, folder in places if folder is not None)
    raise kind.error(f"no {kind.what} ({' or '.join(kind.names)}) in {looked}",
                     f"write one to {user_folder() / kind.names[0]}, or name it: {kind.flag} FILE or {kind.env}")
