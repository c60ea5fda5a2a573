# lerobot/policies/__init__.py registers each policy's config class under its `type`; the stub has ACT's only.
from .act.configuration_act import ACTConfig as ACTConfig
