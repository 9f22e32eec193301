"""Which frames make a clip (0-based frame indices), for training and for testing.

A clip is `clip_len` frames `interval` apart, spanning (clip_len - 1) * interval + 1 frames.
A video shorter than that span is played in a loop, so the motion speed stays that of the
training interval instead of slowing down.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClipInput:
    """How a clip is made for the network: `clip_len` frames `interval` apart, the short side
    resized to `resize`, crops of `crop_size` squared. The defaults are the reference recipe's,
    written here only; a checkpoint carries its own (its training flags)."""

    clip_len: int = 8
    interval: int = 8
    crop_size: int = 224
    resize: int = 256


def clip_span(clip_len: int, interval: int) -> int:
    return (clip_len - 1) * interval + 1


def clip_from_start(start: int, num_frames: int, clip_len: int, interval: int) -> np.ndarray:
    return (start + interval * np.arange(clip_len)) % num_frames


def train_clip_indices(
    num_frames: int,
    rng: np.random.Generator,
    clip_len: int = ClipInput.clip_len,
    interval: int = ClipInput.interval,
) -> np.ndarray:
    """A clip with a uniformly random start: in [0, F - span] when the video is long enough,
    anywhere in the loop otherwise."""
    _check(num_frames, clip_len, interval)
    span = clip_span(clip_len, interval)
    last_start = num_frames - span if num_frames >= span else num_frames - 1
    start = int(rng.integers(0, last_start + 1))
    return clip_from_start(start, num_frames, clip_len, interval)


def test_clip_indices(
    num_frames: int,
    num_clips: int = 1,
    clip_len: int = ClipInput.clip_len,
    interval: int = ClipInput.interval,
) -> np.ndarray:
    """`num_clips` evenly spaced clips (num_clips x clip_len): the video's valid start range is cut
    into `num_clips` equal parts and each clip starts in the middle of its part, so one clip is
    the centred clip."""
    _check(num_frames, clip_len, interval)
    if num_clips < 1:
        raise ValueError(f"num_clips must be >= 1, got {num_clips}")
    span = clip_span(clip_len, interval)
    starts_range = num_frames - span + 1 if num_frames >= span else num_frames
    starts = ((np.arange(num_clips) + 0.5) * starts_range / num_clips).astype(np.int64)
    return np.stack([clip_from_start(int(s), num_frames, clip_len, interval) for s in starts])


def _check(num_frames, clip_len, interval):
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_frames}")
    if clip_len < 1 or interval < 1:
        raise ValueError(f"clip_len and interval must be >= 1, got {clip_len} and {interval}")
