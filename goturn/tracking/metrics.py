"""Tracking metrics on boxes ``[x, y, w, h]`` (float pixels, one row per frame).

The definitions are those of the GOT-10k toolkit (got10k 0.1.3), so numbers
computed here from result files equal the toolkit's on the same files:

- IoU of axis-aligned boxes, ``inter / (union + eps)`` clipped to [0, 1];
  optionally each box clipped to the image first (GOT-10k's ``bound``).
- Centre of a box: ``x + (w - 1) / 2`` (pixel-centre convention).
- OTB one-pass evaluation (``ExperimentOTB``): the first row of a result is
  replaced by the ground truth (it is the initialisation, not a prediction),
  then per sequence a success curve (fraction of frames with IoU > t for 21
  thresholds t in [0, 1]) and a precision curve (fraction with centre error
  <= t px, t = 0..50). Curves are averaged over sequences; AUC is the mean of
  the averaged success curve, precision the value at 20 px, success rate the
  value at t = 0.5. ``first_frame="exclude"`` drops the first row instead.
- GOT-10k (``ExperimentGOT10k``): IoUs of all frames but the first, with the
  boxes clipped to the image, pooled over every sequence; AO is their mean,
  SR@t the fraction with IoU > t.
- VOT supervised (``ExperimentVOT``): the record of a re-initialising run
  (see ``SupervisedRecord``); failures are counted, accuracy is the mean IoU
  over tracked frames outside the 10-frame burn-in that starts at each
  (re)initialisation.
- ALOV F-score (Smeulders et al., 2014): a frame is a true positive when
  IoU >= theta; otherwise the tracker's box is a false positive and the
  missed object a false negative; F = 2PR / (P + R) per video, averaged.
- Lost-target score (this project's): how well a tracker's per-frame score
  tells frames it tracks (IoU >= 0.5) from frames where it has lost the
  object (IoU < 0.1): the ROC AUC, i.e. the probability that a tracked frame
  scores higher than a lost one (ties count half); frames in between are left
  out, as is the initialisation frame.

Frames whose ground truth is not finite (ALOV annotates about every fifth
frame) are left out of every metric by the callers (``annotated_rows``).
"""

from dataclasses import dataclass, field

import numpy as np

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
PRECISION_AT_PX = 20
SUCCESS_RATE_AT = 0.5
GOT10K_CURVE_THRESHOLDS = np.linspace(0.0, 1.0, 101)
VOT_REINIT_DELAY = 5
VOT_BURNIN = 10
ALOV_F_THRESHOLDS = (0.5, 0.7, 0.9)
TRACKED_IOU = 0.5  # a frame at or above this IoU is tracked
LOST_IOU = 0.1  # below this, the tracker has lost the object
FIRST_FRAME_MODES = ("ground_truth", "exclude")


def as_boxes(boxes) -> np.ndarray:
    """A float64 (N, 4) copy; raises on any other shape."""
    array = np.array(boxes, dtype=np.float64, ndmin=2)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"expected boxes of shape (N, 4) as [x, y, w, h], got shape {array.shape}")
    return array


def clip_to_image(boxes, width: float, height: float) -> np.ndarray:
    """Boxes cut to the image ``[0, width] x [0, height]`` (the toolkit's
    ``bound``): the corner first, then the size within what is left."""
    boxes = as_boxes(boxes)
    boxes[:, 0] = np.clip(boxes[:, 0], 0, width)
    boxes[:, 1] = np.clip(boxes[:, 1], 0, height)
    boxes[:, 2] = np.clip(boxes[:, 2], 0, width - boxes[:, 0])
    boxes[:, 3] = np.clip(boxes[:, 3], 0, height - boxes[:, 1])
    return boxes


def intersect_with_image(boxes, width: float, height: float) -> np.ndarray:
    """The part of each box inside the image (the VOT toolkit's polygon
    ``bound``); unlike ``clip_to_image`` a box sticking out on the left or
    top loses that part."""
    boxes = as_boxes(boxes)
    x1, y1 = np.clip(boxes[:, 0], 0, width), np.clip(boxes[:, 1], 0, height)
    x2 = np.clip(boxes[:, 0] + boxes[:, 2], 0, width)
    y2 = np.clip(boxes[:, 1] + boxes[:, 3], 0, height)
    return np.stack([x1, y1, np.maximum(x2 - x1, 0), np.maximum(y2 - y1, 0)], axis=1)


def iou(boxes_a, boxes_b, image_size: tuple[float, float] | None = None, bound: str = "clip") -> np.ndarray:
    """Per-row IoU. With ``image_size`` (width, height) both boxes are first
    bounded by the image: ``bound="clip"`` as GOT-10k does, ``"intersect"``
    as VOT does."""
    a, b = as_boxes(boxes_a), as_boxes(boxes_b)
    if a.shape != b.shape:
        raise ValueError(f"boxes differ in shape: {a.shape} vs {b.shape}")
    if image_size is not None:
        limit = {"clip": clip_to_image, "intersect": intersect_with_image}[bound]
        a, b = limit(a, *image_size), limit(b, *image_size)
    inter_w = np.maximum(np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0)
    inter_h = np.maximum(np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0)
    inter = inter_w * inter_h
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.clip(inter / (union + np.finfo(np.float64).eps), 0.0, 1.0)


