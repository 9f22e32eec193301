"""goturn/data/crops.py: crop with context, box arithmetic, network input.

The crops, their canvas and labels are checked against the Caffe original,
written out here step by step (davheld/GOTURN: ComputeCropPadImageLocation
and CropPadImage in image_proc.cpp, the BoundingBox arithmetic, the
regressor's cv::resize to 227 x 227) with none of the project's code."""

import math

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
from goturn.data.examples import PairImages, make_examples
from tests.helpers.images import textured_image


def original_window(box, width, height):
    """The original's pad-image location, pixel rectangle, canvas size and edge spacing."""
    x1, y1, x2, y2 = (float(v) for v in box)
    centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
    out_w, out_h = max(1.0, 2 * (x2 - x1)), max(1.0, 2 * (y2 - y1))
    loc_x1, loc_y1 = max(0.0, centre_x - out_w / 2), max(0.0, centre_y - out_h / 2)
    loc_x2 = loc_x1 + max(1.0, min(out_w / 2, centre_x) + min(out_w / 2, width - centre_x))
    loc_y2 = loc_y1 + max(1.0, min(out_h / 2, centre_y) + min(out_h / 2, height - centre_y))
    # cv::Rect(roi_left, roi_bottom, roi_width, roi_height): doubles truncated to int.
    roi = (
        int(min(loc_x1, width - 1)),
        int(min(loc_y1, height - 1)),
        int(min(width, max(1.0, math.ceil(loc_x2 - loc_x1)))),
        int(min(height, max(1.0, math.ceil(loc_y2 - loc_y1)))),
    )
    canvas = (int(max(math.ceil(out_w), roi[2])), int(max(math.ceil(out_h), roi[3])))
    edge = (
        min(max(0.0, out_w / 2 - centre_x), canvas[0] - 1.0),
        min(max(0.0, out_h / 2 - centre_y), canvas[1] - 1.0),
    )
    return (loc_x1, loc_y1), roi, canvas, edge


def original_crop(image, box):
    """Paste the region on a zero canvas, resize the canvas (INTER_LINEAR, cv::resize's default)."""
    height, width = image.shape[:2]
    _, (x, y, w, h), (canvas_w, canvas_h), (edge_x, edge_y) = original_window(box, width, height)
    canvas = np.zeros((canvas_h, canvas_w, 3), np.uint8)
    canvas[int(edge_y) : int(edge_y) + h, int(edge_x) : int(edge_x) + w] = image[y : y + h, x : x + w]
    return cv2.resize(canvas, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_LINEAR)


def original_label(box, search_box, width, height):
    """Recenter on the search region, then Scale by the canvas size (x 10)."""
    (loc_x1, loc_y1), _, (canvas_w, canvas_h), (edge_x, edge_y) = original_window(search_box, width, height)
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array(
        [
            (x1 - loc_x1 + edge_x) / canvas_w * 10,
            (y1 - loc_y1 + edge_y) / canvas_h * 10,
            (x2 - loc_x1 + edge_x) / canvas_w * 10,
            (y2 - loc_y1 + edge_y) / canvas_h * 10,
        ]
    )


def is_padded(box, width, height):
    """Whether the canvas holds zeros: the region does not fill it."""
    _, (_, _, w, h), (canvas_w, canvas_h), (edge_x, edge_y) = original_window(box, width, height)
    return int(edge_x) > 0 or int(edge_y) > 0 or w < canvas_w or h < canvas_h


def smooth_image(width, height, rng):
    low = rng.integers(16, 256, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    return cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)


def texture_image(width, height, rng):
    return rng.integers(16, 256, (height, width, 3), dtype=np.uint8)


def boxes_of_every_kind(width, height, rng, count=60):
    """Boxes whose context lies inside the image, boxes across a border, with
    the centre outside, larger than the image, tiny; half of them with sides
    that are multiples of half a pixel."""
    extent = np.array([width, height])
    boxes = []
    for k in range(count):
        if k % 4 < 2:  # context inside: centre at least one box size from every border
            size = rng.uniform(0.02, 0.45, 2) * extent
            centre = size + rng.uniform(0, 1, 2) * (extent - 2 * size)
        else:
            size = rng.uniform(0.02, 1.3, 2) * extent
            centre = rng.uniform(-0.2, 1.2, 2) * extent
        if k % 8 >= 4:
            size = np.maximum(0.5, np.round(size * 2) / 2)
        boxes.append(np.concatenate([centre - size / 2, centre + size / 2]))
    return np.array(boxes)


