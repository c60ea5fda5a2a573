# lerobot/policies/__init__.py imports each policy's config class, which registers it under its `type`, and
# SmolVLA's new-line processor step, which registers it for saved pipelines; the stub has SmolVLA's only.
from .smolvla.configuration_smolvla import SmolVLAConfig as SmolVLAConfig
from .smolvla.processor_smolvla import SmolVLANewLineProcessor  # noqa: F401
