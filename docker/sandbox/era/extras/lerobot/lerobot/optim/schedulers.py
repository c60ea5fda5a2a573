"""STUB of lerobot/optim/schedulers.py (lerobot 0.4.3): the scheduler configs' fields and registered names, as
train_config.json records them. Not here: build() (torch's LambdaLR; the stub trains no model)."""
import abc
from dataclasses import dataclass


@dataclass
class LRSchedulerConfig(abc.ABC):
    num_warmup_steps: int | None
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


@LRSchedulerConfig.register_subclass("cosine_decay_with_warmup")
@dataclass
class CosineDecayWithWarmupSchedulerConfig(LRSchedulerConfig):
    """Used by Physical Intelligence to train Pi0."""

    num_warmup_steps: int
    num_decay_steps: int
    peak_lr: float
    decay_lr: float
