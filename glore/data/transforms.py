"""Clip augmentation, vectorised over the frames of a clip, with one random draw per clip.

Input: uint8 frames T x H x W x 3 (RGB) from glore.data.frames. Output: the model's layout
3 x T x S x S as integers (uint8, or int16 once pixel jitter can leave [0, 255]); the conversion to
normalised float32 happens on the device (`normalize_clips`), so pixels cross the loader and the
host-to-device copy at 1-2 bytes each instead of 4.

Training (the reference's recipe): RandomScale (short side U(224, 340), aspect ratio in
[0.8, 1.25]) -> RandomCrop 224 -> horizontal flip p 0.5 -> RandomHLS (shifts up to 15/35/25)
-> PixelJitter (per-pixel uniform noise in [low, high], low ~ U(-20, 0), high ~ U(0, 20)).
Scale and crop are one resize of the crop's source region, and the HLS shift is applied to that
region before the resize (colour and geometry commute up to interpolation), so each frame is
resized once and converted to HLS at the smaller of the two sizes.
Evaluation: resize the frame to short side 256, then cut the centre 224 crop (or M crops along
the long side) at whole pixels of the resized frame, as the reference does.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from glore.data.clips import ClipInput

MEAN = (124.0, 117.0, 104.0)  # RGB, on the 0..255 scale
STD = 0.2348 * 255.0  # one value for all channels
HUE_MAX = 180  # OpenCV's 8-bit hue range is [0, 180]

# The reference recipe's augmentation, written here only (glore.train's flags default to it).
SHORT_SIDE = (224, 340)  # RandomScale: the short side's range before the crop
ASPECT_RATIO = (0.8, 1.25)
FLIP_PROB = 0.5
HLS_MAX = (15, 35, 25)  # RandomHLS: largest shift of hue, lightness, saturation
JITTER = 20.0  # PixelJitter's bound


@dataclass(frozen=True)
class ClipDraw:
    """Everything random about one training clip, shared by all its frames."""

    box: tuple[int, int, int, int]  # source region x0, y0, x1, y1 that becomes the crop
    flip: bool
    hls_shift: tuple[int, int, int]  # added to hue, lightness, saturation, then clipped
    jitter_range: tuple[float, float]  # per-pixel noise is uniform in [low, high]


class TrainTransform:
    def __init__(
        self,
        crop_size: int = ClipInput.crop_size,
        short_side: tuple[int, int] = SHORT_SIDE,
        aspect_ratio: tuple[float, float] = ASPECT_RATIO,
        flip_prob: float = FLIP_PROB,
        hls_max: tuple[int, int, int] = HLS_MAX,
        jitter: float = JITTER,
    ):
        if short_side[0] < crop_size or short_side[1] < short_side[0]:
            raise ValueError(
                f"short side range {short_side} must be increasing and start at or above "
                f"the crop size {crop_size}"
            )
        self.crop_size = crop_size
        self.short_side = short_side
        self.aspect_ratio = aspect_ratio
        self.flip_prob = flip_prob
        self.hls_max = hls_max
        self.jitter = jitter

    def draw(self, height: int, width: int, rng: np.random.Generator) -> ClipDraw:
        # RandomScale: mean of two aspect draws, inverted half of the time, then the short side.
        ratio = 0.5 * (rng.uniform(*self.aspect_ratio) + rng.uniform(*self.aspect_ratio))
        if rng.random() > 0.5:
            ratio = 1.0 / ratio
        new_w, new_h = width * ratio, height / ratio
        factor = rng.uniform(*self.short_side) / min(new_w, new_h)
        scaled_w, scaled_h = int(new_w * factor + 1), int(new_h * factor + 1)
        # RandomCrop in the scaled frame, mapped back to the source frame.
        size = self.crop_size
        x = int(rng.integers(0, scaled_w - size + 1))
        y = int(rng.integers(0, scaled_h - size + 1))
        sx, sy = width / scaled_w, height / scaled_h
        box = _box(x * sx, y * sy, (x + size) * sx, (y + size) * sy, width, height)
        flip = bool(rng.random() < self.flip_prob)
        hls_shift = tuple(int(rng.uniform(-m, m)) if m > 0 else 0 for m in self.hls_max)
        jitter_range = (
            (rng.uniform(-self.jitter, 0.0), rng.uniform(0.0, self.jitter)) if self.jitter > 0 else (0.0, 0.0)
        )
        return ClipDraw(box, flip, hls_shift, jitter_range)

    def __call__(self, frames: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        draw = self.draw(frames.shape[1], frames.shape[2], rng)
        clip = crop_resize(
            frames, draw.box, self.crop_size, colour=lambda roi: shift_hls(roi, draw.hls_shift)
        )
        if draw.flip:
            t, h, w, _ = clip.shape
            clip = cv2.flip(clip.reshape(t * h, w, 3), 1).reshape(clip.shape)  # each row reversed
        planes = to_planes(clip)
        if draw.jitter_range == (0.0, 0.0):
            return torch.from_numpy(planes)
        return torch.from_numpy(add_pixel_jitter(planes, draw.jitter_range, rng))


class EvalTransform:
    """The reference's evaluation view (GloRe `Resize(256)` then `CenterCrop(224)`): the frame
    resized so its short side is `resize` and its long side `int(resize * long / short)`, then
    `crop_size` squared cut at whole pixels of the resized frame, centred with Python's
    rounding of half the margin. With `num_crops` > 1, crop `crop_index` of that many evenly
    spaced along the long side (ends included; the middle one of an odd count is the centre
    crop). Resizing the whole frame first, as the reference does, keeps its sub-pixel grid: a
    crop resized from a source region would scale each axis slightly differently."""

    def __init__(
        self, crop_size: int = ClipInput.crop_size, resize: int = ClipInput.resize, num_crops: int = 1
    ):
        if resize < crop_size:
            raise ValueError(f"resize {resize} must be at least the crop size {crop_size}")
        self.crop_size = crop_size
        self.resize = resize
        self.num_crops = num_crops

    def resized_size(self, height: int, width: int) -> tuple[int, int]:
        """(width, height) of the resized frame."""
        if width < height:
            return self.resize, int(self.resize * height / width)
        return int(self.resize * width / height), self.resize

    def offset(self, height: int, width: int, crop_index: int = 0) -> tuple[int, int]:
        """(x, y) of crop `crop_index` in the resized frame."""
        width, height = self.resized_size(height, width)
        x, y = round((width - self.crop_size) / 2), round((height - self.crop_size) / 2)
        if self.num_crops > 1:
            position = crop_index / (self.num_crops - 1)
            if width >= height:
                x = round(position * (width - self.crop_size))
            else:
                y = round(position * (height - self.crop_size))
        return x, y

    def __call__(self, frames: np.ndarray, crop_index: int = 0) -> torch.Tensor:
        return self.views(frames, [crop_index])[0]

    def views(self, frames: np.ndarray, crop_indices) -> list[torch.Tensor]:
        """The crops `crop_indices` of one clip (T x H x W x 3 uint8), each 3 x T x S x S: the
        clip is resized once for all of them."""
        height, width = frames.shape[1:3]
        size = self.resized_size(height, width)
        if size != (width, height):
            resized = np.empty((len(frames), size[1], size[0], 3), np.uint8)
            for t, frame in enumerate(frames):
                cv2.resize(frame, size, dst=resized[t], interpolation=cv2.INTER_LINEAR)
            frames = resized
        views = []
        for crop_index in crop_indices:
            x, y = self.offset(height, width, crop_index)
            crop = np.ascontiguousarray(frames[:, y : y + self.crop_size, x : x + self.crop_size])
            views.append(torch.from_numpy(to_planes(crop)))
        return views


def _box(x0, y0, x1, y1, width, height) -> tuple[int, int, int, int]:
    """Integer source region, at least one pixel, inside the frame."""
    left = min(max(round(x0), 0), width - 1)
    top = min(max(round(y0), 0), height - 1)
    right = max(min(round(x1), width), left + 1)
    bottom = max(min(round(y1), height), top + 1)
    return left, top, right, bottom


def crop_resize(frames: np.ndarray, box, size: int, colour=None) -> np.ndarray:
    """Each frame's `box` region resized to size x size (bilinear), with an optional colour
    transform applied to the region first. Returns T x size x size x 3 uint8."""
    x0, y0, x1, y1 = box
    out = np.empty((frames.shape[0], size, size, 3), np.uint8)
    for t in range(frames.shape[0]):
        region = frames[t, y0:y1, x0:x1]
        if colour is not None:
            region = colour(region)
        cv2.resize(region, (size, size), dst=out[t], interpolation=cv2.INTER_LINEAR)
    return out


def shift_hls(rgb: np.ndarray, shift: tuple[int, int, int]) -> np.ndarray:
    """Add `shift` to hue, lightness and saturation with clipping (hue to [0, 180], like the
    reference), in uint8 throughout."""
    hls = cv2.cvtColor(rgb, cv2.COLOR_RGB2HLS)
    cv2.add(hls, (*shift, 0), dst=hls)  # saturates at 0 and 255
    if shift[0] > 0:
        cv2.min(hls, (HUE_MAX, 255, 255, 0), dst=hls)
    return cv2.cvtColor(hls, cv2.COLOR_HLS2RGB)


def to_planes(clip: np.ndarray) -> np.ndarray:
    """T x H x W x 3 -> 3 x T x H x W (the model's layout), one channel split for the whole clip."""
    t, h, w, _ = clip.shape
    planes = np.empty((3, t, h, w), np.uint8)
    cv2.split(clip.reshape(t * h, w, 3), [planes[c].reshape(t * h, w) for c in range(3)])
    return planes


def add_pixel_jitter(
    planes: np.ndarray, jitter_range: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """planes + per-pixel noise uniform in [low, high], rounded to integers, as int16 (no clipping,
    as in the reference). The noise comes from raw random bytes through a 256-entry table, which
    is several times faster than drawing bounded integers one by one."""
    low, high = jitter_range
    table = np.round(low + (high - low) * (np.arange(256) + 0.5) / 256).astype(np.int16)
    count = planes.size
    noise_bytes = rng.bit_generator.random_raw(math.ceil(count / 8)).view(np.uint8)[:count]
    noise = cv2.LUT(noise_bytes.reshape(-1, planes.shape[-1]), table).reshape(planes.shape)
    return np.add(planes, noise, out=noise)


def normalize_clips(clips: torch.Tensor, device: torch.device, channels_last: bool = False) -> torch.Tensor:
    """Integer clips N x 3 x T x H x W (any device) -> normalised float32 on `device`, laid out
    channels-last (NDHWC) when the model is (glore.train --channels_last)."""
    clips = clips.to(device, non_blocking=device.type == "cuda")  # the loader pins batches on CUDA only
    mean = torch.tensor(MEAN, dtype=torch.float32, device=device).view(1, 3, 1, 1, 1)
    clips = torch.sub(clips, mean).div_(STD)  # the uint8/int16 -> float32 promotion inside the subtraction
    return clips.contiguous(memory_format=torch.channels_last_3d) if channels_last else clips
