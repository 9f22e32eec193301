"""What both models share: the runtime (device, process group, precision, seeding, logging),
the training run's skeleton (state, resume, checkpoints, stop, finish), the data loader, atomic
files and the ModelZoo summary. It imports neither model."""

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
