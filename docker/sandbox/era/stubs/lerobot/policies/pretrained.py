"""STUB: lerobot's policy base class (lerobot/policies/pretrained.py), named so positronic's policy modules
import; no model is loaded here."""


class PreTrainedPolicy:
    name = "pretrained"

    @classmethod
    def from_pretrained(cls, pretrained_name_or_path, **_):
        raise NotImplementedError("the sandbox's lerobot stub loads no model")
