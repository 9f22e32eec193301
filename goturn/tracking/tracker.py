"""GOTURN as a tracker: ``init(image, box)`` then ``update(image) -> box``.

Per new frame, for each target: crop the previous frame around the previous
box (the target crop) and the new frame around the same box (the search
crop), both with context and by the training code's own crop functions
(``goturn.data.crops``); the network regresses the box inside the search crop;
``box_from_crop_units`` maps it back to the frame. The prediction is the next
previous box. Boxes stay floats throughout.

Each frame also gets a lost-target score in [0, 1] (``last_score``, per target
``last_scores``; ``goturn.tracking.lost_target``): the crop around the new box,
which the next frame needs anyway, compared with the first frame's (the target
tower's features and the colours), so the score costs no network pass. What the
tracker does with a low score, and which template it regresses against, is its
policy (``goturn.tracking.policy``; by default the one the checkpoint's training
recipe recorded).

Boxes are ``[x, y, w, h]`` in pixels; images RGB ``H x W x 3`` uint8 arrays
(grey ``H x W`` too) or PIL images, as the GOT-10k toolkit passes them: an
instance works unchanged as a ``got10k`` tracker (``name``,
``is_deterministic``, ``init``, ``update``, ``track``). Several independent
targets in one video go through the network as one batch
(``init_targets`` / ``update_targets``).
"""

import time

import cv2
import numpy as np
import torch
from PIL import Image

from common.device import resolve_device
from common.errors import UserError
from common.precision import autocast, inference_precision
from goturn.data.crops import (
    CROP_SIZE,
    CropGeometry,
    box_from_crop_units,
    crop_with_context,
    to_network_input,
)
from goturn.model import GoturnNet
from goturn.tracking.lost_target import (
    AppearanceReference,
    colour_histograms,
    colour_score,
    forward_backward_score,
)
from goturn.tracking.policy import policy_for
from goturn.weights import load_network

# Smallest box side the tracker keeps, in pixels: a collapsed prediction
# would otherwise give a 1-pixel context crop the network cannot recover from.
MIN_SIDE = 1.0


def load_model(checkpoint) -> GoturnNet:
    """A GoturnNet with the weights of ``checkpoint`` (this project's
    checkpoint of either network, a bare state dict, or a goturn-pytorch ``.ckpt``)."""
    model, kind = load_network(checkpoint)
    if kind == "caffenet":
        raise UserError(
            f"{checkpoint} holds only the CaffeNet convolution weights; tracking needs a "
            "trained GOTURN checkpoint (the regression head too)"
        )
    return model


def to_rgb_array(image) -> np.ndarray:
    """An RGB (or grey, or RGBA) PIL image or uint8 array as an H x W x 3 uint8 RGB array,
    without a copy where the input already is one."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got dtype {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB image H x W x 3 (or grey H x W), got shape {array.shape}")
    return np.ascontiguousarray(array[:, :, :3])


def to_bgr_array(image) -> np.ndarray:
    """The image as the H x W x 3 uint8 BGR array OpenCV's trackers expect."""
    return np.ascontiguousarray(to_rgb_array(image)[:, :, ::-1])


def xywh_to_corners(boxes) -> np.ndarray:
    boxes = np.array(boxes, dtype=np.float64, ndmin=2)
    if boxes.shape[1:] != (4,):
        raise ValueError(f"expected boxes [x, y, w, h], got shape {boxes.shape}")
    if (boxes[:, 2:] <= 0).any():
        raise ValueError(f"boxes need a positive width and height, got {boxes.tolist()}")
    return np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], axis=1)


def corners_to_xywh(boxes: np.ndarray) -> np.ndarray:
    return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)


def keep_in_image(box: np.ndarray, width: int, height: int) -> np.ndarray:
    """``box`` (corners) with each side at least ``MIN_SIDE``, inside the image."""
    box = box.copy()
    for low, high, limit in ((0, 2, width), (1, 3, height)):
        if box[high] - box[low] < MIN_SIDE:
            centre = min(max((box[low] + box[high]) / 2, MIN_SIDE / 2), limit - MIN_SIDE / 2)
            box[low], box[high] = centre - MIN_SIDE / 2, centre + MIN_SIDE / 2
    return box


