"""GOTURN's crops made on the training device, a whole batch at once.

With ``--pixels_on device`` the loader workers still decode the frames, draw
the motion and compute the labels, but instead of 227 x 227 crops they send
each distinct frame of the batch once, as uint8, and where every crop comes
from (``DeviceCropSources``). The training process then cuts all crops of
the batch with one ``grid_sample`` (``crop_batch_on_device``): meant for GPUs
and NPUs, where the loader's cores would otherwise cap the step rate; it
runs on the CPU too, where it costs more than cv2 in the loader.

The pixels are those of ``crops.cut_crops``: the canvas (the image region
pasted at its integer place on zeros) resized with cv2's bilinear
convention, source position ``(j + 0.5) * canvas / 227 - 0.5`` clamped to
the canvas (cv2 replicates its input's border). The canvas is never built:
along each axis, a position whose two taps both lie on the region samples
the frame there; one whose taps straddle the region's edge samples the
frame exactly at its inner tap and is weighted by that tap's bilinear
weight, the outer tap being a canvas zero; one with no tap on the region is
0. Bilinear weights are separable, so the crop is the frame sampled at
those positions times the outer product of the two axes' weights, and no
sample reaches past the region (a neighbouring frame in the band, or image
pixels the original leaves out). Only rounding differs from cv2: it blends
with 11-bit weights and rounds to uint8, here the blend stays float32
(tests/goturn/data/test_device_crops.py bounds the difference; float32 grid
coordinates add about 1e-4 px per 1000 rows of frames).

``grid_sample`` pairs each input image with its own grid; stacking the
frames top to bottom into one band (``frame_band``) makes one input for all
crops without a copy of a frame per crop. The band is padded to the widest
frame on the device, so the transfer stays at the frames' own bytes. (Four
``index_select`` gathers and lerps, tried first, took 3-4x longer on CPU.)

The batch carries, besides the labels and indices of every batch:

- ``frames``: uint8 (P, 3), the BGR pixels of the batch's distinct frames,
  each row-major, one after the other (a DET object's two frames are one);
- ``frame_table``: int64 (F, 3), per frame its first pixel, height, width;
- ``target_rects`` (one per unit) and ``search_rects`` (one per example):
  int64 (n, 9), per crop its frame, the image rectangle ``x, y, w, h``
  pasted on the canvas at ``place_x, place_y``, and the canvas size
  ``canvas_w, canvas_h`` (``RECT_COLUMNS``).
"""

import numpy as np
import torch

from goturn.data.crops import CROP_SIZE, ContextWindows, mean_image
from goturn.data.examples import PairImages, locate_examples

RECT_COLUMNS = ("frame", "x", "y", "w", "h", "place_x", "place_y", "canvas_w", "canvas_h")
_FRAME, _X, _Y, _W, _H, _PLACE_X, _PLACE_Y, _CANVAS_W, _CANVAS_H = range(len(RECT_COLUMNS))


class DeviceCropSources:
    """What one batch sends instead of crops (see the module docstring).
    ``add_unit`` has the signature of the loader's crop maker, so the batch
    assembly is the same code for both."""

    def __init__(self, batch_size: int, units: int):
        self.target_rects = np.empty((units, len(RECT_COLUMNS)), np.int64)
        self.search_rects = np.empty((batch_size, len(RECT_COLUMNS)), np.int64)
        self._frames: list[np.ndarray] = []
        self._frame_index: dict = {}

    def add_unit(
        self, slot: int, pair: PairImages, frame_keys: tuple, centres: np.ndarray, rows: slice
    ) -> np.ndarray:
        """Record the target crop of unit ``slot`` and the search crops of
        ``rows``; ``frame_keys`` name the pair's two images, so an image
        shared within the batch is sent once. Returns the labels."""
        target, searches, labels = locate_examples(pair, centres)
        prev = self._frame(frame_keys[0], pair.prev_image)
        curr = self._frame(frame_keys[1], pair.curr_image)
        self.target_rects[slot] = _rect_rows(prev, target)
        self.search_rects[rows] = _rect_rows(curr, searches)
        return labels

    def _frame(self, key, image: np.ndarray) -> int:
        if key not in self._frame_index:
            self._frame_index[key] = len(self._frames)
            self._frames.append(image)
        return self._frame_index[key]

    def tensors(self) -> dict[str, torch.Tensor]:
        pixels = [frame.reshape(-1, 3) for frame in self._frames]
        sizes = [len(frame) for frame in pixels]
        table = np.array(
            [
                [first, frame.shape[0], frame.shape[1]]
                for first, frame in zip(np.cumsum([0, *sizes[:-1]]), self._frames)
            ],
            np.int64,
        )
        return {
            "frames": torch.from_numpy(np.concatenate(pixels)),
            "frame_table": torch.from_numpy(table),
            "target_rects": torch.from_numpy(self.target_rects),
            "search_rects": torch.from_numpy(self.search_rects),
        }


