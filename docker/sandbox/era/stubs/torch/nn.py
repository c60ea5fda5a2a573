"""STUB of torch.nn: the Module base class, so positronic's ACT backbone module (a060cbea
positronic/vendors/lerobot_0_3_3/backbone.py) imports and defines its classes; nothing here computes."""


class Module:
    def __init__(self, *args, **kwargs):
        pass
