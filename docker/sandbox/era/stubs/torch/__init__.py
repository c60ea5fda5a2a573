"""Stub of PyTorch for the sandbox's job images (model layer: PyTorch's CUDA wheels cannot be had here, and a
converter needs none of its maths). Only what positronic's programs reach:

- `torch.utils.data`'s Dataset, Subset and a DataLoader that loads in this process, in order
  (pytorch.org/docs/stable/data.html), for the converters;
- `torch.nn.Module`, the base class positronic's ACT backbone module and lerobot's policies subclass;
- for the LeRobot ACT server (positronic/vendors/lerobot_0_3_3/policy.py and lerobot's device helpers): a
  CPU-only build's device queries (`torch.cuda.is_available()` is False, `torch.backends.mps` is not
  available), `torch.device`, `no_grad`, and a `Tensor` over a numpy array with the calls a session makes
  (`from_numpy`, `as_tensor`, `zeros`, `.to(device)`, `.squeeze(0)`, `.cpu()`, `.numpy()`, `.shape`), and for
  lerobot 0.4's processors (`.float()`, `.unsqueeze`, arithmetic with tensors and numbers, `.dtype`).
  Moving a tensor to CUDA fails as a CPU-only torch fails it.
"""
from __future__ import annotations

import contextlib
import functools

import numpy as np

from . import backends, cuda, nn, utils  # noqa: F401

__version__ = "0.0.0+rt-sandbox-stub"

_DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


class device:  # noqa: N801 (torch's own name)
    def __init__(self, spec: str | device):
        spec = str(spec)
        kind, _, index = spec.partition(":")
        if kind not in _DEVICE_TYPES:
            raise RuntimeError(f"Expected one of cpu, cuda, mps, xpu, meta device type at start of device string: {spec}")
        self.type, self.index = kind, int(index) if index else None

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def _checked(spec) -> device:
    """A device this CPU-only build can place a tensor on; CUDA and MPS fail as they do in such a build."""
    where = spec if isinstance(spec, device) else device(spec)
    if where.type == "cuda" and not cuda.is_available():
        raise AssertionError("Torch not compiled with CUDA enabled")
    if where.type == "mps" and not backends.mps.is_available():
        raise RuntimeError("MPS backend is not available")
    return where


class Tensor:
    """A tensor as a numpy array and the device it sits on (always the CPU here)."""

    def __init__(self, data, where: device | None = None):
        self._data = np.asarray(data)
        self.device = where or device("cpu")

    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def size(self, dim: int | None = None):
        return self._data.shape if dim is None else self._data.shape[dim]

    def to(self, target, *args, **kwargs) -> Tensor:
        return Tensor(self._data, _checked(target))

    def cpu(self) -> Tensor:
        return Tensor(self._data, device("cpu"))

    def numpy(self) -> np.ndarray:
        if self.device.type != "cpu":
            raise TypeError(f"can't convert {self.device.type} device type tensor to numpy. Use Tensor.cpu() to copy "
                            "the tensor to host memory first.")
        return self._data

    def squeeze(self, dim: int | None = None) -> Tensor:
        if dim is None:
            return Tensor(self._data.squeeze(), self.device)
        return Tensor(self._data.squeeze(dim) if self._data.shape[dim] == 1 else self._data, self.device)

    @property
    def dtype(self):
        return self._data.dtype

    def float(self) -> Tensor:
        return Tensor(self._data.astype(np.float32), self.device)

    def unsqueeze(self, dim: int) -> Tensor:
        return Tensor(np.expand_dims(self._data, dim), self.device)

    def clone(self) -> Tensor:
        return Tensor(self._data.copy(), self.device)

    def _binary(self, other, op) -> Tensor:
        return Tensor(op(self._data, other._data if isinstance(other, Tensor) else np.asarray(other)), self.device)

    def __add__(self, other):
        return self._binary(other, np.add)

    def __sub__(self, other):
        return self._binary(other, np.subtract)

    def __mul__(self, other):
        return self._binary(other, np.multiply)

    def __truediv__(self, other):
        return self._binary(other, np.true_divide)

    __radd__, __rmul__ = __add__, __mul__

    def __getitem__(self, index) -> Tensor:
        return Tensor(self._data[index], self.device)

    def __len__(self) -> int:
        return len(self._data)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def __repr__(self) -> str:
        return f"tensor({self._data!r})"


def from_numpy(array: np.ndarray) -> Tensor:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    return Tensor(array)


def as_tensor(data, dtype=None, device=None) -> Tensor:  # noqa: A002 (torch's own names)
    return Tensor(np.asarray(data, dtype=dtype), _checked(device) if device is not None else None)


def zeros(*size, dtype=None, device=None) -> Tensor:  # noqa: A002
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
    return Tensor(np.zeros(shape, dtype=dtype or np.float32), _checked(device) if device is not None else None)


class no_grad(contextlib.ContextDecorator):  # noqa: N801 (torch's own name)
    """Nothing here records gradients; as a decorator and a context, as torch's."""

    def __enter__(self):
        return None

    def __exit__(self, *exc) -> bool:
        return False

    def __call__(self, fn):
        return functools.wraps(fn)(super().__call__(fn))
