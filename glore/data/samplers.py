"""Which videos each rank reads, batch by batch.

Training: a fresh permutation of the whole list each epoch (a pure function of seed and epoch),
dealt to the ranks in turn and cut to whole batches. Each yielded key is (epoch, index), so the
dataset draws a sample's randomness from (seed, epoch, index) alone: the batches are the same
with 0 or N loader workers, and a resumed run starts at batch `start_step` without replaying
the ones before it.
Evaluation: every video exactly once over all ranks (rank r takes r, r + W, r + 2W, ...), no
padding, so gathered results never count a video twice.
"""

import numpy as np

from common.seeding import derive_seed


class TrainBatchSampler:
    def __init__(self, num_videos: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        per_rank = num_videos // world_size
        if per_rank < batch_size:
            raise ValueError(
                f"{num_videos} training videos cannot fill one batch of {batch_size} on each of "
                f"{world_size} rank(s); lower --batch_size"
            )
        self.num_videos = num_videos
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.per_rank = per_rank
        self.epoch = 0
        self.start_step = 0

    def set_epoch(self, epoch: int, start_step: int = 0) -> None:
        """Select the epoch's permutation and skip its first `start_step` batches (on resume)."""
        self.epoch = epoch
        self.start_step = start_step

    def __len__(self) -> int:
        """Batches per epoch (the same on every rank)."""
        return self.per_rank // self.batch_size

    def __iter__(self):
        order = np.random.default_rng(derive_seed(self.seed, self.epoch)).permutation(self.num_videos)
        mine = order[self.rank :: self.world_size][: self.per_rank]
        for step in range(self.start_step, len(self)):
            batch = mine[step * self.batch_size : (step + 1) * self.batch_size]
            yield [(self.epoch, int(index)) for index in batch]


class ShardSampler:
    """Indices rank, rank + world_size, ... of `num_videos`; together the ranks cover each once."""

    def __init__(self, num_videos: int, rank: int = 0, world_size: int = 1):
        self.indices = range(rank, num_videos, world_size)

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self):
        return iter(self.indices)
