"""Test images with texture everywhere, so that a misplaced pixel shows."""

import cv2
import numpy as np


def textured_image(width=320, height=240, seed=0):
    rng = np.random.default_rng(seed)
    low = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return cv2.resize(low, (width, height), interpolation=cv2.INTER_LINEAR)
