"""GloRe network: the unit's maths and identity at init, the reference's key names and shapes,
parameter counts, feature-map sizes, and small inputs."""

import re

import pytest
import torch

from glore.glore_unit import GloReUnit
from glore.model import GloReNet, canonical_network_name


def meta_model(network="resnet50", num_classes=101):
    """Built on the meta device: shapes without allocating or initialising 33M weights."""
    with torch.device("meta"):
        return GloReNet(num_classes, network=network)


def expected_keys(blocks, glore_after):
    """The released checkpoints' state-dict keys, written out from the spec's naming rules."""
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    keys = ["conv1.conv.weight"] + [f"conv1.bn.{b}" for b in bn]
    for stage, count in zip((2, 3, 4, 5), blocks):
        for b in range(1, count + 1):
            convs = ["conv_m1", "conv_m2", "conv_m3"] + (["conv_w1"] if b == 1 else [])
            for conv in convs:
                keys += [f"conv{stage}.B{b:02d}.{conv}.bn.{x}" for x in bn] + [
                    f"conv{stage}.B{b:02d}.{conv}.conv.weight"
                ]
            if b in glore_after.get(stage, ()):
                unit = f"conv{stage}.B{b:02d}_extra"
                keys += [
                    f"{unit}.conv_state.weight",
                    f"{unit}.conv_state.bias",
                    f"{unit}.conv_proj.weight",
                    f"{unit}.conv_proj.bias",
                    f"{unit}.gcn.conv1.weight",
                    f"{unit}.gcn.conv1.bias",
                    f"{unit}.gcn.conv2.weight",
                    f"{unit}.conv_extend.weight",
                ] + [f"{unit}.blocker.{x}" for x in bn]
    keys += [f"tail.bn.{x}" for x in bn] + ["classifier.weight", "classifier.bias"]
    return keys


def test_glore_unit_is_identity_at_init():
    unit = GloReUnit(32, 16)
    from glore.model import init_weights

    init_weights(unit)
    x = torch.randn(2, 32, 4, 5, 6)
    assert torch.equal(unit(x), x)
    unit.eval()
    assert torch.equal(unit(x), x)


