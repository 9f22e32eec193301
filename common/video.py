"""Decoded video frames as a player shows them."""

import numpy as np


def upright(frame, format: str = "rgb24") -> np.ndarray:
    """A PyAV frame as an H x W x 3 array, turned by the video's display rotation: phones store
    portrait videos as landscape pixels with a rotation tag, which players (and ffmpeg) apply.
    ``frame.rotation`` is counter-clockwise, as ``np.rot90`` turns."""
    image = frame.to_ndarray(format=format)
    turns = round(getattr(frame, "rotation", 0) / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image
