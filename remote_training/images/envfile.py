"""docker/.env: where compose reads which image refs to run.

After a push, one `RT_IMAGE_<NAME>=<ref by key tag>` line per image (the jobs'
compose files read `${RT_IMAGE_GR00T:-...}`) plus upstream's `IMAGE_TAG=`.
Lines this module does not own are kept as they are.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping


def read_image_env(path: Path | str) -> dict[str, str]:
    """KEY=VALUE pairs of an env file (comments and blank lines ignored); {} when absent."""
    out: dict[str, str] = {}
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key] = value
    return out


def update_env_file(path: Path | str, values: Mapping[str, str]) -> None:
    """Set `values` in the file, replacing their old lines in place and keeping all others."""
    path = Path(path)
    lines = path.read_text().splitlines() if path.exists() else []
    left = dict(values)
    out: list[str] = []
    for line in lines:
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip() if "=" in line else None
        if key in left:
            out.append(f"{key}={left.pop(key)}")
        elif key not in values:
            out.append(line)
    out += [f"{k}={v}" for k, v in left.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text("\n".join(out) + "\n")
    os.replace(tmp, path)
