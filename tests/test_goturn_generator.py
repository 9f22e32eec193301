"""Crop with context, box arithmetic, the motion model and per-pair examples."""

import cv2
import numpy as np
import pytest
import torch

from goturn.data.crops import (
    BGR_MEAN,
    CROP_SIZE,
    box_from_crop_units,
    box_to_crop_units,
    context_geometry,
    crop_with_context,
    to_network_input,
)
from goturn.data.examples import PairImages, make_examples, search_boxes
from goturn.data.motion import MotionModel, sample_moved_boxes


def textured_image(width=320, height=240, seed=0):
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR)


def reference_crop(image, box):
    """Crop-pad-resize the straightforward way: build the zero canvas, paste
    the region, resize the canvas (what the original does)."""
    g = context_geometry(box, image.shape[1], image.shape[0])
    canvas = np.zeros((g.canvas_height, g.canvas_width, 3), np.uint8)
    px, py, pw, ph = g.pixel_rect
    ex, ey = int(g.edge_x), int(g.edge_y)
    canvas[ey:ey + ph, ex:ex + pw] = image[py:py + ph, px:px + pw]
    return cv2.resize(canvas, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)


def test_context_region_inside_the_image():
    g = context_geometry([100, 80, 140, 110], 320, 240)  # 40 x 30 box centred at (120, 95)
    assert (g.left, g.top, g.edge_x, g.edge_y) == (80, 65, 0, 0)
    assert (g.canvas_width, g.canvas_height) == (80, 60)
    assert g.pixel_rect == (80, 65, 80, 60)
    # The box sits in the middle half of its own context region.
    np.testing.assert_allclose(box_to_crop_units([100, 80, 140, 110], g), [2.5, 2.5, 7.5, 7.5])


def test_context_region_clipped_at_the_border():
    g = context_geometry([0, 10, 40, 50], 320, 240)  # centre (20, 30), region 80 x 80
    assert g.left == 0 and g.edge_x == 20 and g.top == 0 and g.edge_y == 10
    assert (g.canvas_width, g.canvas_height) == (80, 80)
    assert g.pixel_rect == (0, 0, 60, 70)
    np.testing.assert_allclose(box_to_crop_units([0, 10, 40, 50], g), [2.5, 2.5, 7.5, 7.5])


@pytest.mark.parametrize("box", [[100, 80, 140, 110], [0, 10, 40, 50], [290.3, 200.7, 319, 239],
                                 [5.5, 3.2, 300.1, 230.9], [150, 100, 151, 100.5]])
def test_crop_matches_pad_then_resize(box):
    image = textured_image()
    crop, _ = crop_with_context(image, box)
    expected = reference_crop(image, box)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3) and crop.dtype == np.uint8
    difference = np.abs(crop.astype(int) - expected.astype(int))
    # Equal away from the image/padding border, where placement rounds by < 1 px.
    assert np.median(difference) <= 1 and difference.mean() < 4


def test_crop_writes_into_the_given_buffer():
    image = textured_image()
    batch = np.full((2, CROP_SIZE, CROP_SIZE, 3), 7, np.uint8)
    crop, _ = crop_with_context(image, [0, 0, 30, 30], out=batch[1])
    assert np.shares_memory(crop, batch) and crop[0, 0].tolist() == [0, 0, 0]  # padded corner
    assert (batch[0] == 7).all()


def test_crop_units_round_trip_is_the_tracker_inverse():
    g = context_geometry([30, 40, 90, 100], 320, 240)
    box = np.array([35.5, 42.0, 95.0, 99.5])
    np.testing.assert_allclose(box_from_crop_units(box_to_crop_units(box, g), g, 320, 240), box, atol=1e-4)
    # Predictions outside the image are clipped to it.
    clipped = box_from_crop_units([-5, -5, 15, 15], g, 320, 240)
    assert clipped[0] == 0 and clipped[1] == 0 and clipped[2] <= 320 and clipped[3] <= 240


def test_network_input_is_bgr_minus_mean_channels_last():
    crops = torch.zeros(2, CROP_SIZE, CROP_SIZE, 3, dtype=torch.uint8)
    crops[..., 0] = 104
    crops[..., 2] = 200
    x = to_network_input(crops)
    assert x.shape == (2, 3, CROP_SIZE, CROP_SIZE) and x.dtype == torch.float32
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert x[:, 0].abs().max() == 0
    assert (x[:, 1] == -BGR_MEAN[1]).all() and (x[:, 2] == 200 - BGR_MEAN[2]).all()


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
    expected = np.stack([(curr_box[0] - left) * scale_x, (curr_box[1] - top) * scale_y,
                         (curr_box[2] - left) * scale_x, (curr_box[3] - top) * scale_y], axis=1)
    np.testing.assert_allclose(labels, expected, atol=1e-4)
    in_crop = ((curr_box[0] >= left) & (curr_box[2] <= left + window_w)
               & (curr_box[1] >= top) & (curr_box[3] <= top + window_h))
    assert in_crop.mean() > 0.5
    assert labels[in_crop].min() >= 0 and labels[in_crop].max() <= 10
    assert (labels[:, 2] > labels[:, 0]).all() and (labels[:, 3] > labels[:, 1]).all()
    # Without motion the generated examples degenerate to the centred label
    # (up to the canvas size being rounded up to whole pixels).
    still = search_boxes(pair, 3, np.random.default_rng(0), MotionModel(lambda_shift=1e9, lambda_scale=1e9))
    still_labels = make_examples(pair, still[1:], search[:3])
    np.testing.assert_allclose(still_labels, [[2.5, 2.5, 7.5, 7.5]] * 3, atol=0.07)
