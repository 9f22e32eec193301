"""The bookkeeping around each training step, the same for both models: how
long the step waited for its batch, how long it took, and where each step's
figures go (the throughput meter, loss.txt, TensorBoard, the progress line).

    steps = StepRecorder(rt, meter, total=..., print_freq=..., desc="epoch 1/20",
                       samples=batch_size * world_size, rate_name="ex_per_s")
    for batch in steps.timed(loader):
        ...  # the step itself
        steps.done(step, step_in_epoch, loss_value, lr)
        if on_step():  # validation, checkpoints, stop requests
            break
    steps.close()

A step's time runs from the end of the previous step to ``done``; the work
between ``done`` and the next batch (validation, a checkpoint) belongs to
neither the step nor the data wait, so it does not distort either figure.
"""

import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from common.atomic import write_text_atomically
from common.logs import ProgressLogger, ThroughputMeter


class StepRecorder:
    def __init__(
        self,
        rt,
        meter: ThroughputMeter,
        *,
        total: int,
        print_freq: int,
        desc: str,
        samples: int,
        rate_name: str,
        lr_name: str = "lr",
    ):
        """``samples``: examples per step over all ranks; ``rate_name`` names
        their rate on the progress line; ``lr_name`` the TensorBoard tag
        (``train/<lr_name>``)."""
        self.rt = rt
        self.meter = meter
        self.samples = samples
        self.rate_name = rate_name
        self.lr_tag = f"train/{lr_name}"
        self.progress = ProgressLogger(
            rt.log, total=total, print_freq=print_freq, desc=desc, enabled=rt.is_main
        )
        self._step_end = time.perf_counter()
        self._data_seconds = 0.0

    def timed(self, batches: Iterable) -> Iterator:
        """The batches of ``batches``, each one's wait measured."""
        iterator = iter(batches)
        while True:
            self._step_end = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            self._data_seconds = time.perf_counter() - self._step_end
            yield batch

    def done(self, step: int, step_in_epoch: int, loss: float, lr: float) -> None:
        """Report the step that just ended (the device synchronised, so the
        clock tells its real duration)."""
        step_seconds = time.perf_counter() - self._step_end
        self.meter.update(self.samples, step_seconds, self._data_seconds)
        self.rt.losses.append(step, loss)
        self.rt.tensorboard.add_scalar("train/loss", loss, step)
        self.rt.tensorboard.add_scalar(self.lr_tag, lr, step)
        self.progress.update(
            step_in_epoch,
            loss=loss,
            lr=lr,
            **{self.rate_name: self.samples / step_seconds},
            data_wait=self._data_seconds / step_seconds,
        )

    def close(self) -> None:
        self.progress.close()


class LossFile:
    """``loss.txt``: one ``step loss`` line per training step, written by rank 0 only."""

    def __init__(self, path: Path, enabled: bool):
        self.path = path
        self.enabled = enabled

    def append(self, step: int, value: float) -> None:
        if self.enabled:
            with open(self.path, "a") as handle:
                handle.write(f"{step} {value:.6f}\n")

    def drop_after(self, step: int) -> None:
        """Forget the steps after ``step``: a run killed between checkpoints recorded losses of
        steps it redoes after resuming, and loss.txt keeps each step once."""
        if not self.enabled or not self.path.is_file():
            return
        lines = self.path.read_text().splitlines(keepends=True)
        kept = [
            line
            for line in lines
            if not line.split() or not line.split()[0].isdigit() or int(line.split()[0]) <= step
        ]
        if len(kept) != len(lines):
            write_text_atomically(self.path, "".join(kept))
