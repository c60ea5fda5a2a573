from .configs import EnvConfig  # noqa: F401
