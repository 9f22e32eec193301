"""The tracker's per-frame lost-target score, in [0, 1]: high while it follows the object, low
once it has lost it (the object occluded, out of the picture, or the box drifted away).

The scores (``SCORES``; which one a tracker uses is its policy's, ``goturn.tracking.policy``),
measured on the demo's videos (frames with IoU >= 0.5 against frames with IoU < 0.1, ROC AUC
of seeds 0 / 1 / 2 on a 2-core Intel Xeon; see goturn/README.md):

- ``combined`` (the default for a checkpoint that records no score): the mean of the two
  below. With the original's tracking, on the held-out videos, 0.974 / 0.998 / 1.000, where
  ``appearance`` alone scores 0.472 / 0.877 / 1.000 and ``colour`` 0.995 / 0.984 / 0.988. With
  the demo's policy, on occlusion and walk-out videos it has not seen, it falls to 0.87 for
  seed 0, whose features rate an occluder that the box follows as the object (0.98).
- ``appearance``: does the crop around the new box still show what the first frame showed?
  The target tower's pool5 features of that crop are computed anyway (they are the next frame's
  target), and compared with the first frame's: the cosine of the central 4 x 4 cells (the
  box's half of the 2x context crop), after subtracting each channel's mean over the whole
  first crop. Pool5 features are non-negative and share a large common part, which makes their
  plain cosine sit near 1 for any crop; the centred one spreads from about 0 (background) to 1
  (the object as first seen), negatives clipped to 0. It is only as good as the network's
  features: a network trained for minutes scores some background as high as the object.
- ``colour``: the Bhattacharyya coefficient of the colour histograms (8 x 8 x 8 bins) of the
  box's half of that same crop and of the first frame's: what classical trackers use to
  re-identify an object, independent of the network. About 0.1 ms a frame. The demo's policy
  decides with it: 0.987 / 0.998 / 0.991 on the occlusion and walk-out videos above.
- ``fb`` (forward-backward consistency): track the new box back into the previous frame and
  take the IoU of the result with the previous box (0.992 / 0.997 / 0.998 with the original's
  tracking). It costs a search-tower pass and a head pass more per frame (the backward crop
  is centred on the new box, so it cannot share the forward pass's batch): about 1.5x the
  network time of a frame.
"""

import cv2
import numpy as np
import torch

from goturn.data.crops import CROP_SIZE
from goturn.model import POOL5_SIDE
from goturn.tracking import metrics

SCORES = ("combined", "appearance", "colour", "fb")
# The box's half of a 2x context crop, in crop pixels: what the colour histogram counts.
BOX_PIXELS = slice(CROP_SIZE // 4, CROP_SIZE - CROP_SIZE // 4)
HISTOGRAM_BINS = [8, 8, 8]
# The pool5 cells the object covers: the box is the central half of its 2x context crop.
CENTRE = slice(1, POOL5_SIDE - 1)


def _maps(codes: torch.Tensor) -> torch.Tensor:
    """Flat pool5 features (N x C*6*6) as maps N x C x 6 x 6, in float32."""
    return codes.float().reshape(len(codes), -1, POOL5_SIDE, POOL5_SIDE)


class AppearanceReference:
    """The first frame's features of each target, to compare later crops with."""

    def __init__(self, first_codes: torch.Tensor):
        maps = _maps(first_codes)
        self.channel_mean = maps.mean(dim=(2, 3), keepdim=True)
        self.centre = self._centred(maps)

    def _centred(self, maps: torch.Tensor) -> torch.Tensor:
        return (maps - self.channel_mean)[:, :, CENTRE, CENTRE].flatten(1)

    def score(self, codes: torch.Tensor) -> np.ndarray:
        """One score per target (rows of ``codes`` in the order of the first frame's)."""
        similarity = torch.nn.functional.cosine_similarity(
            self._centred(_maps(codes)), self.centre, dim=1, eps=1e-12
        )
        return similarity.clamp(0.0, 1.0).cpu().numpy().astype(np.float64)


def colour_histograms(crops: np.ndarray) -> np.ndarray:
    """The normalised colour histograms (K x 512) of the box's half of each context crop
    (K x 227 x 227 x 3 uint8, any channel order, the same for all that are compared)."""
    histograms = []
    for crop in crops:
        box = np.ascontiguousarray(crop[BOX_PIXELS, BOX_PIXELS])
        counts = cv2.calcHist([box], [0, 1, 2], None, HISTOGRAM_BINS, [0, 256] * 3).ravel()
        histograms.append(counts / max(float(counts.sum()), 1.0))
    return np.stack(histograms).astype(np.float64)


def colour_score(histograms: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The Bhattacharyya coefficient of each row of ``histograms`` with the reference's."""
    return np.clip(np.sqrt(histograms * reference).sum(axis=1), 0.0, 1.0)


def forward_backward_score(back_corners: np.ndarray, previous_corners: np.ndarray) -> np.ndarray:
    """IoU of each box tracked back into the previous frame with that frame's box (corners)."""

    def xywh(corners):
        return np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)

    return metrics.iou(xywh(back_corners), xywh(previous_corners))
