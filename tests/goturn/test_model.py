"""goturn/model.py: the two-tower CaffeNet network, its Caffe init, fp16-safe LRN and frozen towers."""

import pytest
import torch

from goturn.model import GoturnNet
from goturn.optim import caffe_param_groups


def parameter_count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_shapes_and_parameter_count(net, inputs):
    assert parameter_count(net) == 113_748_740
    towers = sum(p.numel() for p in net.target_features.parameters())
    assert towers == 2_334_080 and parameter_count(net.regressor) == 109_080_580
    target, search = inputs
    assert net.search_features(search).shape == (3, 256, 6, 6)
    with torch.no_grad():
        assert net(target, search).shape == (3, 4)


def test_caffe_init():
    torch.manual_seed(0)
    head = GoturnNet().regressor
    for name in ("fc6", "fc7", "fc7b"):
        layer = getattr(head, name)
        assert layer.weight.std().item() == pytest.approx(0.005, rel=0.02)
        assert (layer.bias == 1).all()
    assert head.fc8.weight.std().item() == pytest.approx(0.01, rel=0.1) and (head.fc8.bias == 0).all()


def test_shared_targets_give_the_same_output(net, inputs):
    target, search = inputs
    index = torch.tensor([1, 1, 0])
    with torch.no_grad():
        torch.testing.assert_close(net(target, search, index), net(target[index], search))


def test_lrn_under_fp16_autocast_matches_fp32_beyond_256():
    """CaffeNet's LRN on activations past 256 (their square overflows fp16): the fp32 result to
    fp16's precision, not 0."""
    lrn = GoturnNet().target_features.norm1
    x = torch.rand(2, 96, 27, 27) * 600
    expected = lrn(x)
    with torch.autocast("cpu", dtype=torch.float16):
        got = lrn(x.half())
    torch.testing.assert_close(got.float(), expected, rtol=2e-3, atol=1e-2)
    assert got.dtype == torch.float16


def test_frozen_towers_compute_no_gradients(inputs):
    model = GoturnNet()
    model.freeze_features()
    assert model.features_frozen()
    target, search = inputs
    assert not model.search_features(search).requires_grad  # no graph recorded for the towers
    model(target, search).sum().backward()
    assert all(p.grad is None for tower in model.feature_towers() for p in tower.parameters())
    assert all(p.grad is not None for p in model.regressor.parameters())
    groups = caffe_param_groups(model, 1e-6, 5e-4)
    assert [(g["name"], g["lr"], g["weight_decay"]) for g in groups] == [
        ("fc_weight", pytest.approx(1e-5), pytest.approx(5e-4)),
        ("fc_bias", pytest.approx(2e-5), 0.0),
    ]
    model.freeze_features(False)
    names = [g["name"] for g in caffe_param_groups(model, 1e-6, 5e-4)]
    assert names == ["fc_weight", "fc_bias", "conv_weight", "conv_bias"]


# ---- weight loaders -------------------------------------------------------


def test_the_demo_network_is_a_narrow_caffenet_built_to_train_from_scratch(inputs):
    torch.manual_seed(0)
    tiny = GoturnNet("caffenet-tiny").eval()
    assert tiny.network == "caffenet-tiny" and parameter_count(tiny) == 1_788_388
    convs = [getattr(tiny.search_features, f"conv{k}").out_channels for k in range(1, 6)]
    assert convs == [12, 32, 48, 48, 32] and tiny.regressor.fc6.out_features == 512
    # The same layers under the same names as CaffeNet's: only the shapes differ (no LRN).
    assert list(tiny.state_dict()) == list(GoturnNet().state_dict())
    assert not any(isinstance(m, torch.nn.LocalResponseNorm) for m in tiny.modules())
    assert any(isinstance(m, torch.nn.LocalResponseNorm) for m in GoturnNet().modules())
    # From scratch: He-initialised layers, zero biases, no dropout, and fc8 answering "no
    # motion" (the box as the centre half of its search crop) before any training.
    assert (tiny.regressor.fc6.bias == 0).all() and tiny.regressor.drop_fc6.p == 0.0
    assert tiny.regressor.fc6.weight.std().item() == pytest.approx(
        (2 / tiny.regressor.fc6.in_features) ** 0.5, rel=0.05
    )
    with torch.no_grad():
        start = tiny(*inputs)
    torch.testing.assert_close(start, torch.tensor([[2.5, 2.5, 7.5, 7.5]]).expand_as(start), atol=0.3, rtol=0)
    # The inputs are seen at about unit size: the scaled and the plain tower differ by the factor.
    with torch.no_grad():
        unscaled = tiny.target_features(inputs[0] * tiny.input_scale).flatten(1)
        torch.testing.assert_close(tiny.encode_target(inputs[0]), unscaled)
    assert tiny.input_scale == pytest.approx(1 / 64) and GoturnNet().input_scale == 1.0
    target, search = inputs
    with torch.no_grad():
        codes = tiny.encode_target(target)
        assert codes.shape == (3, 32 * 6 * 6) and (codes >= 0).all()
        torch.testing.assert_close(tiny.regress(codes, tiny.encode_search(search)), tiny(target, search))
    with pytest.raises(ValueError, match="unknown network 'alexnet'"):
        GoturnNet("alexnet")
