"""Crop with context and the box arithmetic around it.

GOTURN never looks at a whole frame. Around a reference box of size w x h it
takes a region of 2w x 2h (``CONTEXT_FACTOR``) centred on the box, clipped to
the image and placed on a zero canvas where the region leaves the image; the
canvas is resized to 227 x 227. Boxes are regressed in units where the canvas
is 10 wide and 10 high (``SCALE_FACTOR``).

Training (examples.py) and the tracker use the same three steps:
``context_geometry`` (where the region and canvas are), ``crop_with_context``
(the pixels), and ``box_to_crop_units`` / ``box_from_crop_units`` (labels and
predictions). Boxes are float arrays ``[x1, y1, x2, y2]`` in pixels.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

CONTEXT_FACTOR = 2
SCALE_FACTOR = 10
CROP_SIZE = 227
# Caffe's CaffeNet channel means, in the BGR order cv2 decodes to.
BGR_MEAN = (104.0, 117.0, 123.0)


@dataclass(frozen=True)
class CropGeometry:
    """Where a context region lies in the image and on its canvas.

    ``left``/``top``: the region's top-left corner in the image (float).
    ``edge_x``/``edge_y``: how far the canvas extends beyond the image on the
    left/top, i.e. where the image region starts on the canvas.
    ``canvas_width``/``canvas_height``: the canvas size in pixels before the
    resize to ``CROP_SIZE``; labels are expressed relative to it.
    ``pixel_rect``: the integer image rectangle ``(x, y, w, h)`` whose pixels
    are copied, placed on the canvas at ``(int(edge_x), int(edge_y))``.
    """

    left: float
    top: float
    edge_x: float
    edge_y: float
    canvas_width: int
    canvas_height: int
    pixel_rect: tuple[int, int, int, int]


def context_geometry(box, image_width: int, image_height: int) -> CropGeometry:
    """The context region of ``box`` in an image of the given size.

    Follows the original GOTURN's ``ComputeCropPadImageLocation`` and
    ``CropPadImage``: a 2w x 2h region (at least 1 px) centred on the box,
    clipped to the image; the canvas keeps the unclipped size.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    centre_x, centre_y = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    out_w = max(1.0, CONTEXT_FACTOR * (x2 - x1))
    out_h = max(1.0, CONTEXT_FACTOR * (y2 - y1))

    left = max(0.0, centre_x - out_w / 2.0)
    top = max(0.0, centre_y - out_h / 2.0)
    region_w = max(1.0, min(out_w / 2.0, centre_x) + min(out_w / 2.0, image_width - centre_x))
    region_h = max(1.0, min(out_h / 2.0, centre_y) + min(out_h / 2.0, image_height - centre_y))

    # Integer pixel rectangle exactly as the original's cv::Rect (truncation).
    px = int(min(left, image_width - 1))
    py = int(min(top, image_height - 1))
    pw = int(min(image_width, max(1.0, math.ceil(region_w))))
    ph = int(min(image_height, max(1.0, math.ceil(region_h))))
    pw, ph = min(pw, image_width - px), min(ph, image_height - py)

    edge_x = min(max(0.0, out_w / 2.0 - centre_x), image_width - 1.0)
    edge_y = min(max(0.0, out_h / 2.0 - centre_y), image_height - 1.0)
    return CropGeometry(
        left=left,
        top=top,
        edge_x=edge_x,
        edge_y=edge_y,
        canvas_width=max(math.ceil(out_w), pw),
        canvas_height=max(math.ceil(out_h), ph),
        pixel_rect=(px, py, pw, ph),
    )


def resize_rects(geometry: CropGeometry) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """Where ``crop_with_context`` takes its pixels and where they land:
    the image rectangle ``(x, y, w, h)`` that is resized, and its destination
    ``(x0, y0, x1, y1)`` (ends exclusive) on the ``CROP_SIZE`` output, whose
    other pixels are the zero canvas. The device crops (device_crops.py) use
    the same rectangles, so both paths place every region identically."""
    px, py, pw, ph = geometry.pixel_rect
    canvas_w, canvas_h = geometry.canvas_width, geometry.canvas_height
    place_x, place_y = int(geometry.edge_x), int(geometry.edge_y)
    dx0 = round(place_x * CROP_SIZE / canvas_w)
    dy0 = round(place_y * CROP_SIZE / canvas_h)
    dx1 = min(CROP_SIZE, round(min(place_x + pw, canvas_w) * CROP_SIZE / canvas_w))
    dy1 = min(CROP_SIZE, round(min(place_y + ph, canvas_h) * CROP_SIZE / canvas_h))
    if dx0 >= CROP_SIZE or dy0 >= CROP_SIZE:
        # The region starts past the output's last pixel: a sliver of image
        # (a box whose centre lies outside the image) that rounds to nothing.
        return (px, py, pw, ph), (0, 0, 0, 0)
    return (px, py, pw, ph), (dx0, dy0, max(dx1, dx0 + 1), max(dy1, dy0 + 1))


