"""goturn/data/examples.py: one pair gives its true example and generated ones, labels in range."""

import numpy as np

from goturn.data.crops import (
    CROP_SIZE,
    crop_with_context,
)
from goturn.data.examples import PairImages, make_examples, search_boxes
from goturn.data.motion import MotionModel
from tests.helpers.images import textured_image


def test_pair_examples_true_example_and_labels_in_range():
    image = textured_image(640, 480)
    prev_box, curr_box = np.array([200.0, 150, 260, 230]), np.array([208.0, 146, 270, 228])
    pair = PairImages(image, prev_box, image, curr_box)
    centres = search_boxes(pair, 200, np.random.default_rng(0), MotionModel())
    np.testing.assert_array_equal(centres[0], prev_box)  # the true example searches around the previous box
    search = np.empty((len(centres), CROP_SIZE, CROP_SIZE, 3), np.uint8)
    target = np.empty((CROP_SIZE, CROP_SIZE, 3), np.uint8)
    labels = make_examples(pair, centres, search, target)
    assert labels.dtype == np.float32 and labels.shape == (201, 4)
    np.testing.assert_array_equal(target, crop_with_context(image, prev_box)[0])
    # Independently of the crop code: the search region of centre box c is
    # 2w' x 2h' centred on c (its canvas keeps that size at the border), so
    # the label is the current box relative to that window, scaled to 10.
    centre_x, centre_y = (centres[:, 0] + centres[:, 2]) / 2, (centres[:, 1] + centres[:, 3]) / 2
    window_w, window_h = 2 * (centres[:, 2] - centres[:, 0]), 2 * (centres[:, 3] - centres[:, 1])
    left, top = centre_x - window_w / 2, centre_y - window_h / 2
    scale_x, scale_y = 10 / np.ceil(window_w), 10 / np.ceil(window_h)
    expected = np.stack(
        [
            (curr_box[0] - left) * scale_x,
            (curr_box[1] - top) * scale_y,
            (curr_box[2] - left) * scale_x,
            (curr_box[3] - top) * scale_y,
        ],
        axis=1,
    )
    np.testing.assert_allclose(labels, expected, atol=1e-4)
    in_crop = (
        (curr_box[0] >= left)
        & (curr_box[2] <= left + window_w)
        & (curr_box[1] >= top)
        & (curr_box[3] <= top + window_h)
    )
    assert in_crop.mean() > 0.5
    assert labels[in_crop].min() >= 0 and labels[in_crop].max() <= 10
    assert (labels[:, 2] > labels[:, 0]).all() and (labels[:, 3] > labels[:, 1]).all()
    # Without motion the generated examples degenerate to the centred label
    # (up to the canvas size being rounded up to whole pixels).
    still = search_boxes(pair, 3, np.random.default_rng(0), MotionModel(lambda_shift=1e9, lambda_scale=1e9))
    still_labels = make_examples(pair, still[1:], search[:3])
    np.testing.assert_allclose(still_labels, [[2.5, 2.5, 7.5, 7.5]] * 3, atol=0.07)