def test_glore_unit_computes_project_reason_reproject():
    torch.manual_seed(0)
    unit = GloReUnit(12, 4).eval()
    for p in unit.parameters():
        p.data.normal_(0, 0.3)
    x = torch.randn(2, 12, 2, 3, 3)
    n, L = 2, 18
    v = torch.einsum("sc,nc...->ns...", unit.conv_state.weight.flatten(1), x).reshape(
        n, 8, L
    ) + unit.conv_state.bias.view(1, 8, 1)
    b = torch.einsum("kc,nc...->nk...", unit.conv_proj.weight.flatten(1), x).reshape(
        n, 4, L
    ) + unit.conv_proj.bias.view(1, 4, 1)
    nodes = v @ b.transpose(1, 2)  # not divided by L, like the reference
    adjacency = unit.gcn.conv1.weight.squeeze(-1)
    h = torch.einsum("ij,nsj->nsi", adjacency, nodes) + unit.gcn.conv1.bias.view(1, 1, 4) + nodes
    out = torch.einsum("ts,nsi->nti", unit.gcn.conv2.weight.squeeze(-1), torch.relu(h))
    y = (out @ b).reshape(n, 8, 2, 3, 3)
    z = torch.einsum("cs,ns...->nc...", unit.conv_extend.weight.flatten(1), y)
    expected = x + unit.blocker(z)
    torch.testing.assert_close(unit(x), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_glore_unit_under_autocast_stays_finite_where_fp16_overflows(dtype):
    """Half-precision features in, values beyond fp16's 65504 inside: the unit's output is that of
    fp32, to the precision of the output's type (under fp16 the reasoning runs in fp32)."""
    torch.manual_seed(0)
    unit = GloReUnit(64, 16).eval()
    for p in unit.parameters():
        p.data.normal_(0, 0.3)
    unit.blocker.running_var.fill_(1e8)  # brings the huge inner values back to the features' scale
    inner = []
    unit.conv_extend.register_forward_hook(lambda _m, inputs, _out: inner.append(inputs[0].abs().max()))
    x = torch.randn(1, 64, 4, 14, 14) * 4
    expected = unit(x)
    assert inner[-1] > 65504  # the reprojected graph state: inf in fp16
    with torch.autocast("cpu", dtype=dtype):
        got = unit(x.to(dtype))
    assert got.dtype == dtype and got.isfinite().all()
    torch.testing.assert_close(got.float(), expected, rtol=2e-2, atol=2e-2 * expected.abs().max().item())


@pytest.mark.parametrize(
    "network, blocks, glore_after",
    [
        ("resnet50", (3, 4, 6, 3), {3: (1, 3), 4: (1, 3, 5)}),
        ("resnet101", (3, 4, 23, 3), {3: (1, 3), 4: (6, 12, 18)}),
    ],
)
def test_state_dict_keys_match_the_released_checkpoints(network, blocks, glore_after):
    assert list(meta_model(network).state_dict()) == expected_keys(blocks, glore_after)


def test_r50_shapes_and_parameter_counts():
    model = meta_model()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["conv1.conv.weight"] == (32, 3, 3, 5, 5)
    assert shapes["conv2.B01.conv_m1.conv.weight"] == (64, 32, 3, 1, 1)
    assert shapes["conv2.B01.conv_w1.conv.weight"] == (256, 32, 1, 1, 1)
    assert shapes["conv3.B02.conv_m1.conv.weight"] == (128, 512, 1, 1, 1)  # even blocks: no temporal kernel
    assert shapes["conv3.B03.conv_m1.conv.weight"] == (128, 512, 3, 1, 1)
    assert shapes["conv5.B02.conv_m1.conv.weight"] == (512, 2048, 3, 1, 1)
    assert shapes["conv5.B03.conv_m1.conv.weight"] == (512, 2048, 1, 1, 1)
    assert shapes["conv4.B03.conv_m2.conv.weight"] == (256, 256, 1, 3, 3)
    assert shapes["conv3.B01_extra.conv_state.weight"] == (256, 512, 1, 1, 1)
    assert shapes["conv3.B01_extra.conv_proj.weight"] == (128, 512, 1, 1, 1)
    assert shapes["conv3.B01_extra.gcn.conv1.weight"] == (128, 128, 1)
    assert shapes["conv3.B01_extra.gcn.conv2.weight"] == (256, 256, 1)
    assert shapes["conv4.B05_extra.conv_extend.weight"] == (1024, 512, 1, 1, 1)
    assert shapes["conv4.B05_extra.blocker.weight"] == (1024,)
    assert shapes["classifier.weight"] == (101, 2048)
    total = sum(p.numel() for p in model.parameters())
    glore = sum(p.numel() for name, p in model.named_parameters() if "_extra." in name)
    assert total == pytest.approx(33.1e6, rel=0.005)
    assert glore == pytest.approx(5.75e6, rel=0.005)


def test_feature_maps_at_8x224_are_the_reference_ones():
    model = meta_model()
    h = model.conv1(torch.empty(1, 3, 8, 224, 224, device="meta"))
    assert tuple(h.shape) == (1, 32, 8, 56, 56)
    for stage, shape in (
        ("conv2", (256, 8, 56, 56)),
        ("conv3", (512, 4, 28, 28)),
        ("conv4", (1024, 4, 14, 14)),
        ("conv5", (2048, 4, 7, 7)),
    ):
        h = getattr(model, stage)(h)
        assert tuple(h.shape[1:]) == shape, stage
    assert tuple(model(torch.empty(2, 3, 8, 224, 224, device="meta")).shape) == (2, 101)


def test_reference_init():
    torch.manual_seed(0)
    model = GloReNet(5, network="resnet14-tiny")
    for name, tensor in model.state_dict().items():
        if re.search(r"blocker\.weight$", name):
            assert torch.all(tensor == 0), name
        elif re.search(r"bn\.weight$", name):
            assert torch.all(tensor == 1), name
        elif name.endswith(".bias"):
            assert torch.all(tensor == 0), name


@pytest.mark.parametrize("shape", [(2, 3, 8, 32, 32), (1, 3, 4, 48, 40), (2, 3, 16, 64, 64)])
def test_small_and_odd_inputs_work(shape):
    model = GloReNet(7, network="resnet14-tiny").eval()
    with torch.no_grad():
        assert model(torch.randn(*shape)).shape == (shape[0], 7)


def test_network_names():
    assert canonical_network_name("RESNET50_3D_GCN_X5") == "resnet50"
    assert canonical_network_name("resnet101-lite_3d_8x8_w-glore_2-3") == "resnet101"
    with pytest.raises(ValueError, match="unknown network 'resnet18'"):
        canonical_network_name("resnet18")