def crop_with_context(image: np.ndarray, box, out: np.ndarray | None = None):
    """The ``CROP_SIZE`` x ``CROP_SIZE`` uint8 crop of ``box`` with context.

    ``image`` is H x W x C uint8. The image region is resized straight into
    its place on the output (one resize; the zero canvas is never built), so
    the result equals padding then resizing up to sub-pixel rounding of the
    region's border. ``out`` (CROP_SIZE x CROP_SIZE x C, e.g. a slot of a
    batch buffer) is filled in place. Returns ``(crop, geometry)``.
    """
    height, width = image.shape[:2]
    geometry = context_geometry(box, width, height)
    if out is None:
        out = np.empty((CROP_SIZE, CROP_SIZE, *image.shape[2:]), dtype=np.uint8)
    (px, py, pw, ph), (dx0, dy0, dx1, dy1) = resize_rects(geometry)
    if dx0 > 0 or dy0 > 0 or dx1 < CROP_SIZE or dy1 < CROP_SIZE:
        out[...] = 0
    if dx1 > dx0:
        cv2.resize(
            image[py : py + ph, px : px + pw],
            (dx1 - dx0, dy1 - dy0),
            dst=out[dy0:dy1, dx0:dx1],
            interpolation=cv2.INTER_LINEAR,
        )
    return out, geometry


def box_to_crop_units(box, geometry: CropGeometry) -> np.ndarray:
    """``box`` (image pixels) expressed on the canvas, scaled so the canvas
    is ``SCALE_FACTOR`` wide and high: the regression label."""
    x1, y1, x2, y2 = (float(v) for v in box)
    shift_x = geometry.left - geometry.edge_x
    shift_y = geometry.top - geometry.edge_y
    sx = SCALE_FACTOR / geometry.canvas_width
    sy = SCALE_FACTOR / geometry.canvas_height
    return np.array(
        [(x1 - shift_x) * sx, (y1 - shift_y) * sy, (x2 - shift_x) * sx, (y2 - shift_y) * sy], dtype=np.float32
    )


def box_from_crop_units(units, geometry: CropGeometry, image_width: int, image_height: int) -> np.ndarray:
    """Inverse of ``box_to_crop_units`` for a prediction, clipped to the
    image (the tracker's unscale + uncenter). Returns float64 pixels."""
    u = np.asarray(units, dtype=np.float64)
    shift_x = geometry.left - geometry.edge_x
    shift_y = geometry.top - geometry.edge_y
    x1 = u[0] * geometry.canvas_width / SCALE_FACTOR + shift_x
    y1 = u[1] * geometry.canvas_height / SCALE_FACTOR + shift_y
    x2 = u[2] * geometry.canvas_width / SCALE_FACTOR + shift_x
    y2 = u[3] * geometry.canvas_height / SCALE_FACTOR + shift_y
    return np.array([max(0.0, x1), max(0.0, y1), min(float(image_width), x2), min(float(image_height), y2)])


def to_network_input(crops: torch.Tensor) -> torch.Tensor:
    """uint8 crops N x H x W x 3 (BGR, as stored) -> the float32 network
    input N x 3 x H x W minus the BGR mean, no /255 (Caffe convention).

    Done on the training device, so batches travel as uint8 (4x less to
    copy). The permuted view keeps the channels-last memory layout, which
    the convolutions prefer.
    """
    mean = torch.tensor(BGR_MEAN, dtype=torch.float32, device=crops.device)
    # uint8 minus float32 promotes inside one kernel: one pass, not a conversion and then a subtraction.
    return torch.sub(crops, mean).permute(0, 3, 1, 2)
