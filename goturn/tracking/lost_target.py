"""The tracker's per-frame lost-target score, in [0, 1]: high while it follows the object, low
once it has lost it (the object occluded, out of the picture, or the box drifted away).

Two scores, measured on the demo's held-out videos (frames with IoU >= 0.5 against frames with
IoU < 0.1; see goturn/README.md for the figures):

- ``appearance`` (the default; free): does the crop around the new box still show what the
  first frame showed? The target tower's pool5 features of that crop are computed anyway (they
  are the next frame's target), and compared with the first frame's: the cosine of the central
  4 x 4 cells (the box's half of the 2x context crop), after subtracting each channel's mean
  over the whole first crop. Pool5 features are non-negative and share a large common part,
  which makes their plain cosine sit near 1 for any crop; the centred one spreads from about 0
  (background) to 1 (the object as first seen), negatives clipped to 0.
- ``fb`` (forward-backward consistency): track the new box back into the previous frame and
  take the IoU of the result with the previous box. A tracker on the object comes back to where
  it was; one on background or on an occluder does not. It separates the two best, but costs a
  search-tower pass and a head pass more per frame (the backward crop is centred on the new
  box, so it cannot share the forward pass's batch): about 1.5x the network time of a frame.
"""

import numpy as np
import torch

from goturn.model import POOL5_SIDE
from goturn.tracking import metrics

SCORES = ("appearance", "fb")
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


def forward_backward_score(back_corners: np.ndarray, previous_corners: np.ndarray) -> np.ndarray:
    """IoU of each box tracked back into the previous frame with that frame's box (corners)."""

    def xywh(corners):
        return np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)

    return metrics.iou(xywh(back_corners), xywh(previous_corners))
