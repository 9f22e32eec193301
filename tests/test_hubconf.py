"""hubconf.py through torch.hub.load(source="local"): a GOTURN checkpoint gives a tracker that
follows torch.hub's calling convention and tracks like goturn.tracking.tracker.Tracker, and a
GloRe checkpoint gives a classifier whose predictions are glore.predict's."""

import numpy as np
import pytest
import torch

from glore.inference.trained_model import load_trained_model, predict_video
from goturn.tracking.tracker import Tracker
from tests.conftest import REPO_ROOT
from tests.helpers.glore_fixtures import make_checkpoint, random_frames, write_video
from tests.helpers.goturn_tracking_fixtures import moving_boxes, random_checkpoint, render_frames

CLASSES = ["Archery", "Bowling", "Diving"]


def hub(name: str, **kwargs):
    return torch.hub.load(str(REPO_ROOT), name, source="local", trust_repo=True, **kwargs)


def test_goturn_entry_is_a_ready_tracker(tmp_path_factory):
    checkpoint = random_checkpoint(tmp_path_factory)
    boxes = moving_boxes(4, seed=1)
    frames = render_frames(boxes, seed=1)
    tracker = hub("goturn", checkpoint=str(checkpoint), device="cpu")
    direct = Tracker(str(checkpoint), device="cpu")
    tracker.init(frames[0], boxes[0])
    direct.init(frames[0], boxes[0])
    for frame in frames[1:]:
        np.testing.assert_array_equal(tracker.update(frame), direct.update(frame))
    net = hub("goturn_net", checkpoint=str(checkpoint))
    assert not net.training and sum(p.numel() for p in net.parameters()) == 113_748_740


def test_glore_entry_is_a_ready_classifier(tmp_path):
    make_checkpoint(tmp_path / "model.pth", CLASSES)
    video = tmp_path / "v_clip.avi"
    write_video(video, random_frames(np.random.default_rng(5), num_frames=40))
    classifier = hub("glore", checkpoint=str(tmp_path / "model.pth"), device="cpu", clips=2, crops=1)
    ranked = classifier.predict(video, topk=3)
    expected = predict_video(load_trained_model(tmp_path / "model.pth"), str(video), clips=2, crops=1)
    assert [name for name, _ in ranked] == [CLASSES[i] for i in expected.argsort(descending=True).tolist()]
    assert [p for _, p in ranked] == pytest.approx(sorted(expected.tolist(), reverse=True))
    assert classifier.class_names == CLASSES
