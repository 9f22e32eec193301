"""The GOTURN network: two CaffeNet feature towers and a regression head.

The target crop (previous frame) and the search crop (current frame) go
through separate towers of the same architecture (no shared weights); their
256 x 6 x 6 features are concatenated, target first, and four fully
connected layers regress the object's box in the search crop, (x1, y1, x2, y2)
in units where the crop is 10 x 10. Inputs are 227 x 227 BGR images minus the
CaffeNet mean, not divided by 255 (``goturn.data.crops.to_network_input``).

Layer names follow the Caffe prototxt (conv1..conv5; fc6, fc7, fc7b, fc8 for
the original's fc6-new, fc7-new, fc7-newb, fc8-shapes), so a state dict reads
like the original model. ``caffenet`` (the original) has 113,748,740
parameters. ``caffenet-tiny``, the demo's network, keeps the layer sequence
minus the two LRNs at an eighth of CaffeNet's conv widths (1,788,388
parameters; 1/32 of the multiply-adds, 46 M per example against 1.44 G),
built to be trained from scratch in a few CPU minutes (``from_scratch``).

``encode_target``, ``encode_search`` and ``regress`` are the three parts
``forward`` chains; the tracker calls them apart, so each frame's target
features are computed once and serve both the next frame's regression and
the lost-target score.
"""

import itertools
from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

CONV_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5")
FC_NAMES = ("fc6", "fc7", "fc7b", "fc8")
# Spatial size of pool5's output for a 227 x 227 crop.
POOL5_SIDE = 6
# From-scratch networks: the input pixels (about +-128) times this.
INPUT_SCALE = 1 / 64
# The previous box in its own search crop (x1, y1, x2, y2 in crop units): a crop of twice the
# box's size, 10 units wide, holds it from 2.5 to 7.5.
NO_MOTION_UNITS = (2.5, 2.5, 7.5, 7.5)


@dataclass(frozen=True)
class NetworkSpec:
    """One variant of the network: its widths and how its head starts (the layer sequence is
    always CaffeNet's and GOTURN's)."""

    convs: tuple[int, int, int, int, int]  # output channels of conv1..conv5
    hidden: int  # width of fc6, fc7 and fc7b
    dropout: float = 0.5  # after fc6, fc7 and fc7b
    caffe_head_init: bool = True  # Caffe's fillers for the FC layers (else PyTorch's default init)
    lrn: bool = True  # CaffeNet's local response norms after pool1 and pool2
    # Built to be trained from scratch: inputs scaled to about unit size, He init for every
    # layer, fc8 starting at "the object has not moved" (see init_from_scratch_).
    from_scratch: bool = False

    @property
    def features(self) -> int:
        """Features per tower (pool5, flattened)."""
        return self.convs[-1] * POOL5_SIDE * POOL5_SIDE


NETWORKS = {
    "caffenet": NetworkSpec(convs=(96, 256, 384, 384, 256), hidden=4096),
    # The demo's: what trains to a tracker in about 3 CPU minutes. The LRNs are left out (a
    # quarter of a training step); the from-scratch init leaves the no-motion loss at once where
    # PyTorch's default init stayed there for ~250 steps. Measurements: goturn/README.md, "Demo
    # data and the demo recipe".
    "caffenet-tiny": NetworkSpec(
        convs=(12, 32, 48, 48, 32),
        hidden=512,
        dropout=0.0,
        caffe_head_init=False,
        lrn=False,
        from_scratch=True,
    ),
}
DEFAULT_NETWORK = "caffenet"


def network_spec(name: str) -> NetworkSpec:
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; expected one of: {', '.join(NETWORKS)}")
    return NETWORKS[name]


