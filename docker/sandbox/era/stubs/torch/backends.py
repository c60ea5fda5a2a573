"""STUB of torch.backends as a Linux PyTorch build has it: the MPS backend (Apple's Metal) is neither built nor
available."""
from types import SimpleNamespace

mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
