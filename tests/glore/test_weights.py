"""Loading foreign GloRe weights: a released-style Kinetics checkpoint (module. prefix, 400-class
head) into a 101-class network, 2D ImageNet inflation, and errors naming the key."""

import pytest
import torch

from glore.model import GloReNet
from glore.weights import WeightsError, load_pretrained

NETWORK = "resnet14-tiny"  # same loader code as R50, built in milliseconds


def kinetics_like_checkpoint(path, num_classes=400):
    """A file shaped like resnet50-lite_3d_8x8_w-glore_2-3_ep-0000.pth: {'epoch', 'state_dict',
    'optimizer'} with DataParallel's module. prefix, trained (non-zero) blocker gammas."""
    torch.manual_seed(1)
    source = GloReNet(num_classes, network=NETWORK)
    state = {}
    for key, value in source.state_dict().items():
        state[f"module.{key}"] = (
            torch.randn_like(value.float()).to(value.dtype) if value.is_floating_point() else value + 3
        )
    torch.save({"epoch": 0, "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}, path)
    return {key.removeprefix("module."): value for key, value in state.items()}


def test_kinetics_checkpoint_loads_into_101_classes_keeping_blocker_gamma(tmp_path):
    path = tmp_path / "resnet14-tiny_3d_8x8_w-glore_ep-0000.pth"
    saved = kinetics_like_checkpoint(path)
    model = GloReNet(101, network=NETWORK)
    head_before = model.classifier.weight.clone()
    report = load_pretrained(model, path)
    state = model.state_dict()
    for key, value in saved.items():
        if key.startswith("classifier."):
            continue
        assert torch.equal(state[key], value), key
    blockers = [k for k in saved if k.endswith("blocker.weight")]
    assert blockers and all(state[k].abs().sum() > 0 for k in blockers)
    assert sorted(report.skipped) == ["classifier.bias", "classifier.weight"]
    assert torch.equal(model.classifier.weight, head_before)
    assert model.classifier.weight.shape == (101, 512)
    assert "classifier.weight" not in report.loaded_parameters(model)
    assert "conv2.B01.conv_m2.conv.weight" in report.loaded_parameters(model)


def test_same_class_count_loads_the_head_too(tmp_path):
    path = tmp_path / "k.pth"
    saved = kinetics_like_checkpoint(path, num_classes=101)
    model = GloReNet(101, network=NETWORK)
    report = load_pretrained(model, path)
    assert not report.skipped
    assert torch.equal(model.classifier.weight, saved["classifier.weight"])


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda s: s.update({"module.conv3.B01.conv_m1.conv.weight": torch.zeros(3, 3, 3, 1, 1)}),
            "'conv3.B01.conv_m1.conv.weight' has shape",
        ),
        (
            lambda s: s.update({"module.conv9.B01.conv_m1.conv.weight": torch.zeros(1)}),
            "'conv9.B01.conv_m1.conv.weight' does not exist",
        ),
        (
            lambda s: s.pop("module.conv4.B01_extra.gcn.conv1.bias"),
            "missing key 'conv4.B01_extra.gcn.conv1.bias'",
        ),
    ],
)
def test_any_other_mismatch_fails_naming_the_key(tmp_path, change, message):
    path = tmp_path / "bad.pth"
    kinetics_like_checkpoint(path)
    checkpoint = torch.load(path)
    change(checkpoint["state_dict"])
    torch.save(checkpoint, path)
    with pytest.raises(WeightsError, match=message):
        load_pretrained(GloReNet(101, network=NETWORK), path)