def centre_error(boxes_a, boxes_b) -> np.ndarray:
    """Euclidean distance between box centres, in pixels."""
    a, b = as_boxes(boxes_a), as_boxes(boxes_b)
    centres_a = a[:, :2] + (a[:, 2:] - 1) / 2
    centres_b = b[:, :2] + (b[:, 2:] - 1) / 2
    return np.sqrt(np.sum((centres_a - centres_b) ** 2, axis=1))


def success_curve(ious, thresholds=SUCCESS_THRESHOLDS) -> np.ndarray:
    """Fraction of frames whose IoU is strictly above each threshold."""
    ious = np.asarray(ious, dtype=np.float64)
    return np.mean(ious[:, None] > np.asarray(thresholds)[None, :], axis=0)


def precision_curve(errors, thresholds=PRECISION_THRESHOLDS) -> np.ndarray:
    """Fraction of frames whose centre error is at most each threshold."""
    errors = np.asarray(errors, dtype=np.float64)
    return np.mean(errors[:, None] <= np.asarray(thresholds)[None, :], axis=0)


def annotated_rows(ground_truth) -> np.ndarray:
    """Boolean mask of the rows whose ground truth is a finite box."""
    return np.isfinite(as_boxes(ground_truth)).all(axis=1)


@dataclass
class OpeCurves:
    """One sequence's OTB-style curves."""

    success: np.ndarray
    precision: np.ndarray

    @property
    def auc(self) -> float:
        return float(np.mean(self.success))

    @property
    def precision_at_20(self) -> float:
        return float(self.precision[PRECISION_AT_PX])

    @property
    def success_rate(self) -> float:
        return float(self.success[np.flatnonzero(np.isclose(SUCCESS_THRESHOLDS, SUCCESS_RATE_AT))[0]])


def ope_curves(boxes, ground_truth, first_frame: str = "ground_truth") -> OpeCurves:
    """Success and precision curves of one sequence (rows aligned, row 0 is
    the initialisation frame)."""
    if first_frame not in FIRST_FRAME_MODES:
        raise ValueError(f"first_frame must be one of {FIRST_FRAME_MODES}, got {first_frame!r}")
    boxes, ground_truth = as_boxes(boxes), as_boxes(ground_truth)
    if boxes.shape != ground_truth.shape:
        raise ValueError(f"result has {len(boxes)} rows but the ground truth has {len(ground_truth)}")
    if first_frame == "ground_truth":
        boxes[0] = ground_truth[0]
    else:
        boxes, ground_truth = boxes[1:], ground_truth[1:]
    return OpeCurves(
        success_curve(iou(boxes, ground_truth)), precision_curve(centre_error(boxes, ground_truth))
    )


def ope_summary(curves: list[OpeCurves]) -> dict:
    """Sequence-averaged curves and their scores (``ExperimentOTB.report``)."""
    if not curves:
        raise ValueError("no sequences to summarise")
    mean = OpeCurves(
        np.mean([c.success for c in curves], axis=0), np.mean([c.precision for c in curves], axis=0)
    )
    return {
        "auc": mean.auc,
        "precision_20px": mean.precision_at_20,
        "success_rate_0.5": mean.success_rate,
        "success_curve": mean.success.tolist(),
        "precision_curve": mean.precision.tolist(),
    }


def got10k_ious(
    boxes, ground_truth, image_size: tuple[float, float], visible: np.ndarray | None = None
) -> np.ndarray:
    """The IoUs GOT-10k averages for one sequence: every frame but the first,
    boxes clipped to the image, only frames where the target is visible."""
    ious = iou(as_boxes(boxes)[1:], as_boxes(ground_truth)[1:], image_size=image_size)
    if visible is not None:
        ious = ious[np.asarray(visible, dtype=bool)[1:]]
    return ious


def got10k_summary(ious_per_sequence: list[np.ndarray]) -> dict:
    """AO and success rates over the frames of all sequences pooled."""
    ious = np.concatenate([np.asarray(i, dtype=np.float64) for i in ious_per_sequence])
    if ious.size == 0:
        raise ValueError("no frames to summarise")
    return {
        "ao": float(np.mean(ious)),
        "sr_0.5": float(np.mean(ious > 0.5)),
        "sr_0.75": float(np.mean(ious > 0.75)),
        "success_curve": success_curve(ious, GOT10K_CURVE_THRESHOLDS).tolist(),
    }


INIT, SKIPPED, FAILURE = 1, 0, 2


