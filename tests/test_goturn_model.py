"""The network, its Caffe init, the weight loaders and the Caffe SGD solver."""

import argparse
import copy
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from goturn.model import GoturnNet, count_parameters
from goturn.solver import CaffeSGD, base_lr, build_solver, caffe_param_groups
from goturn.weights import (
    CAFFENET_SHAPES,
    WeightsError,
    load_caffenet_npy,
    load_goturn_checkpoint,
    load_pretrained,
    load_reference_checkpoint,
)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return GoturnNet().eval()


@pytest.fixture(scope="module")
def inputs():
    generator = torch.Generator().manual_seed(1)
    return (torch.randn(3, 3, 227, 227, generator=generator) * 50,
            torch.randn(3, 3, 227, 227, generator=generator) * 50)


def test_shapes_and_parameter_count(net, inputs):
    assert count_parameters(net) == 113_748_740
    towers = sum(p.numel() for p in net.target_features.parameters())
    assert towers == 2_334_080 and count_parameters(net.regressor) == 109_080_580
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
        ("fc_weight", pytest.approx(1e-5), pytest.approx(5e-4)), ("fc_bias", pytest.approx(2e-5), 0.0)]
    model.freeze_features(False)
    names = [g["name"] for g in caffe_param_groups(model, 1e-6, 5e-4)]
    assert names == ["fc_weight", "fc_bias", "conv_weight", "conv_bias"]


# ---- weight loaders -------------------------------------------------------

def caffenet_dict(seed=0):
    rng = np.random.default_rng(seed)
    weights = {name: [rng.standard_normal(w).astype(np.float32), rng.standard_normal(b).astype(np.float32)]
               for name, (w, b) in CAFFENET_SHAPES.items()}
    weights["fc6"] = [np.zeros((4096, 9216), np.float32), np.zeros(4096, np.float32)]  # ignored
    return weights


def save_npy(path, obj):
    np.save(path, np.array(obj, dtype=object), allow_pickle=True)
    return path


def test_caffenet_npy_fills_both_towers(tmp_path):
    weights = caffenet_dict()
    path = save_npy(tmp_path / "caffenet_weights.npy", weights)
    model = GoturnNet()
    assert load_pretrained(model, path) == "caffenet"
    for tower in model.feature_towers():
        for name in CAFFENET_SHAPES:
            np.testing.assert_array_equal(getattr(tower, name).weight.detach().numpy(), weights[name][0])
            np.testing.assert_array_equal(getattr(tower, name).bias.detach().numpy(), weights[name][1])


def test_caffenet_npy_errors_name_file_and_key(tmp_path):
    weights = caffenet_dict()
    weights["conv3"][0] = weights["conv3"][0][:, :128]
    path = save_npy(tmp_path / "bad.npy", weights)
    with pytest.raises(WeightsError, match=r"bad\.npy: key 'conv3' weight has shape \(384, 128, 3, 3\), "
                                           r"expected \(384, 256, 3, 3\)"):
        load_caffenet_npy(path)
    del weights["conv3"]
    with pytest.raises(WeightsError, match=r"missing key 'conv3'"):
        load_caffenet_npy(save_npy(tmp_path / "missing.npy", weights))
    with pytest.raises(WeightsError, match="expected a dict"):
        load_caffenet_npy(save_npy(tmp_path / "list.npy", [1, 2]))
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(WeightsError, match=r"junk\.npy: not a pickled CaffeNet"):
        load_caffenet_npy(tmp_path / "junk.npy")


