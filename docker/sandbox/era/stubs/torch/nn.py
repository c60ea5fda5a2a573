"""STUB of torch.nn: the Module base class, so positronic's ACT backbone module (a060cbea
positronic/vendors/lerobot_0_3_3/backbone.py) imports and defines its classes, and lerobot's policies subclass
it; nothing here computes. A module holds no parameters; `to`, `eval` and `train` return it, as torch's do."""
from __future__ import annotations


class Module:
    def __init__(self, *args, **kwargs):
        self.training = True

    def to(self, *args, **kwargs) -> Module:
        from torch import _checked, device

        target = args[0] if args else kwargs.get("device")
        if isinstance(target, (str, device)):  # `.to(dtype)` moves nothing
            _checked(target)
        return self

    def train(self, mode: bool = True) -> Module:
        self.training = mode
        return self

    def eval(self) -> Module:
        return self.train(False)

    def parameters(self):
        return iter(())

    def named_parameters(self):
        return iter(())

    def state_dict(self) -> dict:
        return {}
