"""`glore.train --test-only` and `glore.inference.evaluate` are one code path: on the same checkpoint they
write the same accuracies, confusion matrices and per-video scores."""

import json

import numpy as np

from tests.conftest import run_python
from tests.helpers.glore_fixtures import TINY_INPUT, TINY_NETWORK, make_rawframes_dataset

CLASSES = ["Alpha", "Beta", "Gamma"]
INPUT_FLAGS = [text for key, value in TINY_INPUT.items() for text in (f"--{key}", str(value))]
TINY_TRAIN = ["--network", TINY_NETWORK, "--pretrained", "none", *INPUT_FLAGS, "--short_side", "32", "40"]
TINY_TRAIN += ["--batch_size", "3"]
TINY_TRAIN += ["--epochs", "1", "--max_steps", "1", "--workers", "0", "--tensorboard", "false"]
VIEWS = ["--test_clips", "3", "--test_crops", "2"]


def test_test_only_writes_the_evaluation_report(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    make_rawframes_dataset(data, CLASSES, videos_per_class=2)
    common = ["-m", "glore.train", "--data_path", str(data), "--output_dir", str(run), *TINY_TRAIN]
    trained = run_python(*common)
    assert trained.returncode == 0, trained.stderr[-3000:]
    tested = run_python(*common, "--resume", "auto", "--test-only", *VIEWS)
    assert tested.returncode == 0, tested.stderr[-3000:]
    from_train = json.loads((run / "report.json").read_text())
    train_scores = np.load(run / "scores.npz")

    checkpoint = str(run / "checkpoint.pth")
    evaluate_flags = ["--out", str(tmp_path / "eval"), "--workers", "0", "--clips", "3", "--crops", "2"]
    evaluate_flags += ["--batch_size", "16"]  # train's --val_batch_size: the same batches, the same bits
    evaluated = run_python(
        "-m",
        "glore.inference.evaluate",
        "--checkpoint",
        checkpoint,
        "--data_path",
        str(data),
        *evaluate_flags,
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    from_evaluate = json.loads((tmp_path / "eval" / "report.json").read_text())
    for key in ("clip", "video", "per_class", "counts"):
        assert from_train[key] == from_evaluate[key], key
    assert from_train["video"]["name"] == "video accuracy (3 clips x 2 crops)"
    for name in ("clip_logits", "video_scores", "labels"):
        np.testing.assert_array_equal(train_scores[name], np.load(tmp_path / "eval" / "scores.npz")[name])

    # The training's model card, then the evaluation's figures appended to it.
    card = (run / "MODEL_CARD.md").read_text()
    assert "- training videos: 6" in card and "- validation videos: 6" in card and "- classes: 3" in card
    assert "val clip top-1 (%, 1 centred clip per video, whole list): " in card and "-m glore.train" in card
    evaluation = card.split("## Evaluation: glore.evaluate, ")[1]
    video = from_evaluate["video"]
    assert f"- {video['name']}: top-1 {video['top1']:.2f} %, top-5 {video['top5']:.2f} %" in evaluation
    assert "-m glore.inference.evaluate" in evaluation and "## Command" not in evaluation
