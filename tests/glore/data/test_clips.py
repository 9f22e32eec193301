"""glore/data/clips.py: clip sampling (training: 8 frames, 8 apart, random start; testing: evenly
spaced clips)."""

import numpy as np
import pytest

from glore.data import clips as sampling  # (its test_clip_indices would be collected as a test if imported)
from glore.data.clips import clip_span, train_clip_indices


def test_train_clip_in_a_long_video():
    starts = set()
    for seed in range(300):
        clip = train_clip_indices(100, np.random.default_rng(seed))
        assert len(clip) == 8 and np.all(np.diff(clip) == 8)
        assert clip[0] >= 0 and clip[-1] <= 99
        starts.add(int(clip[0]))
    assert starts == set(range(0, 100 - 57 + 1))  # every start in [0, F - 57], uniformly reachable


def test_train_clip_when_the_video_is_exactly_one_span():
    assert clip_span(8, 8) == 57
    assert train_clip_indices(57, np.random.default_rng(0)).tolist() == list(range(0, 57, 8))


@pytest.mark.parametrize("num_frames", range(1, 61))
def test_clips_of_any_length_keep_temporal_order(num_frames):
    """Frame ids never decrease, training or testing (1, 3 or 10 clips). Below the 57-frame span
    a clip is 8 consecutive frames (the reference's samplers), below 8 frames each frame in
    turn, every one of them used."""
    clips = [train_clip_indices(num_frames, np.random.default_rng(seed)) for seed in range(30)]
    clips += [clip for count in (1, 3, 10) for clip in sampling.test_clip_indices(num_frames, count)]
    for clip in clips:
        assert len(clip) == 8 and np.all(np.diff(clip) >= 0), clip
        assert clip[0] >= 0 and clip[-1] < num_frames
        if num_frames >= 57:
            assert np.all(np.diff(clip) == 8)
        elif num_frames >= 8:
            assert np.all(np.diff(clip) == 1)
        else:
            assert set(clip.tolist()) == set(range(num_frames))
    if 8 < num_frames < 57:  # the start still varies where frames allow
        assert len({int(clip[0]) for clip in clips[:30]}) > 1


def test_one_test_clip_is_centred():
    clip = sampling.test_clip_indices(101)[0]
    assert clip.tolist() == list(range(22, 22 + 57, 8))  # 22 frames before, 22 after
    assert sampling.test_clip_indices(57)[0].tolist() == list(range(0, 57, 8))


def test_evenly_spaced_test_clips():
    clips = sampling.test_clip_indices(300, num_clips=10)
    starts = clips[:, 0]
    assert clips.shape == (10, 8) and np.all(np.diff(clips, axis=1) == 8)
    assert np.all(np.diff(starts) > 0) and starts[0] >= 0 and clips[-1, -1] <= 299
    gaps = np.diff(starts)
    assert gaps.max() - gaps.min() <= 1
    short = sampling.test_clip_indices(30, num_clips=3)
    assert np.all(short < 30) and len({tuple(c) for c in short}) == 3
