"""STUB of torch.cuda as a CPU-only PyTorch build has it: no CUDA device."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def empty_cache() -> None:
    pass  # no caching allocator was ever initialised
