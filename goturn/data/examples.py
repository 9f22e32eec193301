"""Training examples of one pair: the heart of GOTURN's training.

Per pair (previous frame + box, current frame + box), following the Caffe
original's ``ExampleGenerator``:

- target: the previous frame cropped with context around the previous box,
  shared by all examples of the pair;
- example 0 (the true one): the current frame cropped around the previous
  box, i.e. where a tracker would search; label = the current box in that
  crop's units (0..10 when it lies inside);
- examples 1..n (``generated``, 10 by default): the current frame cropped
  around a randomly moved copy of the current box (motion.py); label = the
  current box in that crop's units.

Each image of a pair is decoded once (a DET object's two frames are one
image), pixels stay uint8 BGR, the geometry and labels of a pair's search
crops are computed together (one array operation for all of them), and
every crop is resized straight into the caller's buffer.
"""

import dataclasses
from dataclasses import dataclass

import numpy as np

from common.jpeg import decode_as_stored
from goturn.data.crops import ContextWindows, boxes_to_crop_units, context_windows, cut_crops
from goturn.data.errors import DataError
from goturn.data.motion import MotionModel, sample_moved_boxes
from goturn.data.records import PairTable


@dataclass
class PairImages:
    prev_image: np.ndarray
    prev_box: np.ndarray
    curr_image: np.ndarray
    curr_box: np.ndarray


def read_image(path: str) -> np.ndarray:
    """H x W x 3 uint8 BGR (grey images are expanded to 3 channels), the pixels as stored (the boxes
    were drawn on them; an EXIF rotation would no longer fit them)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError:
        raw = b""
    image, truncated = decode_as_stored(raw)
    if image is None:
        raise DataError(f"cannot read image {path}: missing, unreadable or not an image")
    if truncated:
        raise DataError(f"cannot read image {path}: the JPEG is truncated (no end-of-image marker)")
    return image


def _fit_box(box: np.ndarray, annotated_size: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Rescale a box annotated on ``annotated_size`` to the decoded image."""
    width, height = int(annotated_size[0]), int(annotated_size[1])
    if width <= 0 or (image.shape[1] == width and image.shape[0] == height):
        return box
    scale_x, scale_y = image.shape[1] / width, image.shape[0] / height
    return box * np.array([scale_x, scale_y, scale_x, scale_y])


def load_pair(table: PairTable, index: int) -> PairImages:
    prev_id, curr_id = int(table.prev_image[index]), int(table.curr_image[index])
    prev_image = read_image(table.paths[prev_id])
    curr_image = prev_image if curr_id == prev_id else read_image(table.paths[curr_id])
    size = table.annotated_size[index]
    prev_box = _check_inside(
        _fit_box(table.prev_box[index], size, prev_image), prev_image, table.paths[prev_id]
    )
    curr_box = _check_inside(
        _fit_box(table.curr_box[index], size, curr_image), curr_image, table.paths[curr_id]
    )
    return PairImages(prev_image, prev_box, curr_image, curr_box)


def _check_inside(box: np.ndarray, image: np.ndarray, path: str) -> np.ndarray:
    height, width = image.shape[:2]
    if not (box[2] > 0 and box[3] > 0 and box[0] < width and box[1] < height):
        raise DataError(
            f"the box {[round(float(v), 1) for v in box]} of {path} lies outside its {width}x{height} image"
        )
    return box


def jitter_previous_box(pair: PairImages, rng: np.random.Generator, jitter: MotionModel) -> PairImages:
    """``pair`` with its previous box moved a little (``jitter``: a motion model of small
    moves): the target and the true example's search crop are then cut around a box that is
    slightly off, as a tracker's last estimate is, while the label stays the true current box.
    Not in the original (its target is always the true previous box): the demo recipe's
    ``--target_jitter``, which teaches a network trained in a few minutes to correct its own
    drift instead of copying a mis-framed target."""
    height, width = pair.prev_image.shape[:2]
    moved = sample_moved_boxes(pair.prev_box, width, height, 1, rng, jitter)[0]
    return dataclasses.replace(pair, prev_box=moved)


def search_boxes(
    pair: PairImages, generated: int, rng: np.random.Generator, motion: MotionModel
) -> np.ndarray:
    """The boxes the search crops are centred on: the previous box for the
    true example, then ``generated`` moved copies of the current box."""
    height, width = pair.curr_image.shape[:2]
    moved = sample_moved_boxes(pair.curr_box, width, height, generated, rng, motion)
    return np.concatenate([pair.prev_box[None, :], moved])


def make_examples(
    pair: PairImages, centres: np.ndarray, search_out: np.ndarray, target_out: np.ndarray | None = None
) -> np.ndarray:
    """Crop the search regions around ``centres`` into ``search_out``
    (len(centres) x 227 x 227 x 3) and, if given, the target into
    ``target_out``; returns the labels, float32 (len(centres), 4)."""
    target, searches, labels = locate_examples(pair, centres)
    if target_out is not None:
        cut_crops(pair.prev_image, target, target_out[None])
    cut_crops(pair.curr_image, searches, search_out)
    return labels


def locate_examples(
    pair: PairImages, centres: np.ndarray
) -> tuple[ContextWindows, ContextWindows, np.ndarray]:
    """Where ``make_examples`` crops: the target's window, the search crops'
    windows (all centres at once) and the labels. Used alone for crops made
    on the device (device_crops.py)."""
    prev_height, prev_width = pair.prev_image.shape[:2]
    curr_height, curr_width = pair.curr_image.shape[:2]
    target = context_windows(pair.prev_box, prev_width, prev_height)
    searches = context_windows(centres, curr_width, curr_height)
    return target, searches, boxes_to_crop_units(pair.curr_box, searches)