class ReferenceNetwork(nn.Module):
    """The layout of nrupatunga/goturn-pytorch's GoturnNetwork: towers
    ``_net_1``/``_net_2`` (nn.Sequential, convs at 0, 4, 8, 10, 12) and a
    ``_classifier`` (Linear at 0, 3, 6, 9), wrapped as ``_model`` by the
    Lightning module."""

    def __init__(self):
        super().__init__()

        def tower():
            lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)  # noqa: E731
            return nn.Sequential(
                nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, 2), lrn(),
                nn.Conv2d(96, 256, 5, padding=2, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2), lrn(),
                nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
                nn.Conv2d(384, 384, 3, padding=1, groups=2), nn.ReLU(),
                nn.Conv2d(384, 256, 3, padding=1, groups=2), nn.ReLU(), nn.MaxPool2d(3, 2))

        self._net_1, self._net_2 = tower(), tower()
        self._classifier = nn.Sequential(
            nn.Linear(18432, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4))
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.uniform_(module.bias, 0, 1)

    def forward(self, x1, x2):
        return self._classifier(torch.cat((self._net_1(x1).flatten(1), self._net_2(x2).flatten(1)), 1))


def foreign_objects():
    """Objects of a library this project does not have (as Lightning puts
    its hyper-parameters and callback states into a .ckpt)."""
    module = types.ModuleType("lightning_like_parsing")
    exec("class AttributeDict(dict):\n    pass\n"
         "class CallbackState:\n    def __init__(self):\n        self.best = 1.5\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        return module, {"hyper_parameters": module.AttributeDict(lr=1e-6),
                        "callbacks": {"checkpoint": module.CallbackState()}}
    finally:
        del sys.modules[module.__name__]


@pytest.fixture(scope="module")
def reference_ckpt(tmp_path_factory):
    torch.manual_seed(3)
    reference = ReferenceNetwork().eval()
    path = tmp_path_factory.mktemp("reference") / "_ckpt_epoch_1.ckpt"
    state_dict = OrderedDict((f"_model.{key}", value) for key, value in reference.state_dict().items())
    module, extras = foreign_objects()
    sys.modules[module.__name__] = module
    try:
        torch.save({"epoch": 1, "global_step": 1234, "state_dict": state_dict,
                    "hparams": argparse.Namespace(lr=1e-6, batch_size=3), **extras}, path)
    finally:
        del sys.modules[module.__name__]  # the loader must do without it
    return reference, path


def test_reference_checkpoint_gives_the_same_output(reference_ckpt, inputs):
    reference, path = reference_ckpt
    model = GoturnNet().eval()
    assert load_pretrained(model, path) == "reference"  # foreign objects in the file are ignored
    target, search = inputs
    with torch.no_grad():
        torch.testing.assert_close(model(target, search), reference(target, search))


