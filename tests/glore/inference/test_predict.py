"""glore.inference.predict: class names and probabilities for a video file or a frames folder of any
length, equal to what evaluation scores for the same video."""

from contextlib import nullcontext
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from loguru import logger

from common.errors import run_cli
from glore.data.lists import VideoRecord
from glore.inference import predict
from glore.inference.scoring import evaluate_videos
from glore.inference.trained_model import load_trained_model, predict_video
from tests.conftest import run_python
from tests.helpers.glore_fixtures import (
    TINY_INPUT,
    make_checkpoint,
    random_frames,
    write_rawframes,
    write_video,
)

CLASSES = ["Archery", "Bowling", "Diving", "Fencing", "Rowing", "Surfing"]


def test_predict_a_video_shorter_than_one_clip(tmp_path):
    make_checkpoint(tmp_path / "model.pth", CLASSES)
    span = (TINY_INPUT["clip_len"] - 1) * TINY_INPUT["interval"] + 1
    video = tmp_path / "v_short.avi"
    write_video(video, random_frames(np.random.default_rng(3), num_frames=span - 3))

    result = run_python(
        "-m",
        "glore.inference.predict",
        "--checkpoint",
        str(tmp_path / "model.pth"),
        str(video),
        "--topk",
        "3",
        "--device",
        "cpu",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(str(video))
    ranked = [line.split() for line in lines[1:]]
    assert [row[0] for row in ranked] == ["1.", "2.", "3."]
    assert all(row[1] in CLASSES for row in ranked)
    percents = [float(row[2].rstrip("%")) for row in ranked]
    assert percents == sorted(percents, reverse=True) and 0 < sum(percents) <= 100.01


def test_predict_matches_the_evaluation_video_score(tmp_path):
    make_checkpoint(tmp_path / "model.pth", CLASSES)
    frames_dir = tmp_path / "frames"
    write_rawframes(frames_dir, random_frames(np.random.default_rng(4), num_frames=23))
    trained = load_trained_model(tmp_path / "model.pth")

    probabilities = predict_video(trained, str(frames_dir), clips=4, crops=3)
    rt = SimpleNamespace(
        rank=0,
        world_size=1,
        is_main=True,
        device=torch.device("cpu"),
        log=logger,
        amp=SimpleNamespace(autocast=nullcontext),
    )
    result = evaluate_videos(
        trained.model, [VideoRecord(str(frames_dir), 0)], rt, trained.clip_input, clips=4, crops=3
    )
    torch.testing.assert_close(probabilities, torch.from_numpy(result.video_scores[0]))
    torch.testing.assert_close(probabilities.sum(), torch.tensor(1.0))


def test_missing_input_is_a_one_line_error(tmp_path, capsys):
    make_checkpoint(tmp_path / "model.pth", CLASSES)
    argv = ["--checkpoint", str(tmp_path / "model.pth"), str(tmp_path / "nothing.avi"), "--device", "cpu"]
    with pytest.raises(SystemExit) as exit_info:
        run_cli(predict.main, predict.get_args_parser(), argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: video {tmp_path / 'nothing.avi'} is missing"
