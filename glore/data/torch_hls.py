"""RGB <-> HLS in torch with OpenCV's 8-bit conventions, for the augmentation done on the device.

`cv2.cvtColor(..., COLOR_RGB2HLS)` on uint8 gives H in [0, 180] (degrees / 2), L and S in
[0, 255], each rounded to the nearest integer; `COLOR_HLS2RGB` reads them back the same way.
These functions follow OpenCV's float formulas step by step (in float32, as OpenCV does) and
round like its saturate_cast (half to even), so an 8-bit HLS shift computed here matches
`glore.data.transforms.shift_hls` up to float rounding on a few pixels
(tests/glore/data/test_device_augment.py
measures it against cv2 on every 8-bit colour).

Inputs and outputs are float tensors holding integers with the three channels on the first axis,
so that each channel is a contiguous plane (the many elementwise steps stay fast on any device).
"""

import torch

HUE_RANGE = 180.0  # OpenCV's 8-bit hue: degrees / 2
FLT_EPSILON = 1.1920929e-07


def rgb_to_hls(rgb: torch.Tensor) -> torch.Tensor:
    """8-bit R, G, B (floats holding integers 0..255, channels on the first axis) -> H in [0, 180],
    L, S in [0, 255] in the same layout, rounded."""
    r, g, b = (rgb * (1.0 / 255.0)).unbind(0)
    vmax = torch.maximum(torch.maximum(r, g), b)
    vmin = torch.minimum(torch.minimum(r, g), b)
    diff = vmax - vmin
    total = vmax + vmin
    hls = torch.empty(rgb.shape, dtype=rgb.dtype, device=rgb.device)
    hue, lightness, saturation = hls.unbind(0)
    torch.mul(total, 0.5, out=lightness)
    # With integer inputs diff is 0 (grey: OpenCV sets H = S = 0) or at least 1/255, so a floor
    # at FLT_EPSILON on the divisors keeps grey pixels at 0 / eps = 0 and changes nothing else.
    denominator = torch.where(total < 1.0, total, 2.0 - total).clamp_(min=FLT_EPSILON)  # L < 0.5
    torch.div(diff, denominator, out=saturation)
    # A true division (`60.0 / tensor` would multiply by a rounded reciprocal), then one fused
    # multiply-add as OpenCV's SIMD code does: both decide which way the many exact .5 hues round.
    per_degree = diff.new_tensor(60.0) / diff.clamp(min=FLT_EPSILON)
    red_max, green_max = vmax == r, vmax == g
    part = torch.where(red_max, g - b, torch.where(green_max, b - r, r - g))
    offset = torch.where(red_max, 0.0, torch.where(green_max, 120.0, 240.0))
    degrees = torch.addcmul(offset, part, per_degree)  # grey: part 0, offset 0 (red is a maximum)
    degrees = torch.where(degrees < 0.0, degrees + 360.0, degrees)
    torch.mul(degrees, HUE_RANGE / 360.0, out=hue)
    hls[1:].mul_(255.0)
    # Every value is in range by construction: rounding is OpenCV's whole saturate_cast here.
    return hls.round_()


# OpenCV's sector table: in hue sectors 0..5, which of (p2, p1, falling, rising) R, G, B take.
_SECTOR_CHOICE = ((0, 3, 1), (2, 0, 1), (1, 0, 3), (1, 2, 0), (3, 1, 0), (0, 1, 2))


def hls_to_rgb(hls: torch.Tensor) -> torch.Tensor:
    """8-bit H in [0, 180] (180 is 0 again), L, S (channels on the first axis) -> R, G, B in
    [0, 255] in the same layout, rounded."""
    hue, lightness, saturation = hls.unbind(0)
    light, sat = lightness * (1.0 / 255.0), saturation * (1.0 / 255.0)
    p2 = torch.where(light <= 0.5, light * (1.0 + sat), light + sat - light * sat)
    p1 = 2.0 * light - p2
    h = hue * (6.0 / HUE_RANGE)
    h = torch.where(h >= 6.0, h - 6.0, h)  # 180 is 0 again; a uint8 hue needs one turn at most
    sector = torch.floor(h)
    fraction = h - sector
    spread = p2 - p1
    # Grey pixels (S = 0, where OpenCV takes R = G = B = L) need no case of their own: there
    # p2 = p1 = L exactly, so every choice is L.
    choices = torch.stack((p2, p1, p1 + spread * (1.0 - fraction), p1 + spread * fraction))
    table = torch.tensor(_SECTOR_CHOICE, device=hls.device).T  # 3 x 6
    rgb = torch.gather(choices, 0, table[:, sector.long()])
    # p1 <= every choice <= p2 <= 1, so rounding is OpenCV's whole saturate_cast.
    return rgb.mul_(255.0).round_()


# The largest 8-bit H, L, S (cv2.add saturates at 255; the reference clips hue at 180).
_HLS_MAX = (HUE_RANGE, 255.0, 255.0)


def shift_hls(rgb: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """The loader's RandomHLS on the device: 8-bit RGB (channels on the first axis) -> HLS, plus
    `shift` (H, L, S on the first axis, broadcastable), clipped to [0, (180, 255, 255)], -> RGB
    (glore.data.transforms.shift_hls). Hue comes out of the conversion at most 180, so the clip at
    180 acts only on upward shifts, as in the loader."""
    hls = rgb_to_hls(rgb).add_(shift).clamp_(min=0.0)
    upper = torch.tensor(_HLS_MAX, device=hls.device).view(3, *[1] * (hls.dim() - 1))
    return hls_to_rgb(torch.minimum(hls, upper, out=hls))