@pytest.mark.parametrize("make_image", [smooth_image, texture_image])
@pytest.mark.parametrize("width, height", [(320, 240), (500, 375), (53, 37)])
def test_crops_are_the_originals_pad_then_resize(make_image, width, height):
    rng = np.random.default_rng(width)
    image = make_image(width, height, rng)
    boxes = boxes_of_every_kind(width, height, rng)
    padded = [is_padded(box, width, height) for box in boxes]
    assert 10 <= sum(padded) <= len(boxes) - 5  # both kinds are checked
    for box in boxes:
        expected = original_crop(image, box)
        crop, _ = crop_with_context(image, box)
        np.testing.assert_array_equal(crop, expected, err_msg=f"box {box.tolist()}")
    # All search crops of a pair at once, into a batch buffer: the same pixels.
    search = np.empty((len(boxes), CROP_SIZE, CROP_SIZE, 3), np.uint8)
    target = np.empty((CROP_SIZE, CROP_SIZE, 3), np.uint8)
    inside = np.array([width * 0.3, height * 0.3, width * 0.6, height * 0.7])
    labels = make_examples(PairImages(image, boxes[0], image, inside), boxes, search, target)
    np.testing.assert_array_equal(target, original_crop(image, boxes[0]))
    for k, box in enumerate(boxes):
        np.testing.assert_array_equal(search[k], original_crop(image, box))
        np.testing.assert_allclose(
            labels[k], original_label(inside, box, width, height), rtol=1e-6, atol=1e-5
        )


def ceil_region_canvas(box, width, height):
    """The canvas size rounded as ceil(region) (this project up to 0.1.1), to count the boxes
    where the original's rounding differs."""
    sizes = []
    for low, high, extent in ((box[0], box[2], width), (box[1], box[3], height)):
        centre, out = (low + high) / 2, max(1.0, 2 * (high - low))
        region = max(1.0, min(out / 2, centre) + min(out / 2, extent - centre))
        sizes.append(max(math.ceil(out), min(extent, math.ceil(region))))
    return tuple(sizes)


def test_canvas_size_rounds_as_the_original_on_half_pixel_boxes():
    """The original sizes the pixel rectangle as ceil((left + region) - left),
    which is one pixel more than ceil(region) where the sum rounds up: for
    boxes whose sides are multiples of half a pixel, the region is a whole
    number of pixels and the rounding decides."""
    rng = np.random.default_rng(5)
    width, height = 640, 480
    one_more = 0
    for _ in range(2000):
        size = rng.integers(2, 400, 2) / 2
        corner = rng.uniform(0, 1, 2) * ((width, height) - size)
        box = np.concatenate([corner, corner + size])
        _, roi, canvas, edge = original_window(box, width, height)
        geometry = context_geometry(box, width, height)
        assert (geometry.canvas_width, geometry.canvas_height) == canvas, box.tolist()
        assert geometry.pixel_rect == roi and (geometry.edge_x, geometry.edge_y) == edge, box.tolist()
        one_more += canvas != ceil_region_canvas(box, width, height)
        label = box_to_crop_units(box, geometry)
        np.testing.assert_allclose(label, original_label(box, box, width, height), rtol=1e-6, atol=1e-5)
    assert one_more > 50  # the case is common (94 of these 2000 boxes), and checked


def test_edge_spacing_is_clamped_to_the_canvas_as_in_the_original():
    """A box reaching far past the left edge: the region starts at the canvas
    position its centre implies (the PyTorch reference clamps the spacing to
    the image width instead, which would move the region)."""
    image = smooth_image(100, 80, np.random.default_rng(0))
    box = np.array([-150.0, 10.0, 50.0, 60.0])  # centre x -50, context 400 wide: 250 px left of the image
    geometry = context_geometry(box, 100, 80)
    assert geometry.placement == (250, 15) and (geometry.canvas_width, geometry.canvas_height) == (400, 100)
    np.testing.assert_array_equal(crop_with_context(image, box)[0], original_crop(image, box))


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
