"""The devices a test can run on here: always the CPU, and the machine's
CUDA GPU or Ascend NPU when it has one (skipped otherwise), so the same
comparison checks the accelerator paths wherever one is present."""

import pytest
import torch

from common.device import resolve_device

CPU = torch.device("cpu")
ACCELERATOR = resolve_device("auto")  # the CPU when there is no GPU or NPU

needs_accelerator = pytest.mark.skipif(ACCELERATOR.type == "cpu", reason="needs a CUDA GPU or an Ascend NPU")

# For @pytest.mark.parametrize("device", DEVICES).
DEVICES = [
    pytest.param(CPU, id="cpu"),
    pytest.param(ACCELERATOR, id="accelerator", marks=needs_accelerator),
]