def test_reference_checkpoint_errors_name_file_and_key(reference_ckpt, tmp_path):
    reference, _ = reference_ckpt
    state = {"state_dict": {f"_model.{key}": value for key, value in reference.state_dict().items()}}
    state["state_dict"]["_model._classifier.3.weight"] = torch.zeros(4096, 100)
    torch.save(state, tmp_path / "shape.ckpt")
    with pytest.raises(WeightsError, match=r"shape\.ckpt: key 'regressor\.fc7\.weight' has shape "
                                           r"\(4096, 100\), expected \(4096, 4096\)"):
        load_reference_checkpoint(tmp_path / "shape.ckpt")
    state["state_dict"]["_model._net_3.0.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "unknown.ckpt")
    with pytest.raises(WeightsError, match=r"unknown\.ckpt: unexpected key '_model\._net_3\.0\.weight'"):
        load_reference_checkpoint(tmp_path / "unknown.ckpt")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # the deliberately broken file
def test_own_checkpoint_round_trip_and_errors(net, inputs, tmp_path):
    torch.save({"model": net.state_dict(), "step": 7}, tmp_path / "checkpoint.pth")
    model = GoturnNet().eval()
    assert load_pretrained(model, tmp_path / "checkpoint.pth") == "goturn"
    target, search = inputs
    with torch.no_grad():
        torch.testing.assert_close(model(target, search), net(target, search))
    partial = {k: v for k, v in net.state_dict().items() if not k.startswith("regressor.fc8")}
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(WeightsError, match=r"partial\.pth: missing key 'regressor\.fc8\.weight'"):
        load_goturn_checkpoint(tmp_path / "partial.pth")
    (tmp_path / "broken.pth").write_bytes(b"\x80\x04broken")
    with pytest.raises(WeightsError, match=r"broken\.pth: cannot be read as a PyTorch checkpoint"):
        load_pretrained(model, tmp_path / "broken.pth")
    with pytest.raises(WeightsError, match=r"absent\.pth: no such file"):
        load_pretrained(model, tmp_path / "absent.pth")


# ---- solver ----------------------------------------------------------------

def caffe_reference_steps(weights, grads, lrs, momentum, decay):
    """Caffe's update written out: v = m v + lr (g + wd w); w -= v."""
    w, v = weights.clone(), torch.zeros_like(weights)
    for grad, lr in zip(grads, lrs):
        v = momentum * v + lr * (grad + decay * w)
        w = w - v
    return w


def test_caffe_sgd_matches_caffe_across_lr_changes():
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(50, generator=generator)
    grads = [torch.randn(50, generator=generator) for _ in range(9)]
    param = nn.Parameter(start.clone())
    optimizer = CaffeSGD([{"params": [param], "name": "fc_weight", "lr": 0.1}], lr=0.1, momentum=0.9,
                         weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.1)
    lrs = []
    for grad in grads:
        lrs.append(optimizer.param_groups[0]["lr"])
        param.grad = grad.clone()
        optimizer.step()
        scheduler.step()
    assert lrs[2] == pytest.approx(0.1) and lrs[3] == pytest.approx(0.01) and lrs[6] == pytest.approx(0.001)
    expected = caffe_reference_steps(start, grads, lrs, 0.9, 0.01)
    torch.testing.assert_close(param.detach(), expected, rtol=1e-5, atol=1e-6)

    plain = nn.Parameter(start.clone())  # torch's SGD drifts from Caffe once the lr changes
    torch_sgd = torch.optim.SGD([plain], lr=0.1, momentum=0.9, weight_decay=0.01)
    torch_scheduler = torch.optim.lr_scheduler.StepLR(torch_sgd, step_size=3, gamma=0.1)
    for grad in grads:
        plain.grad = grad.clone()
        torch_sgd.step()
        torch_scheduler.step()
    assert (plain.detach() - expected).abs().max() > 1e-3


def test_solver_state_resumes_exactly():
    model = GoturnNet()
    model.freeze_features()
    optimizer, scheduler = build_solver(model, 1e-6, 0.9, 5e-4, step_size=2, fused=True)
    assert base_lr(optimizer) == pytest.approx(1e-6)
    params = [p for p in model.parameters() if p.requires_grad]
    generator = torch.Generator().manual_seed(0)
    grads = [[torch.randn(p.shape, generator=generator) * 1e3 for p in params[-2:]] for _ in range(4)]

    def run(optimizer, scheduler, steps):
        for step_grads in steps:
            for p in params[:-2]:
                p.grad = torch.zeros_like(p)
            for p, g in zip(params[-2:], step_grads):
                p.grad = g.clone()
            optimizer.step()
            scheduler.step()

    start = [p.detach().clone() for p in params[-2:]]
    run(optimizer, scheduler, grads[:2])
    saved = copy.deepcopy((optimizer.state_dict(), scheduler.state_dict(), [p.detach() for p in params]))
    run(optimizer, scheduler, grads[2:])
    straight = [p.detach().clone() for p in params[-2:]]

    with torch.no_grad():
        for p, value in zip(params, saved[2]):
            p.copy_(value)
    resumed, resumed_scheduler = build_solver(model, 1e-6, 0.9, 5e-4, step_size=2, fused=True)
    resumed.load_state_dict(saved[0])
    resumed_scheduler.load_state_dict(saved[1])
    run(resumed, resumed_scheduler, grads[2:])
    for a, b, s in zip(straight, params[-2:], start):
        assert torch.equal(a, b.detach()) and not torch.equal(a, s)
