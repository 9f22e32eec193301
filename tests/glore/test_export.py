"""glore.export: the ONNX file runs, with a dynamic batch, and matches PyTorch within the
stated tolerance, under onnxruntime and under the ONNX reference evaluator."""

import importlib.util

import numpy as np
import pytest
import torch

from glore import export
from glore.inference.trained_model import load_trained_model
from tests.conftest import run_python
from tests.helpers.glore_fixtures import TINY_INPUT, make_checkpoint

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")

CLASSES = ["Archery", "Bowling", "Diving", "Fencing"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    make_checkpoint(folder / "model.pth", CLASSES)
    result = run_python(
        "-m", "glore.export", "--checkpoint", str(folder / "model.pth"), "--onnx", str(folder / "model.onnx")
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return folder, result.stdout


def test_export_writes_one_file_and_checks_it(exported):
    folder, stdout = exported
    assert [p.name for p in folder.iterdir() if p.name.startswith("model.onnx")] == ["model.onnx"]
    shape = f"N x 3 x {TINY_INPUT['clip_len']} x {TINY_INPUT['crop_size']} x {TINY_INPUT['crop_size']}"
    assert shape in stdout and f"logits N x {len(CLASSES)}" in stdout
    assert "max |onnx - torch|" in stdout


def test_onnx_matches_torch_with_the_reference_evaluator(exported, monkeypatch):
    folder, _ = exported
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real_find_spec(name, *a),
    )
    trained = load_trained_model(folder / "model.pth")
    shape = (3, TINY_INPUT["clip_len"], TINY_INPUT["crop_size"], TINY_INPUT["crop_size"])
    check = export.check_onnx(trained.model, str(folder / "model.onnx"), shape, seed=5)  # raises if off
    assert check["runner"] == "the onnx reference evaluator"


def test_onnx_batch_is_dynamic_and_matches_torch(exported):
    onnxruntime = pytest.importorskip("onnxruntime")
    folder, _ = exported
    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    trained = load_trained_model(folder / "model.pth")
    clips = torch.randn(5, 3, TINY_INPUT["clip_len"], TINY_INPUT["crop_size"], TINY_INPUT["crop_size"])
    got = session.run(["logits"], {"clips": clips.numpy()})[0]
    with torch.no_grad():
        expected = trained.model(clips).numpy()
    np.testing.assert_allclose(got, expected, atol=export.ATOL, rtol=export.RTOL)
