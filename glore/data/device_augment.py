"""The training augmentation applied on the training device, one batch at a time (--pixels_on device).

The loader workers read the frames and draw each clip's randomness exactly as for the loader's
augmentation (`TrainTransform.draw`, same generator, same order), but send the raw frames
N x T x H x W x 3 (uint8) with the draws; `DeviceAugment` then does, for the whole batch at once:
crop + bilinear resize of each clip's box to S x S (OpenCV's INTER_LINEAR sampling positions),
horizontal flip, the 8-bit HLS shift (glore.data.torch_hls), per-pixel integer jitter and the
normalisation, returning float32 N x 3 x T x S x S in the model's layout.

One difference from the loader: the loader shifts HLS on the source region before its resize,
this module after it, on the S x S pixels (cheaper here, and the same result up to interpolation:
under one grey level on average, tests/glore/data/test_device_augment.py). Jitter noise comes from a
torch generator seeded per clip by the loader's draw, so it differs from the loader's noise but
has the same distribution and is a pure function of (seed, epoch, index): runs stay deterministic
and resumable with any number of workers.
"""

import numpy as np
import torch

from glore.data.torch_hls import shift_hls
from glore.data.transforms import MEAN, STD, ClipDraw


def resize_taps(start: int, stop: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each of `size` output pixels samples the source span [start, stop) in cv2.resize's
    INTER_LINEAR: the two source indices and the weight of the second, computed as OpenCV does
    (scale as 1 / (size / extent) in double, positions in float, clamped to the span's ends)."""
    extent = stop - start
    scale = 1.0 / (size / extent)
    position = ((np.arange(size) + 0.5) * scale - 0.5).astype(np.float32)
    low = np.floor(position)
    weight = position - low
    before, after = low < 0, low >= extent - 1
    low[before], weight[before] = 0, 0
    low[after], weight[after] = extent - 1, 0
    high = np.minimum(low + 1, extent - 1)
    return start + low, start + high, weight


def draw_tensors(draws: list[ClipDraw], size: int, device: torch.device):
    """The per-clip draws as device tensors: resize taps (x taps mirrored for flipped clips, which
    flips the output exactly) and the HLS shifts, in two small host-to-device copies."""
    rows = []
    for draw in draws:
        x0, y0, x1, y1 = draw.box
        x_taps = np.stack(resize_taps(x0, x1, size))
        if draw.flip:
            x_taps = x_taps[:, ::-1]
        rows.append(np.concatenate([x_taps, np.stack(resize_taps(y0, y1, size))]))
    # Indices (< 2^24) travel exactly as float32 beside the weights.
    taps = torch.from_numpy(np.stack(rows).astype(np.float32)).to(device)
    x_low, x_high, x_weight, y_low, y_high, y_weight = taps.unbind(1)
    shifts = torch.tensor([draw.hls_shift for draw in draws], dtype=torch.float32).to(device)
    return (x_low.long(), x_high.long(), x_weight), (y_low.long(), y_high.long(), y_weight), shifts


def crop_resize(frames: torch.Tensor, x_taps, y_taps) -> torch.Tensor:
    """uint8 frames N x T x H x W x 3 -> float 3 x N x T x S x S (channels first, for the colour
    steps) holding the rounded 8-bit result of resizing each clip's box, given by its taps:
    columns then rows, as two gathers."""
    n, t, h, _, c = frames.shape
    size = x_taps[0].shape[1]
    planes = frames.permute(4, 0, 1, 2, 3)  # 3 x N x T x H x W, a view

    def gather_columns(index):
        return torch.gather(planes, 4, index.view(1, n, 1, 1, size).expand(c, n, t, h, size)).float()

    x_low, x_high, x_weight = x_taps
    columns = torch.lerp(gather_columns(x_low), gather_columns(x_high), x_weight.view(1, n, 1, 1, size))

    def gather_rows(index):
        return torch.gather(columns, 3, index.view(1, n, 1, size, 1).expand(c, n, t, size, size))

    y_low, y_high, y_weight = y_taps
    resized = torch.lerp(gather_rows(y_low), gather_rows(y_high), y_weight.view(1, n, 1, size, 1))
    return resized.round_().clamp_(0.0, 255.0)


class DeviceAugment:
    """TrainTransform's augmentation, batched on `device`, for the draws the loader made."""

    def __init__(self, crop_size: int, device: torch.device, channels_last: bool = False):
        self.crop_size = crop_size
        self.device = device
        self.memory_format = torch.channels_last_3d if channels_last else torch.contiguous_format
        self.generator = torch.Generator(device=device)
        self.mean = torch.tensor(MEAN, dtype=torch.float32, device=device).view(1, 3, 1, 1, 1)

    def __call__(self, frames: torch.Tensor, draws: list[ClipDraw], noise_seeds: list[int]) -> torch.Tensor:
        """frames: uint8 N x T x H x W x 3 (any device; clips smaller than H x W padded at the
        bottom and right), one draw and one noise seed per clip -> normalised float32
        N x 3 x T x S x S on the device (channels_last_3d when asked)."""
        frames = frames.to(self.device, non_blocking=self.device.type == "cuda")  # pinned on CUDA only
        x_taps, y_taps, shifts = draw_tensors(draws, self.crop_size, self.device)
        rgb = shift_hls(crop_resize(frames, x_taps, y_taps), shifts.T.reshape(3, -1, 1, 1, 1))
        n, t, size = len(draws), frames.shape[1], self.crop_size
        clips = torch.empty((n, 3, t, size, size), device=self.device, memory_format=self.memory_format)
        torch.sub(rgb.transpose(0, 1), self.mean, out=clips)  # writes the model's layout directly
        noise = self.pixel_jitter(draws, noise_seeds, clips.shape)
        if noise is not None:
            clips.add_(noise)
        return clips.div_(STD)

    def pixel_jitter(self, draws: list[ClipDraw], noise_seeds: list[int], shape) -> torch.Tensor | None:
        """Per-pixel noise uniform in each clip's [low, high], rounded to integers (PixelJitter),
        from the generator seeded with that clip's noise seed; None when no clip has any (--jitter 0).
        Made in the planar layout whatever the output's, so a clip's noise does not depend on
        --channels_last."""
        if all(draw.jitter_range == (0.0, 0.0) for draw in draws):
            return None
        noise = torch.zeros(shape, dtype=torch.float32, device=self.device)
        for clip_noise, draw, seed in zip(noise, draws, noise_seeds):
            if draw.jitter_range != (0.0, 0.0):
                self.generator.manual_seed(seed)
                clip_noise.uniform_(*draw.jitter_range, generator=self.generator)
        return noise.round_()
