"""The data loader both models use: a sampler of the run's steps that resumes by index, one
worker set-up, one factory.

A batch is a pure function of its key ((epoch, step), or the keys of its samples), so the
batches are the same with 0 or N workers on any number of processes, and a resumed run starts
at (epoch, step) without replaying the batches before it. The sampler runs through all the
remaining epochs in one iteration, so the workers prepare the next epoch's first batches while
the training process validates.
"""

import cv2
import torch

from common.allocator import M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, set_malloc_options
from common.seeding import seed_worker


class RunSteps(torch.utils.data.Sampler):
    """The run's steps from ``start_at(epoch, step)`` to the end of epoch ``epochs - 1``; each
    step yields ``batch_at(epoch, step)``: by default the key ``(epoch, step)`` itself (a data
    set whose item is a whole batch), or the list of the batch's sample keys."""

    def __init__(self, steps_per_epoch: int, epochs: int, batch_at=None):
        self.steps_per_epoch = steps_per_epoch
        self.epochs = epochs
        self.batch_at = batch_at or (lambda epoch, step: (epoch, step))
        self.start = (0, 0)

    def start_at(self, epoch: int, step: int = 0) -> None:
        """Where the next iteration begins (a resumed run's position)."""
        self.start = (epoch, step)

    def first_steps(self, epoch: int, count: int) -> list:
        """The first ``count`` batches of ``epoch`` (a second look at them, e.g. for precise BN)."""
        return [self.batch_at(epoch, step) for step in range(min(count, self.steps_per_epoch))]

    def __len__(self) -> int:
        epoch, step = self.start
        return max(0, (self.epochs - epoch) * self.steps_per_epoch - step)

    def __iter__(self):
        first_epoch, first_step = self.start
        for epoch in range(first_epoch, self.epochs):
            for step in range(first_step if epoch == first_epoch else 0, self.steps_per_epoch):
                yield self.batch_at(epoch, step)


def init_loader_worker(worker_id: int) -> None:
    """Per loader worker: distinct global random streams (unused by our pipelines, but
    third-party code may draw), one thread (the workers are the parallelism), and an allocator
    that keeps freed buffers.

    By default glibc maps each batch's few MB of frame and pixel buffers fresh and unmaps them
    on free, so every clip paid ~1,500 page faults (about a third of its loading time, measured
    on GloRe's clips). Keeping them mapped lets the next batch reuse the same pages. Milder than
    a CPU training process's setting (common.allocator): buffers over 32 MiB (glibc's maximum)
    are still mapped and unmapped, and the heap is trimmed beyond 256 MiB free. No-op off glibc.
    """
    seed_worker(worker_id)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    set_malloc_options({M_MMAP_THRESHOLD: 32 << 20, M_TRIM_THRESHOLD: 256 << 20})


def make_loader(
    dataset,
    batches,
    *,
    workers: int,
    device: torch.device,
    collate_fn=None,
    prefetch_factor: int = 4,
    seed: int = 0,
) -> torch.utils.data.DataLoader:
    """A loader over ``batches``: keys of whole-batch items when ``collate_fn`` is None,
    else lists of sample keys whose items ``collate_fn`` assembles.

    It has a generator of its own: the default one would draw the workers' base seed from the
    global torch RNG at every new iterator, shifting dropout masks between a resumed run and an
    uninterrupted one. And OpenCV is made single-threaded in this process too: its thread pool
    does not survive fork(), and a worker forked after the parent ran threaded cv2 calls can hang
    in its first one (it did in 2 of 3 test runs)."""
    cv2.setNumThreads(1)
    if collate_fn is None:
        how = {"batch_size": None, "sampler": batches}
    else:
        how = {"batch_sampler": batches, "collate_fn": collate_fn}
    return torch.utils.data.DataLoader(
        dataset,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        worker_init_fn=init_loader_worker,
        prefetch_factor=prefetch_factor if workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),
        **how,
    )
