"""goturn/data/crops.py: crop with context (the original's pad-then-resize), box arithmetic, network input."""

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
from tests.helpers.images import textured_image


def reference_crop(image, box):
    """Crop-pad-resize the straightforward way: build the zero canvas, paste
    the region, resize the canvas (what the original does)."""
    g = context_geometry(box, image.shape[1], image.shape[0])
    canvas = np.zeros((g.canvas_height, g.canvas_width, 3), np.uint8)
    px, py, pw, ph = g.pixel_rect
    ex, ey = int(g.edge_x), int(g.edge_y)
    canvas[ey : ey + ph, ex : ex + pw] = image[py : py + ph, px : px + pw]
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


@pytest.mark.parametrize(
    "box",
    [
        [100, 80, 140, 110],
        [0, 10, 40, 50],
        [290.3, 200.7, 319, 239],
        [5.5, 3.2, 300.1, 230.9],
        [150, 100, 151, 100.5],
    ],
)
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
