"""A GoturnNet and inputs shared by the network, weights and tracker tests."""

import pytest
import torch

from goturn.model import GoturnNet


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return GoturnNet().eval()


@pytest.fixture(scope="module")
def inputs():
    generator = torch.Generator().manual_seed(1)
    return (
        torch.randn(3, 3, 227, 227, generator=generator) * 50,
        torch.randn(3, 3, 227, 227, generator=generator) * 50,
    )
