"""GOTURN's motion model: where the object plausibly moves between frames.

Synthetic examples move the current box by a Laplace-distributed shift and
scale change (the paper's finding: small motions are far more frequent than
large ones). For a box of size w x h centred at (cx, cy) in a W x H image:

- scale  w' = w (1 + clip(Laplace(lambda_scale), min_scale, max_scale)),
  clamped to [1, W - 1]; the same for h;
- shift  cx' = cx + w Laplace(lambda_shift), clamped so the new box stays in
  the image; drawn again (up to ``max_tries`` times, the last try kept) while
  cx' lies outside cx +/- w. The same for y.

Laplace(lambda) has density lambda/2 exp(-lambda |x|), so E|x| = 1/lambda.
All draws come from the ``numpy.random.Generator`` passed in, vectorised
over the examples and the tries, so a pair's examples depend only on that
generator's seed.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MotionModel:
    lambda_shift: float = 5.0
    lambda_scale: float = 15.0
    min_scale: float = -0.4
    max_scale: float = 0.4
    max_tries: int = 10

    def __post_init__(self):
        if self.lambda_shift <= 0 or self.lambda_scale <= 0:
            raise ValueError(
                f"lambda_shift and lambda_scale must be > 0, got {self.lambda_shift} and {self.lambda_scale}"
            )
        if not self.min_scale <= self.max_scale or self.min_scale <= -1:
            raise ValueError(f"need -1 < min_scale <= max_scale, got {self.min_scale}, {self.max_scale}")


def _moved_centres(centre, extent, new_extent, image_extent, draws):
    """First accepted candidate centre per row of ``draws`` (tries in columns),
    else the last try, as in the original's rejection loop."""
    candidates = centre + extent * draws
    half = new_extent[:, None] / 2.0
    candidates = np.minimum(image_extent - half, np.maximum(half, candidates))
    accepted = (
        (candidates >= centre - extent)
        & (candidates <= centre + extent)
        & (candidates - half >= 0)
        & (candidates + half <= image_extent)
    )
    first = np.where(accepted.any(axis=1), accepted.argmax(axis=1), draws.shape[1] - 1)
    return candidates[np.arange(len(candidates)), first]


def sample_moved_boxes(
    box,
    image_width: int,
    image_height: int,
    count: int,
    rng: np.random.Generator,
    motion: MotionModel = MotionModel(),
) -> np.ndarray:
    """``count`` randomly moved and rescaled copies of ``box``, float64 (count, 4)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    width, height = x2 - x1, y2 - y1
    centre_x, centre_y = (x1 + x2) / 2.0, (y1 + y2) / 2.0

    scale = rng.laplace(0.0, 1.0 / motion.lambda_scale, size=(2, count))
    scale = np.clip(scale, motion.min_scale, motion.max_scale)
    new_w = np.clip(width * (1.0 + scale[0]), 1.0, image_width - 1.0)
    new_h = np.clip(height * (1.0 + scale[1]), 1.0, image_height - 1.0)

    shifts = rng.laplace(0.0, 1.0 / motion.lambda_shift, size=(2, count, motion.max_tries))
    new_cx = _moved_centres(centre_x, width, new_w, image_width, shifts[0])
    new_cy = _moved_centres(centre_y, height, new_h, image_height, shifts[1])
    return np.stack(
        [new_cx - new_w / 2.0, new_cy - new_h / 2.0, new_cx + new_w / 2.0, new_cy + new_h / 2.0], axis=1
    )
