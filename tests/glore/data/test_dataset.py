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
