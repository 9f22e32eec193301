"""glore.inference.evaluate under torchrun: two processes give the report and the per-video scores of one
process, bit for bit (every video once, none padded or repeated), unreadable videos included."""

import json
import shutil

import numpy as np
import pytest

from tests.conftest import run_python
from tests.helpers.glore_fixtures import make_checkpoint, make_rawframes_dataset

CLASSES = ["Alpha", "Beta", "Gamma"]


def evaluate(tmp_path, out_name, *launcher):
    out = tmp_path / out_name
    result = run_python(
        *launcher,
        "-m",
        "glore.inference.evaluate",
        "--checkpoint",
        str(tmp_path / "model.pth"),
        "--data_path",
        str(tmp_path / "data"),
        "--out",
        str(out),
        "--workers",
        "0",
        "--batch_size",
        "62",
        "--skip_bad",
        "true",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "report.json").read_text()), np.load(out / "scores.npz"), result.stdout


def test_two_processes_give_the_one_process_report(tmp_path):
    make_rawframes_dataset(tmp_path / "data", CLASSES, videos_per_class=3)
    # One listed video has lost its frames: both runs must count it once, as a miss.
    shutil.rmtree(tmp_path / "data" / "rawframes" / "Beta" / "v_Beta_g02_c01")
    make_checkpoint(tmp_path / "model.pth", CLASSES)

    single, single_scores, log = evaluate(tmp_path, "one")
    double, double_scores, _ = evaluate(
        tmp_path, "two", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"
    )

    assert single["counts"] == {
        "videos": 9,
        "classes": 3,
        "unreadable": 1,
        "clips_per_video": 31,
        "clips_scored": 8 * 31,
    }
    assert double["speed"]["processes"] == 2
    for key in single:
        if key != "speed":
            assert double[key] == single[key], key
    for name in single_scores.files:
        np.testing.assert_array_equal(double_scores[name], single_scores[name])
    assert "clip accuracy (1 centred clip)" in log and "video accuracy (10 clips x 3 crops)" in log


def test_validation_under_torchrun_scores_the_saved_model(tmp_path):
    """After DDP training every process holds BN statistics of its own last batch; the training's
    validation must score the checkpoint's (rank 0's) model, as glore.inference.evaluate does afterwards."""
    from tests.glore.test_train import TINY
    from tests.helpers.glore_fixtures import make_tiny_demo

    data = make_tiny_demo(tmp_path / "demo")
    out = tmp_path / "run"
    # Batches of 2 validation clips: both processes score videos.
    result = run_python(
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "glore.train",
        "--data_path",
        str(data),
        "--output_dir",
        str(out),
        *TINY,
        "--epochs",
        "1",
        "--lr",
        "0.005",
        "--val_batch_size",
        "2",
        "--workers",
        "0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    validated = torch_load(out / "checkpoint.pth")["val"]
    report = run_python(
        "-m",
        "glore.inference.evaluate",
        "--checkpoint",
        str(out / "checkpoint.pth"),
        "--data_path",
        str(data),
        "--out",
        str(tmp_path / "eval"),
        "--workers",
        "0",
        "--clips",
        "1",
        "--crops",
        "1",
    )
    assert report.returncode == 0, report.stderr[-3000:]
    clip = json.loads((tmp_path / "eval" / "report.json").read_text())["clip"]
    assert clip["top1"] == pytest.approx(validated["top1"], abs=1e-3)
    assert clip["loss"] == pytest.approx(validated["loss"], rel=1e-3)


def torch_load(path):
    import torch

    return torch.load(path, weights_only=True)
