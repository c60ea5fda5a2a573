"""lerobot/processor of lerobot 0.4.3, the names SmolVLA's pipelines and positronic's server reach (STUB: see
pipeline.py and steps.py)."""
from .pipeline import (  # noqa: F401
    PolicyAction,
    PolicyProcessorPipeline,
    ProcessorStep,
    ProcessorStepRegistry,
    batch_to_transition,
    policy_action_to_transition,
    transition_to_batch,
    transition_to_policy_action,
)
from .steps import (  # noqa: F401
    AddBatchDimensionProcessorStep,
    DeviceProcessorStep,
    NormalizerProcessorStep,
    RenameObservationsProcessorStep,
    TokenizerProcessorStep,
    UnnormalizerProcessorStep,
)
