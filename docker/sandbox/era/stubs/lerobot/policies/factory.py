"""STUB of lerobot/policies/factory.py (lerobot 0.3.3): make_policy as lerobot's train() calls it, for ACT.

Kept: the features taken from the dataset's metadata (dataset_to_policy_features) and split into the config's
output (ACTION) and input features, verbatim; a run resumed from a checkpoint (`pretrained_path`, set by
TrainPipelineConfig.validate) loads it with from_pretrained, a fresh one builds the policy; then `.to(device)`.
Replaced: `ds_meta` is the dataset's meta/info.json as a dict (the stub's LeRobotDatasetMetadata), no dataset
statistics are passed (the stub policy has no normalisation buffers), and only ACT is known here.
"""
from lerobot.configs.policies import PreTrainedConfig
from lerobot.configs.types import FeatureType
from lerobot.datasets.utils import dataset_to_policy_features
from lerobot.policies.pretrained import PreTrainedPolicy


def get_policy_class(name: str) -> type[PreTrainedPolicy]:
    """Get the policy's class and config class given a name (matching the policy class' `name` attribute)."""
    if name == "act":
        from lerobot.policies.act.modeling_act import ACTPolicy

        return ACTPolicy
    else:
        raise NotImplementedError(f"Policy with name {name} is not implemented.")


def make_policy(cfg: PreTrainedConfig, ds_meta: dict | None = None, env_cfg=None) -> PreTrainedPolicy:
    if bool(ds_meta) == bool(env_cfg):
        raise ValueError("Either one of a dataset metadata or a sim env must be provided.")
    if ds_meta is None:
        raise NotImplementedError("the sandbox's lerobot stub makes a policy from a dataset's metadata only")

    policy_cls = get_policy_class(cfg.type)

    kwargs = {}
    features = dataset_to_policy_features(ds_meta["features"])

    cfg.output_features = {key: ft for key, ft in features.items() if ft.type is FeatureType.ACTION}
    cfg.input_features = {key: ft for key, ft in features.items() if key not in cfg.output_features}
    kwargs["config"] = cfg

    if cfg.pretrained_path:
        # Load a pretrained policy and override the config if needed (for example, if there are inference-time
        # hyperparameters that we want to vary).
        kwargs["pretrained_name_or_path"] = cfg.pretrained_path
        policy = policy_cls.from_pretrained(**kwargs)
    else:
        # Make a fresh policy.
        policy = policy_cls(**kwargs)

    policy.to(cfg.device)
    return policy
