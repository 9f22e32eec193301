"""Crop with context and the box arithmetic around it.

GOTURN never looks at a whole frame. Around a reference box of size w x h it
takes a region of 2w x 2h (``CONTEXT_FACTOR``) centred on the box, clipped to
the image and pasted on a zero canvas where the region leaves the image; the
canvas is resized to 227 x 227. Boxes are regressed in units where the canvas
is 10 wide and 10 high (``SCALE_FACTOR``).

Training (examples.py) and the tracker use the same three steps:
``context_windows`` (where the region and canvas are, for many boxes at once;
``context_geometry`` for one), ``cut_crops`` / ``crop_with_context`` (the
pixels), and ``boxes_to_crop_units`` / ``box_from_crop_units`` (labels and
predictions). Boxes are float arrays ``[x1, y1, x2, y2]`` in pixels.

The pixels are exactly the Caffe original's pad-then-resize: a crop whose
region fills its canvas is the region resized; any other is resized from a
canvas holding the region at its integer place and zeros elsewhere, so the
region's border blends with the zeros where the original's does, at the
same sub-pixel positions (tests/goturn/data/test_crops.py compares both with an
independent pad-then-resize).
"""

import functools
import threading
from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np
import torch

CONTEXT_FACTOR = 2
SCALE_FACTOR = 10
CROP_SIZE = 227
# Caffe's CaffeNet channel means, in the BGR order cv2 decodes to.
BGR_MEAN = (104.0, 117.0, 123.0)


class ContextWindows(NamedTuple):
    """Where the context regions of n boxes lie in the image and on their
    canvases, one array entry per box (float64 positions, int64 pixels).

    ``left``/``top``: the region's top-left corner in the image.
    ``edge_x``/``edge_y``: how far the canvas extends beyond the image on the
    left/top, i.e. where the image region starts on the canvas.
    ``canvas_w``/``canvas_h``: the canvas size before the resize to
    ``CROP_SIZE``; labels are expressed relative to it.
    ``src_x, src_y, src_w, src_h``: the image pixels pasted on the canvas, at
    ``place_x, place_y`` (the edge spacing truncated, as the original's
    ``cv::Rect`` does).
    """

    left: np.ndarray
    top: np.ndarray
    edge_x: np.ndarray
    edge_y: np.ndarray
    canvas_w: np.ndarray
    canvas_h: np.ndarray
    src_x: np.ndarray
    src_y: np.ndarray
    src_w: np.ndarray
    src_h: np.ndarray
    place_x: np.ndarray
    place_y: np.ndarray

    def paste_columns(self) -> tuple[np.ndarray, ...]:
        """What cutting a crop needs, in the order both crop paths read it: the image pixels
        (src x, y, w, h), where they go on the canvas (place x, y) and the canvas size."""
        return (
            self.src_x,
            self.src_y,
            self.src_w,
            self.src_h,
            self.place_x,
            self.place_y,
            self.canvas_w,
            self.canvas_h,
        )


@dataclass(frozen=True)
class CropGeometry:
    """One box's entry of ``ContextWindows`` (the tracker's unit).
    ``pixel_rect`` is ``(src_x, src_y, src_w, src_h)``, ``placement``
    ``(place_x, place_y)``."""

    left: float
    top: float
    edge_x: float
    edge_y: float
    canvas_width: int
    canvas_height: int
    pixel_rect: tuple[int, int, int, int]
    placement: tuple[int, int]


def _axis(low, high, image_extent: int):
    """One axis of the original's ``ComputeCropPadImageLocation`` and
    ``CropPadImage``, vectorised, in its order of floating-point operations:
    ``(start, edge, canvas, src, src_size, place)``."""
    centre = (low + high) / 2.0
    out = np.maximum(1.0, CONTEXT_FACTOR * (high - low))
    start = np.maximum(0.0, centre - out / 2.0)
    region = np.maximum(1.0, np.minimum(out / 2.0, centre) + np.minimum(out / 2.0, image_extent - centre))
    # The original stores the region as a box (start, start + region) and
    # sizes the pixel rectangle from its width, ceil((start + region) - start):
    # one pixel more than ceil(region) when the sum rounds up (half-pixel boxes).
    src_size = np.minimum(image_extent, np.maximum(1.0, np.ceil((start + region) - start)))
    src = np.trunc(np.minimum(start, image_extent - 1.0))
    canvas = np.maximum(np.ceil(out), src_size)
    # Clamped to the canvas as in the Caffe original (the PyTorch reference
    # clamps to the image, which only differs for boxes reaching far outside it).
    edge = np.minimum(np.maximum(0.0, out / 2.0 - centre), canvas - 1.0)
    place = np.trunc(edge)
    # Pixels past the image or the canvas are not pasted (the original would
    # fail an assertion; only float rounding can get there).
    src_size = np.minimum(np.minimum(src_size, image_extent - src), canvas - place)
    pixels = (array.astype(np.int64) for array in (canvas, src, src_size, place))
    return start, edge, *pixels


