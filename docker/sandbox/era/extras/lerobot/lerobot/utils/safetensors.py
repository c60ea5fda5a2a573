"""The safetensors file format (safetensors' save_file and load_file) over numpy: an 8-byte little-endian header
length, the JSON header (dtype, shape, data_offsets per tensor), then the raw little-endian bytes. STUB: the
safetensors package is not in the image; the format is small enough to write out."""
import json
import struct
from pathlib import Path

import numpy as np

_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8, "BOOL": np.bool_}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save_file(tensors: dict, filename, metadata: dict | None = None) -> None:
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, value in tensors.items():
        array = np.ascontiguousarray(getattr(value, "_data", value))
        data = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _NAMES[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    Path(filename).write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def load_file(filename) -> dict[str, np.ndarray]:
    with open(filename, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        body = f.read()
    return {name: np.frombuffer(body[info["data_offsets"][0]:info["data_offsets"][1]],
                                dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
            for name, info in header.items() if name != "__metadata__"}