def test_imagenet_2d_weights_are_inflated(tmp_path):
    """A resnet-lite.pth-style 2D state dict: 4D kernels, no GloRe units, a 1000-class head."""
    torch.manual_seed(2)
    model = GloReNet(101, network=NETWORK)
    extras_before = {k: v.clone() for k, v in model.state_dict().items() if "_extra." in k}
    state_2d = {}
    for key, value in model.state_dict().items():
        if "_extra." in key or key.startswith("classifier."):
            continue
        shape = value.shape if value.dim() != 5 else (*value.shape[:2], *value.shape[3:])
        state_2d[key] = torch.randn(shape) if value.is_floating_point() else value.clone()
    state_2d["classifier.weight"], state_2d["classifier.bias"] = torch.randn(1000, 512), torch.randn(1000)
    path = tmp_path / "resnet-lite.pth"
    torch.save(state_2d, path)

    report = load_pretrained(model, path)
    state = model.state_dict()
    stem = state["conv1.conv.weight"]  # 32 x 3 x 3 x 5 x 5 from 32 x 3 x 5 x 5
    for t in range(stem.shape[2]):
        torch.testing.assert_close(stem[:, :, t], state_2d["conv1.conv.weight"] / stem.shape[2])
    torch.testing.assert_close(
        state["conv2.B01.conv_m2.conv.weight"][:, :, 0], state_2d["conv2.B01.conv_m2.conv.weight"]
    )  # temporal size 1: unchanged
    assert torch.equal(
        state["conv3.B01.conv_m1.bn.running_var"], state_2d["conv3.B01.conv_m1.bn.running_var"]
    )
    for key, value in extras_before.items():
        assert torch.equal(state[key], value), key
    assert sorted(report.skipped) == ["classifier.bias", "classifier.weight"]
    # A static clip gives the 2D stem's response on every frame.
    image = torch.randn(1, 3, 1, 20, 20)
    clip = image.repeat(1, 1, 5, 1, 1)
    out_3d = torch.nn.functional.conv3d(clip, stem, padding=(1, 2, 2))[:, :, 2]
    out_2d = torch.nn.functional.conv2d(image[:, :, 0], state_2d["conv1.conv.weight"], padding=2)
    torch.testing.assert_close(out_3d, out_2d, rtol=1e-4, atol=1e-4)


def imagenet_2d_state(model):
    """The network's non-GloRe tensors as a 2D ResNet-lite file holds them (4D kernels)."""
    state = {k: v for k, v in model.state_dict().items() if "_extra." not in k}
    return {k: (v[:, :, 0].clone() if v.dim() == 5 else v.clone()) for k, v in state.items()}


def test_2d_file_with_a_classifier_the_network_has_no_place_for_loads(tmp_path):
    """The released resnet50-lite.pth keeps its ImageNet classifier; keys the 3D network has no
    place for are ignored and named in the log line, not an error."""
    model = GloReNet(101, network=NETWORK)
    state_2d = {k: v for k, v in imagenet_2d_state(model).items() if not k.startswith("classifier.")}
    state_2d["fc.weight"], state_2d["fc.bias"] = torch.randn(1000, 512), torch.randn(1000)
    torch.save(state_2d, tmp_path / "resnet-lite.pth")
    report = load_pretrained(model, tmp_path / "resnet-lite.pth")
    assert sorted(report.unused) == ["fc.bias", "fc.weight"] and not report.skipped
    assert "conv1.conv.weight" in report.loaded and "classifier.weight" in report.kept_init
    summary = report.summary(tmp_path / "resnet-lite.pth")
    assert "ignored ['fc.weight', 'fc.bias'] (no such key in the 3D network)" in summary


def test_2d_file_missing_a_key_still_fails_naming_it(tmp_path):
    model = GloReNet(101, network=NETWORK)
    state_2d = imagenet_2d_state(model)
    del state_2d["conv2.B01.conv_m2.conv.weight"]
    state_2d["fc.weight"] = torch.randn(1000, 512)
    torch.save(state_2d, tmp_path / "w.pth")
    with pytest.raises(WeightsError, match=r"missing key 'conv2\.B01\.conv_m2\.conv\.weight'"):
        load_pretrained(model, tmp_path / "w.pth")


def test_2d_kernel_of_the_wrong_size_fails_naming_the_key(tmp_path):
    model = GloReNet(101, network=NETWORK)
    state_2d = {k: v for k, v in model.state_dict().items() if "_extra." not in k}
    state_2d = {k: (v[:, :, 0] if v.dim() == 5 else v) for k, v in state_2d.items()}
    state_2d["conv1.conv.weight"] = torch.zeros(8, 3, 7, 7)
    torch.save({"state_dict": state_2d}, tmp_path / "w.pth")
    with pytest.raises(WeightsError, match=r"'conv1\.conv\.weight' has shape"):
        load_pretrained(model, tmp_path / "w.pth")
