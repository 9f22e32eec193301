"""goturn/tracking/baselines.py: OpenCV's contrib trackers are installed and follow an object
through the toolkit interface; a missing one is one error line saying what to install; the
--baselines choice is checked."""

import cv2
import numpy as np
import pytest

from common.errors import UserError
from goturn.tracking import metrics
from goturn.tracking.baselines import (
    OPENCV_TRACKERS,
    NoMotionTracker,
    OpenCVTracker,
    make_baselines,
    parse_baselines,
)
from tests.helpers.goturn_tracking_fixtures import moving_boxes, render_frames


def test_the_contrib_trackers_are_installed():
    """requirements.txt installs opencv-contrib-python-headless: CSRT and KCF exist only there."""
    for name, factory in OPENCV_TRACKERS.items():
        assert callable(getattr(cv2, factory, None)), f"cv2.{factory} ({name}) is missing"


def test_opencv_trackers_follow_a_moving_square_and_say_whether_they_found_it():
    boxes = moving_boxes(12, seed=3)
    frames = render_frames(boxes, seed=3)
    for name in OPENCV_TRACKERS:
        tracker = OpenCVTracker(name)
        assert tracker.name == name and tracker.is_deterministic
        tracker.init(frames[0], boxes[0])
        assert tracker.last_score == 1.0
        found = [tracker.update(frame) for frame in frames[1:]]
        assert all(isinstance(v, float) for box in found for v in box)
        assert metrics.iou(found, boxes[1:]).mean() > 0.5, name
        assert tracker.last_score in (0.0, 1.0)


def test_a_failed_update_keeps_the_last_box_and_scores_zero():
    class Failing:
        def init(self, image, rect):
            pass

        def update(self, image):
            return False, (0, 0, 0, 0)

    tracker = OpenCVTracker("KCF")
    tracker._factory = Failing
    frame = render_frames(moving_boxes(1, seed=0), seed=0)[0]
    tracker.init(frame, [10.4, 12.6, 20.2, 15.5])
    assert tracker.update(frame) == [10.0, 13.0, 20.0, 16.0] and tracker.last_score == 0.0


def test_a_missing_contrib_tracker_is_one_error_line(monkeypatch):
    monkeypatch.delattr(cv2, "TrackerCSRT_create")
    with pytest.raises(UserError, match=r"no CSRT tracker.*install opencv-contrib-python-headless"):
        OpenCVTracker("CSRT")


def test_the_baselines_argument():
    assert parse_baselines("csrt, none,KCF,csrt") == ["csrt", "none", "kcf"]
    assert parse_baselines("") == []
    with pytest.raises(UserError, match="unknown tracker 'goturn'"):
        parse_baselines("goturn")
    trackers = make_baselines(["mil", "none"])
    assert [t.name for t in trackers] == ["MIL", "NoMotion"] and isinstance(trackers[1], NoMotionTracker)
    no_motion = trackers[1]
    no_motion.init(None, [1, 2, 3, 4])
    assert no_motion.update(None) == [1.0, 2.0, 3.0, 4.0] and np.isnan(no_motion.last_score)
