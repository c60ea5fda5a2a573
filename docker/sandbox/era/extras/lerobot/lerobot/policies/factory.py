"""STUB of lerobot/policies/factory.py (lerobot 0.4.3) for SmolVLA, the only policy the stub has.

Kept, verbatim: get_policy_class's answer for "smolvla" and its refusal of an unknown name ("Policy type '<name>'
is not available."); make_pre_post_processors (a pretrained path: both pipelines loaded from its
policy_preprocessor.json and policy_postprocessor.json with the overrides; otherwise SmolVLA's new pipelines);
make_policy (the features taken from the dataset's metadata, the output ACTION ones, the inputs only when the
config declares none; a pretrained path loads the policy with from_pretrained, otherwise a fresh one is built;
`.to(device)`; the dataset's cameras checked against the policy's unless a rename map is given).
Replaced: no environment features (make_policy needs a dataset here), no PEFT.
"""
from typing import Any

from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import FeatureType
from lerobot.datasets.utils import dataset_to_policy_features
from lerobot.policies.pretrained import PreTrainedPolicy
from lerobot.policies.smolvla.configuration_smolvla import SmolVLAConfig
from lerobot.policies.utils import validate_visual_features_consistency
from lerobot.processor import (
    PolicyProcessorPipeline,
    batch_to_transition,
    policy_action_to_transition,
    transition_to_batch,
    transition_to_policy_action,
)
from lerobot.utils.constants import POLICY_POSTPROCESSOR_DEFAULT_NAME, POLICY_PREPROCESSOR_DEFAULT_NAME


def get_policy_class(name: str) -> type[PreTrainedPolicy]:
    if name == "smolvla":
        from lerobot.policies.smolvla.modeling_smolvla import SmolVLAPolicy

        return SmolVLAPolicy
    else:
        raise ValueError(f"Policy type '{name}' is not available.")


def make_pre_post_processors(policy_cfg: PreTrainedConfig, pretrained_path: str | None = None, **kwargs: Any):
    if pretrained_path:
        return (
            PolicyProcessorPipeline.from_pretrained(
                pretrained_model_name_or_path=pretrained_path,
                config_filename=kwargs.get(
                    "preprocessor_config_filename", f"{POLICY_PREPROCESSOR_DEFAULT_NAME}.json"
                ),
                overrides=kwargs.get("preprocessor_overrides", {}),
                to_transition=batch_to_transition,
                to_output=transition_to_batch,
            ),
            PolicyProcessorPipeline.from_pretrained(
                pretrained_model_name_or_path=pretrained_path,
                config_filename=kwargs.get(
                    "postprocessor_config_filename", f"{POLICY_POSTPROCESSOR_DEFAULT_NAME}.json"
                ),
                overrides=kwargs.get("postprocessor_overrides", {}),
                to_transition=policy_action_to_transition,
                to_output=transition_to_policy_action,
            ),
        )

    if isinstance(policy_cfg, SmolVLAConfig):
        from lerobot.policies.smolvla.processor_smolvla import make_smolvla_pre_post_processors

        return make_smolvla_pre_post_processors(config=policy_cfg, dataset_stats=kwargs.get("dataset_stats"))
    raise ValueError(f"Processor for policy type '{policy_cfg.type}' is not implemented.")


def make_policy(cfg: PreTrainedConfig, ds_meta=None, env_cfg=None, rename_map: dict[str, str] | None = None
                ) -> PreTrainedPolicy:
    if bool(ds_meta) == bool(env_cfg):
        raise ValueError("Either one of a dataset metadata or a sim env must be provided.")
    if ds_meta is None:
        raise NotImplementedError("the sandbox's lerobot stub makes a policy from a dataset's metadata only")

    policy_cls = get_policy_class(cfg.type)

    kwargs = {}
    features = dataset_to_policy_features(ds_meta.features)

    cfg.output_features = {key: ft for key, ft in features.items() if ft.type is FeatureType.ACTION}
    if not cfg.input_features:
        cfg.input_features = {key: ft for key, ft in features.items() if key not in cfg.output_features}
    kwargs["config"] = cfg

    # Pass dataset_stats to the policy if available (needed for some policies like SARM)
    if ds_meta is not None and hasattr(ds_meta, "stats"):
        kwargs["dataset_stats"] = ds_meta.stats

    if ds_meta is not None:
        kwargs["dataset_meta"] = ds_meta

    if cfg.pretrained_path:
        # Load a pretrained policy and override the config if needed (for example, if there are inference-time
        # hyperparameters that we want to vary).
        kwargs["pretrained_name_or_path"] = cfg.pretrained_path
        policy = policy_cls.from_pretrained(**kwargs)
    else:
        # Make a fresh policy.
        policy = policy_cls(**kwargs)

    policy.to(cfg.device)

    if not rename_map:
        validate_visual_features_consistency(cfg, features)

    return policy
