from .optimizers import AdamWConfig, OptimizerConfig  # noqa: F401
from .schedulers import CosineDecayWithWarmupSchedulerConfig, LRSchedulerConfig  # noqa: F401
