"""STUB of torchvision (model layer): the `torchvision.models` namespace, where positronic's ACT backbone
module registers its timm backbones by name (a060cbea positronic/vendors/lerobot_0_3_3/backbone.py)."""
from . import models  # noqa: F401

__version__ = "0.0.0+rt-sandbox-stub"
