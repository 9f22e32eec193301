"""GloRe evaluation: the metrics on hand-computed cases, the multi-clip averaging through the real
frame reader and sampler, the exact sharding, unreadable videos and the report."""

import json
from contextlib import nullcontext
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from loguru import logger
from torch import nn

from glore.data.clips import ClipInput
from glore.data.errors import DataError
from glore.data.lists import VideoRecord
from glore.data.transforms import MEAN, STD
from glore.inference.metrics import average_softmax, confusion_matrix, per_class_accuracy, topk_hits
from glore.inference.report import write_report
from glore.inference.scoring import EvalResult, evaluate_videos, shard_batches
from tests.helpers.glore_fixtures import write_rawframes

CPU_RT = SimpleNamespace(
    rank=0,
    world_size=1,
    is_main=True,
    device=torch.device("cpu"),
    log=logger,
    amp=SimpleNamespace(autocast=nullcontext),
)


def test_video_score_is_the_mean_of_the_views_softmax():
    # Two views of one video over 3 classes, given as log-probabilities.
    views = torch.log(torch.tensor([[[0.90, 0.05, 0.05], [0.01, 0.49, 0.50]]]))
    scores = average_softmax(views)[0]
    torch.testing.assert_close(scores, torch.tensor([0.455, 0.27, 0.275]))
    assert scores.argmax() == 0
    # Averaging logits instead (a geometric mean) would pick class 2, as the second view alone does.
    assert views.mean(dim=1)[0].argmax() == 2


def test_topk_hits_break_ties_by_class_index_and_cap_k():
    scores = np.array([[0.2, 0.5, 0.3], [0.4, 0.4, 0.2], [0.1, 0.1, 0.8]])
    labels = np.array([2, 1, 1])
    assert topk_hits(scores, labels, 1).tolist() == [False, False, False]
    assert topk_hits(scores, labels, 2).tolist() == [True, True, False]
    assert topk_hits(scores, labels, 5).tolist() == [True, True, True]  # k above the class count


def test_confusion_matrix_and_per_class_accuracy():
    labels = np.array([0, 0, 0, 1, 1, 3])
    predicted = np.array([0, 1, 0, 1, 1, 0])
    confusion = confusion_matrix(labels, predicted, num_classes=4)
    assert confusion.tolist() == [[2, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]]
    accuracy = per_class_accuracy(confusion)
    np.testing.assert_allclose(accuracy[[0, 1, 3]], [2 / 3, 1.0, 0.0])
    assert np.isnan(accuracy[2])  # no video of class 2: undefined, not 0


@pytest.mark.parametrize("num_videos", [1, 7, 10, 31])
def test_every_video_is_scored_once_in_the_same_batch_for_any_world_size(num_videos):
    single = shard_batches(num_videos, 3, rank=0, world_size=1)
    for world_size in (2, 3, 8):
        shards = [shard_batches(num_videos, 3, rank, world_size) for rank in range(world_size)]
        batches = [batch for shard in shards for batch in shard]
        assert sorted(batches) == single  # same batches, so the same numbers
        assert sorted(i for batch in batches for i in batch) == list(range(num_videos))


class MeanToLogits(nn.Module):
    """Logits from the mean normalised pixel of each clip: [4m, 0, -4m]."""

    def forward(self, clips):
        m = clips.mean(dim=(1, 2, 3, 4))
        return torch.stack([4 * m, torch.zeros_like(m), -4 * m], dim=1)


def constant_video(folder, values):
    """Grey frames, frame f filled with values[f]."""
    frames = np.stack([np.full((30, 40, 3), v, np.uint8) for v in values])
    write_rawframes(folder, frames)
    return VideoRecord(str(folder), label=2, num_frames=len(values))


def test_multi_clip_averaging_on_a_hand_computed_video(tmp_path):
    # 10 frames, frame f has grey level 20 + 20 f; clips of 2 frames, 2 apart (span 3).
    record = constant_video(tmp_path / "v", [20 + 20 * f for f in range(10)])
    clip_input = ClipInput(clip_len=2, interval=2, crop_size=16, resize=20)
    result = evaluate_videos(MeanToLogits(), [record], CPU_RT, clip_input, clips=2, crops=2, batch_size=5)

    # By hand: valid starts 0..7; the centred clip starts at 4 -> frames 4, 6 (grey 100, 140);
    # two evenly spaced clips start at 2 and 6 -> frames 2, 4 (60, 100) and 6, 8 (140, 180).
    # The grey frames make both crops of a clip identical.
    def logits(mean_grey):
        m = (mean_grey - np.mean(MEAN)) / STD
        return np.array([4 * m, 0.0, -4 * m])

    def softmax(x):
        e = np.exp(x - x.max())
        return e / e.sum()

    np.testing.assert_allclose(result.clip_logits[0], logits(120.0), rtol=1e-5, atol=1e-6)
    expected_video = (2 * softmax(logits(80.0)) + 2 * softmax(logits(160.0))) / 4
    np.testing.assert_allclose(result.video_scores[0], expected_video, rtol=1e-5, atol=1e-6)
    assert result.clips_scored == 1 + 2 * 2
    assert (result.clips, result.crops) == (2, 2)


