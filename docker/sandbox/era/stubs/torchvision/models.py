"""STUB of torchvision.models: an empty namespace that backbones are registered into; no model is built."""
