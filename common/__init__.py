"""The runtime both models share: device, distributed, precision, seeding,
checkpoints, logging and the ModelZoo summary."""

import torch

MIN_TORCH = (2, 1)


def _torch_version() -> tuple[int, int]:
    major, minor = torch.__version__.split("+")[0].split(".")[:2]
    return int(major), int(minor)


if _torch_version() < MIN_TORCH:
    raise ImportError(
        f"PyTorch {torch.__version__} is too old: this package needs torch >= "
        f"{MIN_TORCH[0]}.{MIN_TORCH[1]} (torch.amp, weights_only checkpoints). "
        "Install the versions in requirements.txt."
    )
