"""goturn/data/motion.py: the Laplace motion model's shift and scale statistics, clamps, reproducibility."""

import numpy as np
import pytest

from goturn.data.motion import MotionModel, sample_moved_boxes


def moved(motion: MotionModel, count=20000, box=(900, 900, 1000, 1050)):
    """Boxes moved in a huge image, so the clamps do not bite."""
    rng = np.random.default_rng(0)
    return np.asarray(box, float), sample_moved_boxes(box, 4000, 4000, count, rng, motion)


@pytest.mark.parametrize("lambda_shift", [5.0, 10.0])
def test_mean_absolute_shift_is_one_over_lambda(lambda_shift):
    box, boxes = moved(MotionModel(lambda_shift=lambda_shift))
    width, height = box[2] - box[0], box[3] - box[1]
    shift_x = ((boxes[:, 0] + boxes[:, 2]) / 2 - (box[0] + box[2]) / 2) / width
    shift_y = ((boxes[:, 1] + boxes[:, 3]) / 2 - (box[1] + box[3]) / 2) / height
    for shift in (shift_x, shift_y):
        assert np.abs(shift).mean() == pytest.approx(1 / lambda_shift, rel=0.05)
        assert np.abs(shift).max() <= 1.0  # rejection keeps the centre within one box size
        assert abs(np.mean(shift > 0) - 0.5) < 0.02  # random sign


@pytest.mark.parametrize("lambda_scale,min_scale,max_scale", [(15.0, -0.4, 0.4), (2.0, -0.1, 0.3)])
def test_scale_change_is_laplace_and_clipped(lambda_scale, min_scale, max_scale):
    motion = MotionModel(lambda_scale=lambda_scale, min_scale=min_scale, max_scale=max_scale)
    box, boxes = moved(motion)
    change = (boxes[:, 2] - boxes[:, 0]) / (box[2] - box[0]) - 1
    assert change.min() >= min_scale - 1e-9 and change.max() <= max_scale + 1e-9
    if lambda_scale == 15.0:
        assert np.abs(change).mean() == pytest.approx(1 / 15, rel=0.05)
    else:  # clipping bites: both bounds are reached
        assert np.isclose(change, min_scale).any() and np.isclose(change, max_scale).any()


def test_moved_boxes_stay_in_the_image_and_are_reproducible():
    motion = MotionModel(lambda_shift=1.0)
    boxes = sample_moved_boxes([0, 0, 60, 40], 100, 80, 500, np.random.default_rng(3), motion)
    assert (boxes[:, :2] >= -1e-9).all()
    assert (boxes[:, 2] <= 100 + 1e-9).all() and (boxes[:, 3] <= 80 + 1e-9).all()
    again = sample_moved_boxes([0, 0, 60, 40], 100, 80, 500, np.random.default_rng(3), motion)
    np.testing.assert_array_equal(boxes, again)
