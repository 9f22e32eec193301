"""goturn/weights.py: CaffeNet .npy, goturn-pytorch .ckpt and own checkpoints, loaded exactly or refused
naming the file and key."""

import argparse
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from goturn.model import GoturnNet
from goturn.weights import (
    CAFFENET_SHAPES,
    WeightsError,
    load_caffenet_npy,
    load_network,
    load_pretrained,
    network_of,
)


def caffenet_dict(seed=0):
    rng = np.random.default_rng(seed)
    weights = {
        name: [rng.standard_normal(w).astype(np.float32), rng.standard_normal(b).astype(np.float32)]
        for name, (w, b) in CAFFENET_SHAPES.items()
    }
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
    with pytest.raises(
        WeightsError,
        match=r"bad\.npy: key 'conv3' weight has shape \(384, 128, 3, 3\), "
        r"expected \(384, 256, 3, 3\)",
    ):
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
                nn.Conv2d(3, 96, 11, stride=4),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
                lrn(),
                nn.Conv2d(96, 256, 5, padding=2, groups=2),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
                lrn(),
                nn.Conv2d(256, 384, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(384, 384, 3, padding=1, groups=2),
                nn.ReLU(),
                nn.Conv2d(384, 256, 3, padding=1, groups=2),
                nn.ReLU(),
                nn.MaxPool2d(3, 2),
            )

        self._net_1, self._net_2 = tower(), tower()
        self._classifier = nn.Sequential(
            nn.Linear(18432, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 4),
        )
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
    exec(
        "class AttributeDict(dict):\n    pass\n"
        "class CallbackState:\n    def __init__(self):\n        self.best = 1.5\n",
        module.__dict__,
    )
    sys.modules[module.__name__] = module
    try:
        return module, {
            "hyper_parameters": module.AttributeDict(lr=1e-6),
            "callbacks": {"checkpoint": module.CallbackState()},
        }
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
        torch.save(
            {
                "epoch": 1,
                "global_step": 1234,
                "state_dict": state_dict,
                "hparams": argparse.Namespace(lr=1e-6, batch_size=3),
                **extras,
            },
            path,
        )
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
    with pytest.raises(
        WeightsError,
        match=r"shape\.ckpt: key 'regressor\.fc7\.weight' has shape "
        r"\(4096, 100\), expected \(4096, 4096\)",
    ):
        load_pretrained(GoturnNet(), tmp_path / "shape.ckpt")
    state["state_dict"]["_model._net_3.0.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "unknown.ckpt")
    with pytest.raises(WeightsError, match=r"unknown\.ckpt: unexpected key '_model\._net_3\.0\.weight'"):
        load_pretrained(GoturnNet(), tmp_path / "unknown.ckpt")


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
        load_pretrained(GoturnNet(), tmp_path / "partial.pth")
    (tmp_path / "broken.pth").write_bytes(b"\x80\x04broken")
    with pytest.raises(WeightsError, match=r"broken\.pth: cannot be read as a PyTorch checkpoint"):
        load_pretrained(model, tmp_path / "broken.pth")
    with pytest.raises(WeightsError, match=r"absent\.pth: no such file"):
        load_pretrained(model, tmp_path / "absent.pth")


# ---- solver ----------------------------------------------------------------


def test_checkpoints_of_the_demo_network_are_told_apart_by_their_shapes(net, inputs, tmp_path):
    torch.manual_seed(1)
    tiny = GoturnNet("caffenet-tiny").eval()
    torch.save({"model": tiny.state_dict()}, tmp_path / "tiny.pth")
    torch.save(net.state_dict(), tmp_path / "full.pth")
    assert network_of(tiny.state_dict()) == "caffenet-tiny" and network_of(net.state_dict()) == "caffenet"
    target, search = inputs
    for path, original in ((tmp_path / "tiny.pth", tiny), (tmp_path / "full.pth", net)):
        model, kind = load_network(path)
        assert kind == "goturn" and model.network == original.network
        with torch.no_grad():
            torch.testing.assert_close(model.eval()(target, search), original(target, search))
    with pytest.raises(WeightsError, match=r"full\.pth: key '.*' has shape .* expected .* \(caffenet-tiny\)"):
        load_pretrained(GoturnNet("caffenet-tiny"), tmp_path / "full.pth")
    npy = save_npy(tmp_path / "caffenet_weights.npy", caffenet_dict())
    with pytest.raises(
        WeightsError, match="caffenet weights are caffenet's; they do not fit the caffenet-tiny"
    ):
        load_pretrained(GoturnNet("caffenet-tiny"), npy)