@dataclass
class SupervisedRecord:
    """One frame per entry, as the VOT toolkit records a supervised run: a box
    ``[x, y, w, h]`` for a tracked frame, or one code: ``INIT`` (1) for a
    (re)initialisation, ``FAILURE`` (2) for the frame where the overlap fell
    to zero, ``SKIPPED`` (0) for the frames waited before re-initialising."""

    entries: list = field(default_factory=list)

    def lines(self) -> list[str]:
        return [",".join(f"{v:.4f}" for v in e) if len(e) == 4 else str(int(e[0])) for e in self.entries]

    @classmethod
    def from_lines(cls, lines: list[str]) -> "SupervisedRecord":
        return cls([[float(v) for v in line.split(",")] for line in lines if line.strip()])


def vot_scores(
    record: SupervisedRecord, ground_truth, image_size: tuple[float, float], burnin: int = VOT_BURNIN
) -> dict:
    """Failures and accuracy of one supervised run. Accuracy averages the IoU
    of tracked, annotated frames outside the burn-in (the initialisation frame
    and the ``burnin - 1`` frames after it); ``frames`` counts those."""
    ground_truth = as_boxes(ground_truth)
    if len(record.entries) != len(ground_truth):
        raise ValueError(f"record has {len(record.entries)} frames, ground truth {len(ground_truth)}")
    excluded = np.zeros(len(ground_truth), dtype=bool)
    for index, entry in enumerate(record.entries):
        if len(entry) == 1 and int(entry[0]) == INIT:
            excluded[index : index + burnin] = True
    tracked = np.array([len(e) == 4 for e in record.entries]) & ~excluded & annotated_rows(ground_truth)
    boxes = np.array([e for e, keep in zip(record.entries, tracked) if keep], dtype=np.float64).reshape(-1, 4)
    ious = iou(boxes, ground_truth[tracked], image_size=image_size, bound="intersect")
    failures = sum(1 for e in record.entries if len(e) == 1 and int(e[0]) == FAILURE)
    return {"failures": failures, "iou_sum": float(np.sum(ious)), "frames": int(ious.size)}


def vot_summary(per_sequence: list[dict], total_frames: int) -> dict:
    """Accuracy pooled over the counted frames of all sequences; failures
    summed, and per 100 frames so sets of different lengths compare."""
    frames = sum(s["frames"] for s in per_sequence)
    failures = sum(s["failures"] for s in per_sequence)
    return {
        "accuracy": sum(s["iou_sum"] for s in per_sequence) / frames if frames else 0.0,
        "failures": failures,
        "failures_per_100_frames": 100.0 * failures / total_frames if total_frames else 0.0,
    }


def alov_f_score(ious, threshold: float) -> float:
    """F-score of one video at one IoU threshold (every frame has an object
    and a tracker box, so a miss is one false positive and one false negative)."""
    ious = np.asarray(ious, dtype=np.float64)
    true_pos = int(np.sum(ious >= threshold))
    false_pos = false_neg = ious.size - true_pos
    if true_pos == 0:
        return 0.0
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    return 2 * precision * recall / (precision + recall)


def alov_summary(ious_per_sequence: list[np.ndarray], thresholds=ALOV_F_THRESHOLDS) -> dict:
    """F-score per threshold, averaged over videos. Pass the IoUs of the
    frames after the initialisation frame."""
    return {
        f"f_score_{t}": float(np.mean([alov_f_score(i, t) for i in ious_per_sequence])) for t in thresholds
    }


def speed_fps(times) -> float:
    """The toolkit's per-sequence speed: mean of 1/t over frames with t > 0
    (-1 when none)."""
    times = np.asarray(times, dtype=np.float64)
    times = times[np.isfinite(times) & (times > 0)]
    return float(np.mean(1.0 / times)) if times.size else -1.0


def roc_auc(scores, positive) -> float | None:
    """Area under the ROC curve of ``scores`` separating ``positive`` rows from the others: the
    Mann-Whitney probability that a positive outscores a negative, ties counting half. None
    when either class is empty (or a score is not finite)."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    if not np.isfinite(scores).all():
        return None
    pos, neg = np.sort(scores[positive]), scores[~positive]
    if not pos.size or not neg.size:
        return None
    # For each negative: the positives above it, and half of those equal to it.
    above = pos.size - np.searchsorted(pos, neg, side="right")
    equal = np.searchsorted(pos, neg, side="right") - np.searchsorted(pos, neg, side="left")
    return float((above.sum() + 0.5 * equal.sum()) / (pos.size * neg.size))


def lost_target_summary(ious, scores) -> dict:
    """How well ``scores`` (one per frame, the initialisation frame left out) tell tracked frames
    (IoU >= ``TRACKED_IOU``) from lost ones (IoU < ``LOST_IOU``), pooled over the frames given."""
    ious, scores = np.asarray(ious, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    tracked, lost = ious >= TRACKED_IOU, ious < LOST_IOU
    keep = tracked | lost
    return {
        "roc_auc": roc_auc(scores[keep], tracked[keep]),
        "tracked_frames": int(tracked.sum()),
        "lost_frames": int(lost.sum()),
        "mean_score_tracked": float(np.mean(scores[tracked])) if tracked.any() else None,
        "mean_score_lost": float(np.mean(scores[lost])) if lost.any() else None,
    }
