"""STUB of lerobot/optim/optimizers.py (lerobot 0.4.3): the optimizer configs' fields, defaults and registered
names, as train_config.json records them. Not here: build() (torch's optimisers; the stub trains no model)."""
import abc
from dataclasses import dataclass


@dataclass
class OptimizerConfig(abc.ABC):
    lr: float
    weight_decay: float
    grad_clip_norm: float
    _choices = {}  # type: ignore[var-annotated]

    @classmethod
    def register_subclass(cls, name: str):
        def register(subclass):
            cls._choices[name] = subclass
            return subclass
        return register

    @property
    def type(self) -> str:
        return next(name for name, sub in self._choices.items() if sub is type(self))


@OptimizerConfig.register_subclass("adamw")
@dataclass
class AdamWConfig(OptimizerConfig):
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 1e-2
    grad_clip_norm: float = 10.0
