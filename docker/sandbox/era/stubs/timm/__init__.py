"""STUB of timm (model layer): positronic's ACT backbone module imports it; creating a model is refused, since
the sandbox's lerobot stub trains no model and the images hold no weights."""
__version__ = "0.0.0+rt-sandbox-stub"


def create_model(model_name: str, pretrained: bool = False, **kwargs):
    raise NotImplementedError(f"the sandbox's timm stub builds no model ({model_name})")