def test_one_view_video_score_is_the_clip_softmax(tmp_path):
    record = constant_video(tmp_path / "v", [50, 90, 200, 30])
    clip_input = ClipInput(clip_len=2, interval=2, crop_size=16, resize=20)
    result = evaluate_videos(MeanToLogits(), [record], CPU_RT, clip_input, clips=1, crops=1)
    np.testing.assert_allclose(result.video_scores, result.clip_scores, rtol=1e-6)
    assert result.clips_scored == 1


def test_unreadable_video_is_counted_as_a_miss_under_skip_bad(tmp_path):
    good = constant_video(tmp_path / "good", [40] * 5)
    missing = VideoRecord(str(tmp_path / "gone"), label=0, num_frames=5)
    clip_input = ClipInput(clip_len=2, interval=2, crop_size=16, resize=20)
    with pytest.raises(DataError, match="gone"):
        evaluate_videos(MeanToLogits(), [good, missing], CPU_RT, clip_input, clips=2, crops=1)
    result = evaluate_videos(
        MeanToLogits(), [good, missing], CPU_RT, clip_input, clips=2, crops=1, skip_bad=True
    )
    assert result.readable.tolist() == [True, False]
    # The good video (label 2, grey 40 < mean) is right; the missing one counts as wrong.
    assert result.clip_accuracy() == {"top1": 50.0, "top5": 50.0, "videos": 2}
    assert result.video_accuracy()["top1"] == 50.0


def test_report_labels_both_accuracies_and_counts(tmp_path):
    labels = np.array([0, 1, 1, 2])
    clip_logits = np.log(
        np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]], np.float32)
    )
    video_scores = np.array([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.1, 0.8, 0.1], [0.5, 0.2, 0.3]], np.float32)
    result = EvalResult(
        labels,
        clip_logits,
        video_scores,
        np.ones(4, bool),
        clips=10,
        crops=3,
        clips_scored=4 * 31,
        seconds=2.0,
    )
    report = write_report(result, ["A", "B", "C"], tmp_path, ["a/1", "b/1", "b/2", "c/1"], split=1)
    assert report["clip"]["top1"] == 75.0 and report["video"]["top1"] == 75.0
    assert report["clip"]["confusion"] == [[1, 0, 0], [1, 1, 0], [0, 0, 1]]
    assert report["video"]["confusion"] == [[1, 0, 0], [0, 2, 0], [1, 0, 0]]
    assert "centred clip" in report["clip"]["name"] and "10 clips x 3 crops" in report["video"]["name"]
    assert report["counts"] == {
        "videos": 4,
        "classes": 3,
        "unreadable": 0,
        "clips_per_video": 31,
        "clips_scored": 124,
    }
    assert report["speed"]["clips_per_second"] == 62.0
    assert [row["video_top1"] for row in report["per_class"]] == [100.0, 100.0, 0.0]
    assert json.loads((tmp_path / "report.json").read_text()) == report
    for name in ("confusion_clip.png", "confusion_video.png", "scores.npz"):
        assert (tmp_path / name).stat().st_size > 0


def test_test_labels_follow_the_checkpoints_class_order():
    """Lists written with another sort (JumpRope before JumpingJack) map by name; other classes are
    refused; a checkpoint without names takes the data's order."""
    import logging
    import types

    from common.errors import UserError
    from glore.data.lists import VideoRecord
    from glore.inference.trained_model import labels_for_model

    args = types.SimpleNamespace(data_path="data", checkpoint="model.pth")
    log = logging.getLogger("test")
    records = [VideoRecord("a", 0), VideoRecord("b", 1), VideoRecord("c", 2)]
    data = ["JumpRope", "JumpingJack", "YoYo"]
    assert labels_for_model(records, data, list(data), args, log) is records
    mapped = labels_for_model(records, data, ["JumpingJack", "JumpRope", "YoYo"], args, log)
    assert [r.label for r in mapped] == [1, 0, 2] and [r.path for r in mapped] == ["a", "b", "c"]
    assert labels_for_model(records, data, ["class_0", "class_1", "class_2"], args, log) is records
    with pytest.raises(UserError, match="only in the data: YoYo; only in the checkpoint: Zumba"):
        labels_for_model(records, data, ["JumpingJack", "JumpRope", "Zumba"], args, log)
