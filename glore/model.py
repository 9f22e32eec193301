"""Pre-activation 3D ResNet-"lite" with GloRe units (reference: resnet50-lite_3d_8x8_w-glore_2-3).

Module names follow the released checkpoints (`conv3.B01.conv_m1.bn.weight`, `conv4.B03_extra.gcn.conv1.bias`,
`tail.bn.*`, `classifier.*`, ...) so their state dicts load without renaming.
"""

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from glore.glore_unit import GloReUnit


@dataclass(frozen=True)
class NetworkSpec:
    """Depth, width and GloRe placement of one ResNet-lite variant."""

    blocks: tuple[int, int, int, int]  # residual blocks in conv2..conv5
    glore_after: tuple[
        tuple[int, ...], tuple[int, ...]
    ]  # block numbers followed by a GloRe unit in conv3, conv4
    stem_width: int = 32
    base_mid: int = 64  # bottleneck width of conv2; doubles per stage; stage output = 4 x mid


NETWORKS = {
    "resnet50": NetworkSpec(blocks=(3, 4, 6, 3), glore_after=((1, 3), (1, 3, 5))),
    "resnet101": NetworkSpec(blocks=(3, 4, 23, 3), glore_after=((1, 3), (6, 12, 18))),
    # Reduced variant for the CPU demo: one block per stage, a quarter of the width, still one
    # GloRe unit in conv3 and one in conv4.
    "resnet14-tiny": NetworkSpec(blocks=(1, 1, 1, 1), glore_after=((1,), (1,)), stem_width=8, base_mid=16),
}
# Names used by the reference code and the ModelZoo seed.
ALIASES = {
    "resnet50_3d_gcn_x5": "resnet50",
    "resnet101_3d_gcn_x5": "resnet101",
    "resnet50-lite_3d_8x8_w-glore_2-3": "resnet50",
    "resnet101-lite_3d_8x8_w-glore_2-3": "resnet101",
}


def canonical_network_name(name: str) -> str:
    key = name.lower()
    key = ALIASES.get(key, key)
    if key not in NETWORKS:
        choices = ", ".join(sorted(NETWORKS) + sorted(ALIASES))
        raise ValueError(f"unknown network {name!r}; expected one of: {choices}")
    return key


class BnReluConv(nn.Sequential):
    """Pre-activation unit: BN -> ReLU -> Conv3d (keys `bn.*`, `conv.weight`)."""

    def __init__(self, num_in, num_out, kernel=(1, 1, 1), stride=(1, 1, 1)):
        padding = tuple(k // 2 for k in kernel)
        super().__init__(
            OrderedDict(
                [
                    ("bn", nn.BatchNorm3d(num_in, eps=1e-4)),
                    ("relu", nn.ReLU(inplace=True)),
                    ("conv", nn.Conv3d(num_in, num_out, kernel, stride=stride, padding=padding, bias=False)),
                ]
            )
        )


class Bottleneck(nn.Module):
    """(kt,1,1) -> (1,3,3) carrying the stride -> 1x1x1, plus the identity or a 1x1x1 shortcut.

    No ReLU after the addition: the next block's pre-activation provides it.
    """

    def __init__(self, num_in, num_mid, num_out, stride=(1, 1, 1), temporal=True, shortcut=False):
        super().__init__()
        kt = 3 if temporal else 1
        self.conv_m1 = BnReluConv(num_in, num_mid, kernel=(kt, 1, 1))
        self.conv_m2 = BnReluConv(num_mid, num_mid, kernel=(1, 3, 3), stride=stride)
        self.conv_m3 = BnReluConv(num_mid, num_out)
        self.conv_w1 = BnReluConv(num_in, num_out, stride=stride) if shortcut else None

    def forward(self, x):
        h = self.conv_m3(self.conv_m2(self.conv_m1(x)))
        return h + (x if self.conv_w1 is None else self.conv_w1(x))


def _temporal_kernel(stage: int, block: int) -> bool:
    """Which blocks have a temporal kernel of 3 (the reference's pattern)."""
    if stage == 2:
        return True
    if stage == 5:
        return block == 2
    return block % 2 == 1


def _stage(stage, num_blocks, num_in, num_mid, stride, glore_after=()):
    num_out = 4 * num_mid
    layers = []
    for b in range(1, num_blocks + 1):
        layers.append(
            (
                f"B{b:02d}",
                Bottleneck(
                    num_in if b == 1 else num_out,
                    num_mid,
                    num_out,
                    stride=stride if b == 1 else (1, 1, 1),
                    temporal=_temporal_kernel(stage, b),
                    shortcut=(b == 1),
                ),
            )
        )
        if b in glore_after:
            layers.append((f"B{b:02d}_extra", GloReUnit(num_out, num_mid)))
    return nn.Sequential(OrderedDict(layers)), num_out


class GloReNet(nn.Module):
    """ResNet-lite 3D with GloRe units. Input N x 3 x T x H x W, output N x num_classes logits.

    At 8 x 224^2 the feature maps are exactly the reference's (2048 x 4 x 7 x 7 before pooling);
    the global average pool is adaptive so smaller inputs and other clip lengths work too.
    """

    def __init__(self, num_classes: int, network: str = "resnet50", dropout: float = 0.5):
        super().__init__()
        self.network = canonical_network_name(network)
        spec = NETWORKS[self.network]
        w = spec.stem_width
        self.conv1 = nn.Sequential(
            OrderedDict(
                [
                    ("conv", nn.Conv3d(3, w, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), bias=False)),
                    ("bn", nn.BatchNorm3d(w, eps=1e-4)),
                    ("relu", nn.ReLU(inplace=True)),
                    ("max_pool", nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))),
                ]
            )
        )
        mid = spec.base_mid
        self.conv2, c = _stage(2, spec.blocks[0], w, mid, (1, 1, 1))
        self.conv3, c = _stage(3, spec.blocks[1], c, 2 * mid, (2, 2, 2), spec.glore_after[0])
        self.conv4, c = _stage(4, spec.blocks[2], c, 4 * mid, (1, 2, 2), spec.glore_after[1])
        self.conv5, c = _stage(5, spec.blocks[3], c, 8 * mid, (1, 2, 2))
        self.tail = nn.Sequential(
            OrderedDict(
                [
                    ("bn", nn.BatchNorm3d(c, eps=1e-4)),
                    ("relu", nn.ReLU(inplace=True)),
                ]
            )
        )
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(c, num_classes)
        init_weights(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled 2048-d (for R50) clip features, before dropout and the classifier."""
        h = self.conv5(self.conv4(self.conv3(self.conv2(self.conv1(x)))))
        return self.pool(self.tail(h)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x)))


def init_weights(model: nn.Module) -> None:
    """The reference's init: xavier-uniform conv/linear weights, zero biases, BN (1, 0), blocker gamma 0."""
    for module in model.modules():
        if isinstance(module, (nn.Conv1d, nn.Conv3d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm3d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    for module in model.modules():
        if isinstance(module, GloReUnit):
            nn.init.zeros_(module.blocker.weight)


def to_channels_last(model: nn.Module) -> nn.Module:
    """NDHWC weights for the 3D convolutions. 1x1x1 kernels keep their default strides: their
    memory is the same either way, and autograd returns their gradients with default strides,
    which DDP's gradient buckets must match (else a copy and a warning on every step)."""
    model = model.to(memory_format=torch.channels_last_3d)
    for module in model.modules():
        if isinstance(module, nn.Conv3d) and module.kernel_size == (1, 1, 1):
            module.weight.data = module.weight.data.clone(memory_format=torch.contiguous_format)
    return model
