"""glore/data/dataset.py: the training order (a permutation per epoch, split across ranks, resumable
by index through common.loader.RunSteps)."""

import pytest

from common.loader import RunSteps
from glore.data.dataset import TrainOrder


def test_batch_sampler_splits_each_epoch_across_ranks_and_resumes_by_index():
    orders = [TrainOrder(103, 4, seed=7, rank=r, world_size=3) for r in range(3)]
    steps = orders[0].steps_per_epoch
    assert steps == 103 // 3 // 4
    epoch2 = [[order(2, step) for step in range(steps)] for order in orders]
    keys = [key for rank in epoch2 for batch in rank for key in batch]
    assert all(epoch == 2 for epoch, _ in keys)
    indices = [index for _, index in keys]
    assert len(set(indices)) == len(indices)  # no video twice within an epoch
    assert [orders[1](3, step) for step in range(steps)] != epoch2[1]

    # One iteration runs through the remaining epochs; a resumed one starts at (epoch, step).
    sampler = RunSteps(steps, epochs=4, batch_at=orders[1])
    whole = list(sampler)
    assert len(whole) == len(sampler) == 4 * steps and whole[2 * steps : 3 * steps] == epoch2[1]
    sampler.start_at(2, 3)
    assert list(sampler) == whole[2 * steps + 3 :] and len(sampler) == 2 * steps - 3


def test_batch_sampler_too_few_videos():
    with pytest.raises(ValueError, match="lower --batch_size"):
        TrainOrder(10, 4, seed=0, world_size=3)


@pytest.mark.parametrize("kind", ["video", "rawframes"])
def test_views_of_large_frames_are_read_a_clip_at_a_time_with_the_same_result(tmp_path, monkeypatch, kind):
    """A video whose views would hold more than READ_BUDGET bytes of decoded frames (a 4K video:
    88 frames of 25 MB for 10 clips) is read one clip at a time: the peak memory is a clip's,
    and the views are those of one read."""
    import tracemalloc

    import numpy as np
    import torch

    from glore.data import dataset
    from glore.data.clips import ClipInput
    from glore.data.lists import VideoRecord
    from tests.helpers.glore_fixtures import random_frames, write_rawframes, write_video

    frames = random_frames(np.random.default_rng(0), 60, height=240, width=320)
    path = tmp_path / "v.avi"
    if kind == "video":
        write_video(path, frames)
    else:
        path = tmp_path / "v"
        write_rawframes(path, frames)
    views = dataset.VideoViews([VideoRecord(str(path), 0)], ClipInput(4, 2, 16, 18), clips=5, crops=3)

    def read_with_peak():
        tracemalloc.start()
        result = views[0][0]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return result, peak

    whole, whole_peak = read_with_peak()
    clip_bytes = 4 * 240 * 320 * 3
    monkeypatch.setattr(dataset, "READ_BUDGET", 2 * clip_bytes)
    bounded, bounded_peak = read_with_peak()
    assert torch.equal(whole, bounded)
    assert whole_peak > 6 * clip_bytes  # 6 clips of 4 frames in one read
    assert bounded_peak < 4 * clip_bytes, (bounded_peak, clip_bytes)
