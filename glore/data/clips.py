"""Which frames make a clip (0-based frame indices), for training and for testing.

A clip is `clip_len` frames `interval` apart, spanning (clip_len - 1) * interval + 1 frames.
Frame ids never run backwards. A video shorter than that span gives `clip_len` consecutive
frames, as the reference's samplers do (GloRe `data/video_sampler.py`: `range(0, F)` when the
span does not fit); one shorter than `clip_len` frames gives each frame in turn, repeated
evenly, where the reference's `list(range(F)) * clip_len` would loop back to frame 0.
Within the frames that fit, the start is random for training and evenly spaced for testing,
as for long videos (the reference always starts short videos at frame 0).
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


def _step(num_frames: int, clip_len: int, interval: int) -> int:
    """The frame step a video of `num_frames` is sampled with: `interval` when the span fits,
    1 (consecutive frames) when `clip_len` frames fit, 0 (frames repeated) otherwise."""
    if num_frames >= clip_span(clip_len, interval):
        return interval
    return 1 if num_frames >= clip_len else 0


def _clip(start: int, num_frames: int, clip_len: int, step: int) -> np.ndarray:
    if step == 0:
        return np.arange(clip_len) * num_frames // clip_len
    return start + step * np.arange(clip_len)


def _start_count(num_frames: int, clip_len: int, step: int) -> int:
    """How many starts a clip of that step has in the video."""
    return 1 if step == 0 else num_frames - clip_span(clip_len, step) + 1


def train_clip_indices(
    num_frames: int,
    rng: np.random.Generator,
    clip_len: int = ClipInput.clip_len,
    interval: int = ClipInput.interval,
) -> np.ndarray:
    """A clip with a uniformly random start among those that fit: in [0, F - span]."""
    _check(num_frames, clip_len, interval)
    step = _step(num_frames, clip_len, interval)
    start = int(rng.integers(0, _start_count(num_frames, clip_len, step)))
    return _clip(start, num_frames, clip_len, step)


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
    step = _step(num_frames, clip_len, interval)
    starts_range = _start_count(num_frames, clip_len, step)
    starts = ((np.arange(num_clips) + 0.5) * starts_range / num_clips).astype(np.int64)
    return np.stack([_clip(int(s), num_frames, clip_len, step) for s in starts])


def _check(num_frames, clip_len, interval):
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_frames}")
    if clip_len < 1 or interval < 1:
        raise ValueError(f"clip_len and interval must be >= 1, got {clip_len} and {interval}")
