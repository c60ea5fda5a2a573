"""The simulator's scene assets, stubbed: upstream's MuJoCo scene `positronic/assets/mujoco/franka_table.xml` loads
its meshes and textures from a pickle beside it (`franka_table.assets.pkl`, `relative_assets_path`), a binary
blob that upstream's repository stores but no copy reachable here holds (the mirror lacks that object). So the
job image gets a pickle of the same shape, made here: every mesh the scene names is a 6 cm box (OBJ or binary
STL, as named) and every texture an 8x8 grey PNG. The XML, MuJoCo, its physics and its renderer stay real; only
the robot's and the table's looks and mesh-derived geometry are placeholders.
"""
from __future__ import annotations

import pickle
import re
import struct
import zlib
from itertools import product
from pathlib import Path

HALF = 0.03  # metres: the box's half side
CORNERS = [(x, y, z) for x, y, z in product((-HALF, HALF), repeat=3)]
TRIANGLES = [(0, 1, 3), (0, 3, 2), (4, 6, 7), (4, 7, 5), (0, 4, 5), (0, 5, 1),
             (2, 3, 7), (2, 7, 6), (0, 2, 6), (0, 6, 4), (1, 5, 7), (1, 7, 3)]


def _obj() -> bytes:
    return ("".join(f"v {x} {y} {z}\n" for x, y, z in CORNERS)
            + "".join(f"f {a + 1} {b + 1} {c + 1}\n" for a, b, c in TRIANGLES)).encode()


def _stl() -> bytes:
    facets = b"".join(struct.pack("<12fH", 0, 0, 0, *CORNERS[a], *CORNERS[b], *CORNERS[c], 0) for a, b, c in TRIANGLES)
    return b"\0" * 80 + struct.pack("<I", len(TRIANGLES)) + facets


def _png(side: int = 8, grey: int = 128) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes([grey] * 3 * side) for _ in range(side))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def placeholders(scene_xml: str) -> dict[str, bytes]:
    """A placeholder for every asset file the scene names, keyed by that name, as upstream's pickle is."""
    makers = {".obj": _obj, ".stl": _stl, ".png": _png}
    return {name: makers[Path(name).suffix.lower()]() for name in sorted(set(re.findall(r'file="([^"]+)"', scene_xml)))}


def write(scene: Path) -> Path:
    """The pickle the scene's `relative_assets_path` names, beside it."""
    name = re.search(r'<text name="relative_assets_path" data="([^"]+)"', scene.read_text())
    if not name:
        raise ValueError(f"{scene} names no relative_assets_path")
    target = scene.parent / name.group(1)
    target.write_bytes(pickle.dumps(placeholders(scene.read_text())))
    return target