# How close to the image border a side counts as cut by it, in pixels: the network, trained on
# boxes inside the image, puts a cut side on the border or a pixel or two inside it.
BORDER_TOLERANCE = 2.0


def keep_cut_sides(boxes: np.ndarray, previous: np.ndarray, width: int, height: int) -> np.ndarray:
    """``boxes`` (K x 4 corners) where a box shrank against one image border along an axis:
    that side moved out again so the box keeps its ``previous`` length there (the object
    goes on beyond the border). A box cut on both sides of an axis, or grown, is kept."""
    boxes = boxes.copy()
    for box, before in zip(boxes, previous):
        for low, high, limit in ((0, 2, width), (1, 3, height)):
            length = before[high] - before[low]
            if box[high] - box[low] >= length:
                continue
            at_low, at_high = box[low] <= BORDER_TOLERANCE, box[high] >= limit - BORDER_TOLERANCE
            if at_low and not at_high:
                box[low] = box[high] - length
            elif at_high and not at_low:
                box[high] = box[low] + length
    return boxes


class SequenceTracker:
    """What the GOT-10k toolkit calls on a tracker besides init/update.

    ``last_score`` is the tracker's confidence in its last box, in [0, 1] (NaN: the tracker
    has no such signal)."""

    name = "tracker"
    is_deterministic = True
    last_score = float("nan")
    track_scores: np.ndarray | None = None

    def init(self, image, box) -> None:
        raise NotImplementedError

    def update(self, image) -> list[float]:
        raise NotImplementedError

    def track(self, img_files, box, visualize: bool = False):
        """Run over ``img_files`` from ``box`` on the first; returns the boxes
        (N x 4, row 0 = ``box``) and the seconds spent per frame. The
        signature is the toolkit's; ``visualize`` is accepted and ignored
        (drawing tracks is ``goturn.tracking.track``'s job). ``last_score`` after every frame
        (row 0: after init) is left in ``track_scores``."""
        boxes = np.zeros((len(img_files), 4))
        boxes[0] = box
        times = np.zeros(len(img_files))
        self.track_scores = np.full(len(img_files), np.nan)
        for index, path in enumerate(img_files):
            with Image.open(path) as image:
                image = image.convert("RGB")
            start = time.perf_counter()
            if index == 0:
                self.init(image, box)
            else:
                boxes[index] = self.update(image)
            times[index] = time.perf_counter() - start
            self.track_scores[index] = self.last_score
        return boxes, times


