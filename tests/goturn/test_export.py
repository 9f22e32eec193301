"""ONNX export: the file runs with a dynamic batch and matches PyTorch.

The network is GOTURN's, both CaffeNet towers as they are (the operators an
export can get wrong: grouped convolutions, LRN, pooling), with the 109M
parameter head cut to its last layer so the test takes seconds; that head is
plain matrix products. The full model's export is the command line's
(``python -m goturn.export``), measured in the README.
"""

import importlib.util

import numpy as np
import pytest
import torch
from torch import nn

from common.errors import UserError
from goturn import export
from goturn.model import NETWORKS, GoturnNet

needs_onnx = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("onnx", "onnxscript")),
    reason="ONNX export needs the onnx and onnxscript packages",
)


@pytest.fixture(scope="module")
def small_goturn() -> GoturnNet:
    torch.manual_seed(0)
    with torch.device("meta"):
        model = GoturnNet()
    model = model.to_empty(device="cpu")
    for tower in model.feature_towers():
        for layer in tower:
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, 0.0, 0.01)
                nn.init.constant_(layer.bias, 0.1)
    model.regressor = nn.Linear(2 * NETWORKS["caffenet"].features, 4)
    return model.eval()


@pytest.fixture(scope="module")
def onnx_file(small_goturn, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "goturn.onnx"
    export.export_onnx(small_goturn, path)
    return path


@needs_onnx
def test_onnx_file_matches_pytorch_at_other_batch_sizes(small_goturn, onnx_file):
    onnxruntime = pytest.importorskip("onnxruntime")
    path = onnx_file
    result = export.verify(small_goturn, path, check="onnxruntime")
    assert result["method"] == "onnxruntime" and result["max_abs_diff"] <= export.ATOL
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["target", "search"]
    assert [o.name for o in session.get_outputs()] == ["box"]
    target, search = export.random_crops(5, seed=7)
    (boxes,) = session.run(None, {"target": target.numpy(), "search": search.numpy()})
    with torch.inference_mode():
        expected = small_goturn(target, search).numpy()
    assert boxes.shape == (5, 4)
    np.testing.assert_allclose(boxes, expected, atol=export.ATOL, rtol=export.RTOL)


@needs_onnx
def test_torch_export_round_trip_check(small_goturn, onnx_file):
    result = export.verify(small_goturn, onnx_file, check="torch")
    assert result["method"].startswith("torch.export") and result["max_abs_diff"] <= export.ATOL


def test_missing_exporter_packages_are_named(small_goturn, tmp_path, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxscript" else real_find_spec(name, *a),
    )
    with pytest.raises(UserError, match="pip install onnxscript"):
        export.export_onnx(small_goturn, tmp_path / "x.onnx")