def context_windows(boxes, image_width: int, image_height: int) -> ContextWindows:
    """The context windows of ``boxes`` (n x 4) in an image of the given size:
    a 2w x 2h region (at least 1 px) centred on each box, clipped to the
    image; the canvas keeps the unclipped size."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    left, edge_x, canvas_w, src_x, src_w, place_x = _axis(boxes[:, 0], boxes[:, 2], image_width)
    top, edge_y, canvas_h, src_y, src_h, place_y = _axis(boxes[:, 1], boxes[:, 3], image_height)
    return ContextWindows(
        left, top, edge_x, edge_y, canvas_w, canvas_h, src_x, src_y, src_w, src_h, place_x, place_y
    )


def context_geometry(box, image_width: int, image_height: int) -> CropGeometry:
    """The context window of one box (see ``context_windows``)."""
    return _geometry(context_windows(box, image_width, image_height))


def _geometry(windows: ContextWindows) -> CropGeometry:
    w = windows
    return CropGeometry(
        left=float(w.left[0]),
        top=float(w.top[0]),
        edge_x=float(w.edge_x[0]),
        edge_y=float(w.edge_y[0]),
        canvas_width=int(w.canvas_w[0]),
        canvas_height=int(w.canvas_h[0]),
        pixel_rect=(int(w.src_x[0]), int(w.src_y[0]), int(w.src_w[0]), int(w.src_h[0])),
        placement=(int(w.place_x[0]), int(w.place_y[0])),
    )


class _ZeroCanvas(threading.local):
    """A zero buffer the padded crops are pasted on, one per thread, as large
    as the largest canvas met so far (pages never written stay unallocated)
    and zeroed again after each use: a fresh canvas per crop would zero (and
    page-fault) its whole area every time."""

    buffer = np.zeros((0, 0, 0), np.uint8)

    def view(self, height: int, width: int, pixel_shape: tuple, dtype) -> np.ndarray:
        have = self.buffer
        fits = have.shape[0] >= height and have.shape[1] >= width
        if not fits or have.shape[2:] != pixel_shape or have.dtype != dtype:
            size = (max(height, have.shape[0]), max(width, have.shape[1]))
            self.buffer = np.zeros((*size, *pixel_shape), dtype)
        return self.buffer[:height, :width]


_CANVAS = _ZeroCanvas()


def cut_crops(image: np.ndarray, windows: ContextWindows, out: np.ndarray) -> np.ndarray:
    """The ``CROP_SIZE`` x ``CROP_SIZE`` crops of ``windows`` from ``image``
    (H x W x C uint8), written into ``out`` (n x CROP_SIZE x CROP_SIZE x C)."""
    pixel_shape = image.shape[2:]
    rows = zip(*(column.tolist() for column in windows.paste_columns()))
    for k, (x, y, w, h, place_x, place_y, canvas_w, canvas_h) in enumerate(rows):
        region = image[y : y + h, x : x + w]
        if place_x == 0 and place_y == 0 and w == canvas_w and h == canvas_h:
            # The region is the whole canvas: no zeros to blend with.
            cv2.resize(region, (CROP_SIZE, CROP_SIZE), dst=out[k], interpolation=cv2.INTER_LINEAR)
            continue
        canvas = _CANVAS.view(canvas_h, canvas_w, pixel_shape, image.dtype)
        pasted = canvas[place_y : place_y + h, place_x : place_x + w]
        pasted[...] = region
        try:
            cv2.resize(canvas, (CROP_SIZE, CROP_SIZE), dst=out[k], interpolation=cv2.INTER_LINEAR)
        finally:
            pasted[...] = 0
    return out


def crop_with_context(image: np.ndarray, box, out: np.ndarray | None = None):
    """The ``CROP_SIZE`` x ``CROP_SIZE`` uint8 crop of one ``box`` with
    context. ``out`` (CROP_SIZE x CROP_SIZE x C, e.g. a slot of a batch
    buffer) is filled in place. Returns ``(crop, geometry)``."""
    height, width = image.shape[:2]
    if out is None:
        out = np.empty((CROP_SIZE, CROP_SIZE, *image.shape[2:]), dtype=np.uint8)
    windows = context_windows(box, width, height)
    cut_crops(image, windows, out[None])
    return out, _geometry(windows)


def boxes_to_crop_units(box, windows: ContextWindows) -> np.ndarray:
    """``box`` (image pixels) expressed on each window's canvas, scaled so
    the canvas is ``SCALE_FACTOR`` wide and high: the regression labels,
    float32 (n, 4)."""
    return _units(
        box, windows.left - windows.edge_x, windows.top - windows.edge_y, windows.canvas_w, windows.canvas_h
    )


def box_to_crop_units(box, geometry: CropGeometry) -> np.ndarray:
    """``boxes_to_crop_units`` for one window: float32 (4,)."""
    return _units(
        box,
        geometry.left - geometry.edge_x,
        geometry.top - geometry.edge_y,
        geometry.canvas_width,
        geometry.canvas_height,
    )


def _units(box, shift_x, shift_y, canvas_w, canvas_h) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in box)
    sx, sy = SCALE_FACTOR / canvas_w, SCALE_FACTOR / canvas_h
    return np.stack(
        [(x1 - shift_x) * sx, (y1 - shift_y) * sy, (x2 - shift_x) * sx, (y2 - shift_y) * sy], axis=-1
    ).astype(np.float32)


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
    mean = mean_image(crops.shape[1], crops.shape[2], crops.device)
    # uint8 minus float32 promotes inside one kernel: one pass, not a conversion and then a subtraction.
    return torch.sub(crops, mean).permute(0, 3, 1, 2)


@functools.lru_cache(maxsize=16)
def mean_image(height: int, width: int, device: torch.device, sign: float = 1.0) -> torch.Tensor:
    """``sign`` x the BGR mean as a whole H x W x 3 float32 image. Subtracted from N x H x W x 3
    crops it broadcasts over N alone: broadcast over the 3 channels instead, the CPU kernel
    runs a scalar loop of 3 per pixel, 5-8x slower (2 threads, 50 crops of 227 x 227: 518 ms
    against 91 ms, a good part of a demo training step). The values are the same."""
    mean = torch.tensor(BGR_MEAN, dtype=torch.float32, device=device) * sign
    return mean.expand(height, width, 3).contiguous()
