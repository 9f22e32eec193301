"""Which videos each rank reads, batch by batch.

Training: a fresh permutation of the whole list each epoch (a pure function of seed and epoch),
dealt to the ranks in turn and cut to whole batches. Each yielded key is (epoch, index), so the
dataset draws a sample's randomness from (seed, epoch, index) alone: the batches are the same
with 0 or N loader workers, and a resumed run starts at (epoch, step) without replaying the
batches before it. One iteration runs through all remaining epochs, so the loader workers keep
preparing the next epoch's first batches while the training process validates.
Evaluation: every video exactly once over all ranks (rank r takes r, r + W, r + 2W, ...), no
padding, so gathered results never count a video twice.
"""

import numpy as np

from common.seeding import derive_seed


class TrainBatchSampler:
    def __init__(
        self, num_videos: int, batch_size: int, seed: int, epochs: int, rank: int = 0, world_size: int = 1
    ):
        per_rank = num_videos // world_size
        if per_rank < batch_size:
            raise ValueError(
                f"{num_videos} training videos cannot fill one batch of {batch_size} on each of "
                f"{world_size} rank(s); lower --batch_size"
            )
        self.num_videos = num_videos
        self.batch_size = batch_size
        self.seed = seed
        self.epochs = epochs
        self.rank = rank
        self.world_size = world_size
        self.per_rank = per_rank
        self.start = (0, 0)

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch (the same on every rank)."""
        return self.per_rank // self.batch_size

    def start_at(self, epoch: int, step: int = 0) -> None:
        """Where the next iteration begins: batch `step` of `epoch` (a resumed run's position)."""
        self.start = (epoch, step)

    def epoch_batches(self, epoch: int) -> list[list[tuple[int, int]]]:
        """This rank's batches of `epoch`, as (epoch, index) keys."""
        order = np.random.default_rng(derive_seed(self.seed, epoch)).permutation(self.num_videos)
        mine = order[self.rank :: self.world_size][: self.per_rank]
        return [
            [(epoch, int(index)) for index in mine[step * self.batch_size : (step + 1) * self.batch_size]]
            for step in range(self.steps_per_epoch)
        ]

    def __len__(self) -> int:
        epoch, step = self.start
        return max(0, (self.epochs - epoch) * self.steps_per_epoch - step)

    def __iter__(self):
        first_epoch, first_step = self.start
        for epoch in range(first_epoch, self.epochs):
            yield from self.epoch_batches(epoch)[first_step if epoch == first_epoch else 0 :]