class Tracker(SequenceTracker):
    """GOTURN tracking one or several targets.

    ``checkpoint``: a path (see ``load_model``) or a GoturnNet (any module
    ``(target, search) -> N x 4`` crop units; without GoturnNet's ``encode_target``,
    ``encode_search`` and ``regress`` there is no lost-target score). ``device``:
    auto|cpu|cuda|npu[:N] or a torch.device. ``precision``: auto|fp32|bf16|fp16 (autocast;
    auto: fp32 on a CPU, half precision on accelerators, see ``inference_precision``).
    ``score``, ``hold_below``, ``template``, ``border``: the policy (``policy.TrackingPolicy``;
    ``score`` is one of ``lost_target.SCORES``); None: the checkpoint's recorded one (the
    original's, with the ``combined`` score, for a module or a file without one).

    Per frame, the target tower runs once, on the crop around the new box: its features are
    the next frame's target and, compared with the first frame's (with the crop's colours),
    the frame's lost-target score (``last_scores``, one per target; ``last_score`` for one
    target). That is the work of one plain forward of the network per frame; ``score="fb"``
    adds a backward pass.
    """

    def __init__(
        self,
        checkpoint,
        device="auto",
        name: str = "GOTURN",
        precision: str = "auto",
        score: str | None = None,
        hold_below: float | None = None,
        template: str | None = None,
        border: str | None = None,
    ):
        self.policy = policy_for(
            checkpoint, score=score, hold_below=hold_below, template=template, border=border
        )
        self.device = device if isinstance(device, torch.device) else resolve_device(str(device))
        self.precision = inference_precision(precision, self.device)
        model = checkpoint if isinstance(checkpoint, torch.nn.Module) else load_model(checkpoint)
        self.model = model.to(self.device).eval()
        self.name = name
        # GoturnNet's parts: the target features are kept from frame to frame.
        self._split = all(hasattr(model, part) for part in ("encode_target", "encode_search", "regress"))
        self._previous_image: np.ndarray | None = None
        self._previous_boxes: np.ndarray | None = None  # K x 4 corners
        self._target_codes: torch.Tensor | None = None  # K x features, of the previous boxes
        self._reference: AppearanceReference | None = None  # of the first boxes
        self._first_codes: torch.Tensor | None = None
        self._first_histograms: np.ndarray | None = None
        self.last_scores = np.zeros(0)

    @property
    def score(self) -> str:
        """The lost-target score this tracker computes (its policy's)."""
        return self.policy.score

    @property
    def last_score(self) -> float:
        """The score of the single target's last box (NaN before init or with several targets)."""
        return float(self.last_scores[0]) if len(self.last_scores) == 1 else float("nan")

    # ---- one target: the GOT-10k interface -------------------------------
    def init(self, image, box) -> None:
        self.init_targets(image, [box])

    def update(self, image) -> list[float]:
        if self._previous_boxes is not None and len(self._previous_boxes) != 1:
            raise RuntimeError(f"tracking {len(self._previous_boxes)} targets: use update_targets()")
        return [float(v) for v in self.update_targets(image)[0]]

    # ---- several targets, one batch ----------------------------------------
    def init_targets(self, image, boxes) -> None:
        """Start tracking ``boxes`` (K x 4, [x, y, w, h]) in ``image``."""
        image, corners = to_rgb_array(image), xywh_to_corners(boxes)
        height, width = image.shape[:2]
        outside = (
            (corners[:, 2] <= 0) | (corners[:, 3] <= 0) | (corners[:, 0] >= width) | (corners[:, 1] >= height)
        )
        if outside.any():
            box = corners_to_xywh(corners[outside])[0].tolist()
            raise ValueError(
                f"the box {box} ([x, y, w, h]) lies outside the {width}x{height} image: nothing "
                "to track (boxes are x, y, width, height, not two corners)"
            )
        self._previous_image, self._previous_boxes = self._kept(image), corners
        if self._split:
            self._target_codes, self._first_histograms = self._encode_targets(image, corners)
            self._first_codes = self._target_codes
            self._reference = AppearanceReference(self._target_codes)
            self.last_scores = np.ones(len(corners))
        else:
            self.last_scores = np.full(len(corners), np.nan)

    def update_targets(self, image) -> np.ndarray:
        """The K boxes in ``image`` (K x 4 float64, [x, y, w, h]); their scores are then in
        ``last_scores`` (K, in [0, 1]; NaN for a network without GoturnNet's parts). A target
        whose new box scores below the policy's ``hold_below`` keeps its last box (returned
        again) and template; its score is the new box's. With the policy's ``border="keep"``
        the boxes returned are the parts inside the image of the ones tracked."""
        if self._previous_boxes is None:
            raise RuntimeError("call init() (or init_targets()) with the first frame and box first")
        current = to_rgb_array(image)
        searches, geometries = self._crops(current, self._previous_boxes)
        with torch.inference_mode(), autocast(self.device, self.precision):
            if self._split:
                template = self._first_codes if self.policy.template == "first" else self._target_codes
                units = self.model.regress(template, self.model.encode_search(searches))
            else:
                targets, _ = self._crops(self._previous_image, self._previous_boxes)
                units = self.model(targets, searches)
        boxes = self._boxes(units, geometries, current)
        height, width = current.shape[:2]
        if self.policy.border == "keep":
            boxes = keep_cut_sides(boxes, self._previous_boxes, width, height)
        if self._split:
            codes, histograms = self._encode_targets(current, boxes)
            self.last_scores = self._scores(boxes, codes, histograms)
            doubted = self.last_scores < self.policy.hold_below
            if doubted.any():
                boxes = np.where(doubted[:, None], self._previous_boxes, boxes)
                keep = torch.from_numpy(doubted).to(codes.device)
                codes = torch.where(keep[:, None], self._target_codes, codes)
            self._target_codes = codes
        self._previous_image, self._previous_boxes = self._kept(current), boxes
        if self.policy.border == "keep":
            boxes = np.clip(boxes, 0.0, [width, height, width, height])
        return corners_to_xywh(boxes)

    def _kept(self, image: np.ndarray) -> np.ndarray | None:
        """The frame as the next update needs it: a copy (the caller may reuse its buffer, as
        video readers do) where the next update crops it, nothing where the target features
        carried over suffice (the split network with any score but ``fb``)."""
        return None if self._split and self.score != "fb" else image.copy()

    def _boxes(self, units: torch.Tensor, geometries: list[CropGeometry], image: np.ndarray) -> np.ndarray:
        """The network's answers (crop units) as boxes (corners) in ``image``."""
        units = units.float().cpu().numpy()
        if not np.isfinite(units).all():
            raise FloatingPointError(
                "the network returned NaN or Inf; the checkpoint's weights are broken "
                "(a diverged training run?)"
            )
        height, width = image.shape[:2]
        return np.stack(
            [
                keep_in_image(box_from_crop_units(u, g, width, height), width, height)
                for u, g in zip(units, geometries)
            ]
        )

    def _scores(self, boxes: np.ndarray, codes: torch.Tensor, histograms: np.ndarray) -> np.ndarray:
        """The lost-target score of each new box (``codes``, ``histograms``: of its crop)."""
        if self.score == "fb":
            return self._forward_backward(boxes, codes)
        if self.score == "appearance":
            return self._reference.score(codes)
        colour = colour_score(histograms, self._first_histograms)
        return colour if self.score == "colour" else (colour + self._reference.score(codes)) / 2

    def _forward_backward(self, boxes: np.ndarray, codes: torch.Tensor) -> np.ndarray:
        """Track the new boxes (target features ``codes``) back into the previous frame; their
        IoU with the previous boxes."""
        searches, geometries = self._crops(self._previous_image, boxes)
        with torch.inference_mode(), autocast(self.device, self.precision):
            units = self.model.regress(codes, self.model.encode_search(searches))
        back = self._boxes(units, geometries, self._previous_image)
        return forward_backward_score(back, self._previous_boxes)

    def _crops(self, image: np.ndarray, boxes: np.ndarray) -> tuple[torch.Tensor, list[CropGeometry]]:
        """The network input of the context crops of ``boxes`` in the RGB ``image``, and their
        geometry."""
        crops, geometries = self._cut(image, boxes)
        return to_network_input(torch.from_numpy(crops).to(self.device)), geometries

    def _cut(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, list[CropGeometry]]:
        """The uint8 BGR context crops of ``boxes`` in the RGB ``image``. They are cut from the
        RGB frame and turned to the network's BGR after (the same pixels: the resize works per
        channel), which spares a copy of the whole frame."""
        crops = np.empty((len(boxes), CROP_SIZE, CROP_SIZE, 3), np.uint8)
        geometries = []
        for crop, box in zip(crops, boxes):
            geometries.append(crop_with_context(image, box, crop)[1])
            cv2.cvtColor(crop, cv2.COLOR_RGB2BGR, dst=crop)  # 150x torch's flip of the crop
        return crops, geometries

    def _encode_targets(self, image: np.ndarray, boxes: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
        """The target features of the crops around ``boxes``, and their colour histograms."""
        crops, _ = self._cut(image, boxes)
        with torch.inference_mode(), autocast(self.device, self.precision):
            codes = self.model.encode_target(to_network_input(torch.from_numpy(crops).to(self.device)))
        return codes, colour_histograms(crops)
