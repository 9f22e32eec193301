"""Clip augmentation: one draw per clip applied identically to every frame, the reference's
HLS and jitter semantics, determinism from the seed, evaluation crops, normalisation."""

import cv2
import numpy as np
import pytest
import torch

from glore.data.transforms import MEAN, STD, EvalTransform, TrainTransform, normalize_clips, shift_hls


def textured_frame(seed=0, height=240, width=320):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def test_every_frame_of_a_clip_gets_the_same_augmentation():
    frames = np.repeat(textured_frame()[None], 8, axis=0)
    transform = TrainTransform(jitter=0.0)
    for seed in range(10):
        clip = transform(frames, np.random.default_rng(seed))
        assert clip.shape == (3, 8, 224, 224) and clip.dtype == torch.uint8
        assert all(torch.equal(clip[:, 0], clip[:, t]) for t in range(1, 8)), seed


def test_flip_mirrors_the_same_draw():
    frames = np.stack([textured_frame(t) for t in range(4)])
    plain = TrainTransform(flip_prob=0.0, jitter=0.0)(frames, np.random.default_rng(5))
    flipped = TrainTransform(flip_prob=1.0, jitter=0.0)(frames, np.random.default_rng(5))
    assert torch.equal(flipped, plain.flip(-1))


def test_same_seed_same_clip_other_seed_other_clip():
    frames = np.stack([textured_frame(t) for t in range(8)])
    transform = TrainTransform()
    a = transform(frames, np.random.default_rng(11))
    b = transform(frames, np.random.default_rng(11))
    c = transform(frames, np.random.default_rng(12))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_pixel_jitter_is_bounded_integer_noise_without_clipping():
    frames = np.full((8, 240, 320, 3), 250, np.uint8)
    transform = TrainTransform(hls_max=(0, 0, 0))
    for seed in range(5):
        rng = np.random.default_rng(seed)
        draw = transform.draw(240, 320, np.random.default_rng(seed))
        clip = transform(frames, rng)
        assert clip.dtype == torch.int16
        noise = clip.int() - 250
        low, high = draw.jitter_range
        assert noise.min() >= np.floor(low) and noise.max() <= np.ceil(high)
        assert abs(noise.float().mean().item() - (low + high) / 2) < 0.2
        assert clip.max() > 255 or high < 5  # the reference does not clip: 250 + noise may exceed 255


def test_hls_shift_matches_the_reference_semantics():
    rgb = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    for shift in [(10, -20, 5), (-15, 35, -25)]:
        hls = cv2.cvtColor(rgb, cv2.COLOR_RGB2HLS).astype(np.float64) + shift
        expected = cv2.cvtColor(np.clip(hls, 0, [180, 255, 255]).astype(np.uint8), cv2.COLOR_HLS2RGB)
        assert np.array_equal(shift_hls(rgb, shift), expected)


def test_draw_ranges():
    transform = TrainTransform()
    for seed in range(200):
        draw = transform.draw(240, 320, np.random.default_rng(seed))
        x0, y0, x1, y1 = draw.box
        # 224 pixels of a short side in [224, 340], with the aspect ratio changed by up to 1.25:
        # the source region's sides are within those bounds (up to rounding).
        assert 224 / 340 * 240 / 1.25**2 - 2 <= min(x1 - x0, y1 - y0) <= 240
        assert 0.8**2 - 0.02 <= (x1 - x0) / (y1 - y0) <= 1.25**2 + 0.02
        assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 240
        assert all(abs(s) <= m for s, m in zip(draw.hls_shift, (15, 35, 25)))
        assert -20 <= draw.jitter_range[0] <= 0 <= draw.jitter_range[1] <= 20


def reference_eval_view(frames, resize=256, size=224):
    """GloRe's `Resize(resize)` then `CenterCrop(size)` (data/image_transforms.py), on its clip
    layout H x W x (T * 3); returned as 3 x T x S x S."""
    t, h, w, c = frames.shape
    data = frames.transpose(1, 2, 0, 3).reshape(h, w, t * c)
    if min(w, h) != resize:
        new_w, new_h = (resize, int(resize * h / w)) if w < h else (int(resize * w / h), resize)
        data = cv2.resize(data, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    height, width = data.shape[:2]
    x1, y1 = round((width - size) / 2.0), round((height - size) / 2.0)  # Python 3 rounds half to even
    return data[y1 : y1 + size, x1 : x1 + size].reshape(size, size, t, c).transpose(3, 2, 0, 1)


def sharp_clip(height, width, rng):
    """Hard edges: 0/255 blocks of 3 x 3 pixels, the case where a sub-pixel offset shows most."""
    blocks = rng.integers(0, 2, (8, height // 3 + 1, width // 3 + 1, 3), dtype=np.uint8) * 255
    return np.ascontiguousarray(blocks.repeat(3, axis=1).repeat(3, axis=2)[:, :height, :width])


@pytest.mark.parametrize(
    "height, width, resize, size",
    [
        (240, 320, 256, 224),
        (360, 480, 256, 224),
        (320, 240, 256, 224),
        (226, 401, 256, 224),
        (256, 341, 256, 224),
        (288, 288, 256, 224),
        (36, 48, 36, 32),
        (40, 53, 36, 32),
    ],
)
def test_eval_view_is_the_references_resize_then_centre_crop(height, width, resize, size):
    clip = sharp_clip(height, width, np.random.default_rng(height + width))
    view = EvalTransform(size, resize)(clip)
    assert view.shape == (3, 8, size, size) and view.dtype == torch.uint8
    np.testing.assert_array_equal(view.numpy(), reference_eval_view(clip, resize, size))


def test_eval_three_crops_along_the_long_side():
    clip = sharp_clip(240, 320, np.random.default_rng(0))
    three = EvalTransform(224, 256, num_crops=3)
    assert three.resized_size(240, 320) == (341, 256)
    assert [three.offset(240, 320, i) for i in range(3)] == [(0, 16), (58, 16), (117, 16)]
    assert [EvalTransform(224, 256, 3).offset(320, 240, i) for i in range(3)] == [
        (16, 0),
        (16, 58),
        (16, 117),
    ]
    views = three.views(clip, range(3))
    np.testing.assert_array_equal(views[1].numpy(), reference_eval_view(clip))  # the middle one is the centre
    assert torch.equal(views[2], three(clip, 2))


def test_normalize_clips():
    clips = torch.tensor(MEAN).round().to(torch.uint8).view(1, 3, 1, 1, 1).repeat(2, 1, 8, 4, 4)
    out = normalize_clips(clips, torch.device("cpu"))
    assert out.dtype == torch.float32 and out.abs().max() < 0.5 / STD + 1e-6
    assert normalize_clips(torch.full((1, 3, 1, 1, 1), 255, dtype=torch.int16), torch.device("cpu"))[
        0, 0
    ].item() == pytest.approx((255 - MEAN[0]) / STD)
