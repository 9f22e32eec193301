"""RGB <-> HLS in torch with OpenCV's 8-bit conventions, for the augmentation done on the device.

`cv2.cvtColor(..., COLOR_RGB2HLS)` on uint8 gives H in [0, 180] (degrees / 2), L and S in
[0, 255], each rounded to the nearest integer; `COLOR_HLS2RGB` reads them back the same way.
These functions follow OpenCV's float formulas step by step (in float32, as OpenCV does) and
round like its saturate_cast (half to even), so an 8-bit HLS shift computed here matches
`glore.data.transforms.shift_hls` up to float rounding on a few pixels (tests/test_glore_device_augment.py
measures it against cv2 on every 8-bit colour).

Inputs and outputs are float tensors holding integers, one tensor per channel (planes are
contiguous, which keeps the many elementwise steps fast on any device).
"""

import torch

HUE_RANGE = 180.0  # OpenCV's 8-bit hue: degrees / 2
FLT_EPSILON = 1.1920929e-07


def rgb_to_hls(red: torch.Tensor, green: torch.Tensor, blue: torch.Tensor):
    """8-bit R, G, B (floats holding integers 0..255) -> H in [0, 180], L, S in [0, 255], rounded."""
    scale = 1.0 / 255.0
    r, g, b = red * scale, green * scale, blue * scale
    vmax = torch.maximum(torch.maximum(r, g), b)
    vmin = torch.minimum(torch.minimum(r, g), b)
    diff = vmax - vmin
    total = vmax + vmin
    lightness = total * 0.5
    # With integer inputs diff is 0 (grey: OpenCV sets H = S = 0) or at least 1/255, so a floor
    # at FLT_EPSILON on the divisors keeps grey pixels at 0 / eps = 0 and changes nothing else.
    denominator = torch.where(lightness < 0.5, total, 2.0 - total).clamp_(min=FLT_EPSILON)
    saturation = diff / denominator
    # A true division (`60.0 / tensor` would multiply by a rounded reciprocal), then one fused
    # multiply-add as OpenCV's SIMD code does: both decide which way the many exact .5 hues round.
    per_degree = diff.new_tensor(60.0) / diff.clamp(min=FLT_EPSILON)
    red_max, green_max = vmax == r, vmax == g
    part = torch.where(red_max, g - b, torch.where(green_max, b - r, r - g))
    offset = torch.where(red_max, 0.0, torch.where(green_max, 120.0, 240.0))
    hue = torch.addcmul(offset, part, per_degree)  # grey: part 0, offset 0 (red is a maximum)
    hue = torch.where(hue < 0.0, hue + 360.0, hue)
    # Every value is in range by construction: rounding is OpenCV's whole saturate_cast here.
    hue.mul_(HUE_RANGE / 360.0)
    return hue.round_(), lightness.mul_(255.0).round_(), saturation.mul_(255.0).round_()


# Per output channel, how many sectors its pattern is rotated from red's (OpenCV's sector table).
_SECTOR_OFFSET = {"red": 0.0, "green": 4.0, "blue": 2.0}


def hls_to_rgb(hue: torch.Tensor, lightness: torch.Tensor, saturation: torch.Tensor):
    """8-bit H in [0, 180] (180 is 0 again), L, S -> R, G, B in [0, 255], rounded."""
    scale = 1.0 / 255.0
    light, sat = lightness * scale, saturation * scale
    p2 = torch.where(light <= 0.5, light * (1.0 + sat), light + sat - light * sat)
    p1 = 2.0 * light - p2
    h = hue * (6.0 / HUE_RANGE)
    h = torch.where(h >= 6.0, h - 6.0, h)  # 180 is 0 again; a uint8 hue needs one turn at most
    sector = torch.floor(h)
    fraction = h - sector
    spread = p2 - p1
    falling = p1 + spread * (1.0 - fraction)
    rising = p1 + spread * fraction
    grey = sat == 0.0
    channels = []
    for offset in _SECTOR_OFFSET.values():
        # Red's pattern over the sectors 0..5: p2, falling, p1, p1, rising, p2.
        rotated = sector + offset
        rotated = torch.where(rotated >= 6.0, rotated - 6.0, rotated)
        value = torch.where((rotated == 0.0) | (rotated == 5.0), p2, p1)
        value = torch.where(rotated == 1.0, falling, value)
        value = torch.where(rotated == 4.0, rising, value)
        # p1 <= value <= p2 <= 1 here, so rounding is OpenCV's whole saturate_cast.
        channels.append(torch.where(grey, light, value).mul_(255.0).round_())
    return tuple(channels)


def shift_hls(red: torch.Tensor, green: torch.Tensor, blue: torch.Tensor, shift: torch.Tensor):
    """The loader's RandomHLS on the device: add `shift` (H, L, S on the last axis, broadcastable to
    the planes once that axis is split off) to the 8-bit HLS values, saturating at 0 and 255 like
    cv2.add, with hue clipped at 180 (glore.data.transforms.shift_hls)."""
    hue, lightness, saturation = rgb_to_hls(red, green, blue)
    hue_shift, lightness_shift, saturation_shift = shift.unbind(-1)
    # Hue comes out at most 180, so clipping there acts only on upward shifts, as in the loader.
    hue = (hue + hue_shift).clamp_(0.0, HUE_RANGE)
    lightness = (lightness + lightness_shift).clamp_(0.0, 255.0)
    saturation = (saturation + saturation_shift).clamp_(0.0, 255.0)
    return hls_to_rgb(hue, lightness, saturation)