def _rect_rows(frame: int, windows: ContextWindows) -> np.ndarray:
    return np.stack([np.full_like(windows.src_x, frame), *windows.paste_columns()], axis=1)


def crop_batch_on_device(batch: dict, device: torch.device, non_blocking: bool = False):
    """The network inputs ``(target, search)`` of a batch sent by
    ``DeviceCropSources``: float32 N x 3 x 227 x 227 minus the BGR mean,
    channels-last, as ``crops.to_network_input`` gives for loader crops."""
    table = batch["frame_table"]
    band = frame_band(batch["frames"].to(device, non_blocking=non_blocking), table)
    rects = torch.cat([batch["target_rects"], batch["search_rects"]])
    band_top = torch.cumsum(table[:, 1], 0) - table[:, 1]
    rects[:, _Y] += band_top[rects[:, _FRAME]]
    crops = crop_from_band(band, rects.to(device, non_blocking=non_blocking))
    units = len(batch["target_rects"])
    return crops[:units], crops[units:]


def frame_band(frames: torch.Tensor, frame_table: torch.Tensor) -> torch.Tensor:
    """The frames stacked top to bottom in one uint8 image (rows, widest, 3),
    zero on the right of the narrower ones: one ``grid_sample`` input for all
    crops. Built where ``frames`` are (the device), from the CPU table."""
    heights, widths = frame_table[:, 1], frame_table[:, 2]
    band = frames.new_zeros((int(heights.sum()), int(widths.max()), 3))
    top = 0
    for first, height, width in frame_table.tolist():
        band[top : top + height, :width] = frames[first : first + height * width].view(height, width, 3)
        top += height
    return band


def crop_from_band(band: torch.Tensor, rects: torch.Tensor) -> torch.Tensor:
    """All crops of ``rects`` (their ``y`` in band rows) as the network
    input: float32 N x 3 x 227 x 227, BGR minus the mean, channels-last."""
    count = len(rects)
    rows, width = band.shape[:2]
    x, x_weight = _taps(rects[:, _X], rects[:, _W], rects[:, _PLACE_X], rects[:, _CANVAS_W])
    y, y_weight = _taps(rects[:, _Y], rects[:, _H], rects[:, _PLACE_Y], rects[:, _CANVAS_H])
    # align_corners=False: -1 and 1 are the outer edges of the band's border pixels.
    grid = torch.empty((count, CROP_SIZE, CROP_SIZE, 2), dtype=torch.float32, device=band.device)
    grid[..., 0] = ((2 * x + 1) / width - 1)[:, None, :]
    grid[..., 1] = ((2 * y + 1) / rows - 1)[:, :, None]
    image = band.permute(2, 0, 1)[None].float()
    samples = torch.nn.functional.grid_sample(
        image,
        grid.view(1, count * CROP_SIZE, CROP_SIZE, 2),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )
    samples = samples.view(3, count, CROP_SIZE, CROP_SIZE).permute(1, 2, 3, 0)
    weight = (y_weight[:, :, None] * x_weight[:, None, :])[..., None]
    # One pass weights the samples, subtracts the mean and writes the channels-last layout.
    out = torch.empty((count, CROP_SIZE, CROP_SIZE, 3), dtype=torch.float32, device=band.device)
    torch.addcmul(mean_image(CROP_SIZE, CROP_SIZE, band.device, -1.0), samples, weight, out=out)
    return out.permute(0, 3, 1, 2)


def _taps(start, size, place, canvas):
    """Along one axis, for each crop (row) and output pixel (column): where
    to sample the frame (band coordinates) and the weight of that sample
    (see the module docstring)."""
    j = torch.arange(CROP_SIZE, dtype=torch.float32, device=start.device)
    start, size, place, canvas = (column[:, None].float() for column in (start, size, place, canvas))
    # cv2 computes the position in double before keeping it as a float; float32 throughout is
    # off by under 1e-4 px, and the result is continuous in it.
    position = torch.minimum(((j + 0.5) * (canvas / CROP_SIZE) - 0.5).clamp(min=0), canvas - 1)
    inner = position.floor()
    fraction = position - inner
    first_in = (inner >= place) & (inner < place + size)
    second_in = (inner + 1 >= place) & (inner + 1 < place + size)
    on_region = torch.where(first_in & second_in, position, torch.where(first_in, inner, inner + 1))
    weight = torch.where(
        first_in & second_in,
        1.0,
        torch.where(first_in, 1.0 - fraction, torch.where(second_in, fraction, 0.0)),
    )
    return on_region - place + start, weight
