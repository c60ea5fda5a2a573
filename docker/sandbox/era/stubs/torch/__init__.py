"""Stub of PyTorch for the sandbox's job images (model layer: PyTorch's CUDA wheels cannot be had here, and a
converter needs none of its maths). Only what positronic's converters reach: `torch.utils.data`'s Dataset,
Subset and a DataLoader that loads in this process, in order (pytorch.org/docs/stable/data.html); and
`torch.nn.Module`, the base class positronic's ACT backbone module subclasses."""
from . import nn, utils  # noqa: F401

__version__ = "0.0.0+rt-sandbox-stub"