class LocalResponseNorm(nn.LocalResponseNorm):
    """LRN that squares fp16 inputs in fp32. CaffeNet's activations (on 0..255-scale
    pixels) pass 256, whose square is inf in fp16: under fp16 autocast (``mul`` is on
    none of its lists) the divisor became inf and the output 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != torch.float16:
            return super().forward(x)
        return super().forward(x.float()).to(x.dtype)


def caffenet_features(
    convs: tuple[int, ...] = NETWORKS[DEFAULT_NETWORK].convs, lrn: bool = True
) -> nn.Sequential:
    """CaffeNet's convolutional part (ReLU -> pool -> LRN, Caffe's order; ``lrn=False``: no LRN,
    the layer names of the others unchanged)."""
    c1, c2, c3, c4, c5 = convs

    def norm():
        return LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0) if lrn else nn.Identity()

    return nn.Sequential(
        OrderedDict(
            [
                ("conv1", nn.Conv2d(3, c1, kernel_size=11, stride=4)),
                ("relu1", nn.ReLU(inplace=True)),
                ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
                ("norm1", norm()),
                ("conv2", nn.Conv2d(c1, c2, kernel_size=5, padding=2, groups=2)),
                ("relu2", nn.ReLU(inplace=True)),
                ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
                ("norm2", norm()),
                ("conv3", nn.Conv2d(c2, c3, kernel_size=3, padding=1)),
                ("relu3", nn.ReLU(inplace=True)),
                ("conv4", nn.Conv2d(c3, c4, kernel_size=3, padding=1, groups=2)),
                ("relu4", nn.ReLU(inplace=True)),
                ("conv5", nn.Conv2d(c4, c5, kernel_size=3, padding=1, groups=2)),
                ("relu5", nn.ReLU(inplace=True)),
                ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),
            ]
        )
    )


def regression_head(features: int, hidden: int, dropout: float = 0.5) -> nn.Sequential:
    """fc6, fc7, fc7b (ReLU, dropout) and fc8 on the concatenated features of both towers."""
    layers = OrderedDict()
    sizes = (2 * features, hidden, hidden, hidden)
    for name, (n_in, n_out) in zip(FC_NAMES[:-1], itertools.pairwise(sizes)):
        layers[name] = nn.Linear(n_in, n_out)
        layers[f"relu_{name}"] = nn.ReLU(inplace=True)
        layers[f"drop_{name}"] = nn.Dropout(dropout)
    layers[FC_NAMES[-1]] = nn.Linear(hidden, 4)
    return nn.Sequential(layers)


class GoturnNet(nn.Module):
    def __init__(self, network: str = DEFAULT_NETWORK):
        super().__init__()
        spec = network_spec(network)
        self.network = network
        self.target_features = caffenet_features(spec.convs, spec.lrn)
        self.search_features = caffenet_features(spec.convs, spec.lrn)
        self.regressor = regression_head(spec.features, spec.hidden, spec.dropout)
        # CaffeNet's pixels are 0..255 minus the mean; a network trained from scratch sees them
        # at about unit size (a fixed factor, not a learned one: the weights stay comparable).
        self.input_scale = INPUT_SCALE if spec.from_scratch else 1.0
        if spec.caffe_head_init:
            init_caffe_(self)
        if spec.from_scratch:
            init_from_scratch_(self)

    def forward(
        self, target: torch.Tensor, search: torch.Tensor, target_index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``target`` N x 3 x 227 x 227 (or M unique targets with
        ``target_index`` of length N saying which one each example uses: the
        11 examples of a pair share one target, so its tower runs once per
        pair instead of once per example), ``search`` N x 3 x 227 x 227.
        Returns N x 4 boxes in crop units."""
        target_codes = self.encode_target(target)
        if target_index is not None:
            target_codes = target_codes.index_select(0, target_index)
        return self.regress(target_codes, self.encode_search(search))

    def encode_target(self, target: torch.Tensor) -> torch.Tensor:
        """The target tower's features, N x features (non-negative: pool5 of ReLUs)."""
        return self.target_features(self._scaled(target)).flatten(1)

    def encode_search(self, search: torch.Tensor) -> torch.Tensor:
        return self.search_features(self._scaled(search)).flatten(1)

    def _scaled(self, crops: torch.Tensor) -> torch.Tensor:
        return crops if self.input_scale == 1.0 else crops * self.input_scale

    def regress(self, target_codes: torch.Tensor, search_codes: torch.Tensor) -> torch.Tensor:
        return self.regressor(torch.cat((target_codes, search_codes), dim=1))

    def feature_towers(self) -> list[nn.Module]:
        return [self.target_features, self.search_features]

    def freeze_features(self, frozen: bool = True) -> None:
        """Frozen towers get no gradients at all (no graph is recorded for
        them), not merely a zero learning rate."""
        for tower in self.feature_towers():
            tower.requires_grad_(not frozen)

    def features_frozen(self) -> bool:
        return not any(p.requires_grad for tower in self.feature_towers() for p in tower.parameters())


@torch.no_grad()
def init_from_scratch_(model: GoturnNet) -> None:
    """He init (fan-in, ReLU) of every conv and FC layer with zero biases, so activations keep
    their size through the towers and the head; fc8 starts near zero weights with the bias of
    the no-motion answer (the object as the centre half of the search crop): the first steps
    refine that answer instead of undoing a random one (a random fc8 began at loss ~980, five
    times the no-motion loss)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            nn.init.zeros_(module.bias)
    last = getattr(model.regressor, FC_NAMES[-1])
    nn.init.normal_(last.weight, 0.0, 1e-3)
    last.bias.copy_(torch.tensor(NO_MOTION_UNITS))


@torch.no_grad()
def init_caffe_(model: GoturnNet) -> None:
    """Caffe's fillers from the GOTURN prototxt: hidden FC weights
    N(0, 0.005) with bias 1, the last FC N(0, 0.01) with bias 0.

    The towers are meant to start from pretrained CaffeNet weights; without
    them they keep PyTorch's default init, as the reference does. (CaffeNet's
    own N(0, 0.01) fillers, made for 450k iterations of ImageNet training,
    give nearly constant pool5 features at init: a short run learns nothing
    from them.)"""
    for name in FC_NAMES:
        fc = getattr(model.regressor, name)
        last = name == FC_NAMES[-1]
        nn.init.normal_(fc.weight, 0.0, 0.01 if last else 0.005)
        nn.init.constant_(fc.bias, 0.0 if last else 1.0)


def l1_sum(prediction: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Caffe's L1 loss with ASUM reduction: summed over examples and coordinates."""
    return (prediction.float() - label).abs().sum()
