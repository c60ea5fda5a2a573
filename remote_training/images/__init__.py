"""Images: a catalog, content keys, a plan and a parallel builder for the fleet's images.

Light on import on purpose (no docker SDK here): preflight and `inv --list` use it.
"""
from __future__ import annotations

from .envfile import read_image_env, update_env_file
from .registry import manifest_exists


def image_present(ref: str) -> bool:
    """True when the registry holds `ref` (one HEAD of its manifest); ImageError when unreachable."""
    return manifest_exists(ref)


__all__ = ["image_present", "read_image_env", "update_env_file"]
