"""STUB of lerobot/envs/configs.py (lerobot 0.4.3): EnvConfig's fields and its registry of named subclasses, as
draccus's ChoiceRegistry gives it, without draccus; FeatureType and PolicyFeature re-exported as there."""
import abc
from dataclasses import dataclass, field

from lerobot.configs.types import FeatureType, PolicyFeature  # noqa: F401


@dataclass
class EnvConfig(abc.ABC):
    task: str | None = None
    fps: int = 30
    features: dict[str, PolicyFeature] = field(default_factory=dict)
    features_map: dict[str, str] = field(default_factory=dict)
    max_parallel_tasks: int = 1
    disable_env_checker: bool = True
    _choices = {}  # type: ignore[var-annotated]

    @classmethod
    def register_subclass(cls, name: str):
        def register(subclass):
            EnvConfig._choices[name] = subclass
            return subclass
        return register

    @property
    def type(self) -> str:
        return next(name for name, sub in EnvConfig._choices.items() if sub is type(self))

    @property
    @abc.abstractmethod
    def gym_kwargs(self) -> dict:
        raise NotImplementedError()
