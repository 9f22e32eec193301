"""Logging for runs that end up in log files: rank-0 console output, a
progress bar only on a terminal, TensorBoard scalars, a throughput meter."""

import sys
import time

from loguru import logger

LOG_FORMAT = "{time:YYYY-MM-DD HH:mm:ss} | {level: <7} | {message}"


def setup_logging(is_main: bool, rank: int, log_file: str | None = None):
    """Rank 0 logs INFO and up; the other ranks only their warnings and
    errors, tagged with their rank so a failing rank is identifiable."""
    logger.remove()
    if is_main:
        logger.add(sys.stdout, level="INFO", format=LOG_FORMAT, colorize=False)
        if log_file:
            logger.add(log_file, level="INFO", format=LOG_FORMAT, colorize=False)
        return logger
    tagged = logger.bind(rank=rank)
    logger.add(
        sys.stderr,
        level="WARNING",
        colorize=False,
        format="{time:YYYY-MM-DD HH:mm:ss} | {level: <7} | rank {extra[rank]} | {message}",
    )
    return tagged


class ThroughputMeter:
    """Samples per second and the share of time spent waiting for data,
    leaving out the first ``warmup_steps`` (allocator, autotuning, worker
    start-up) so the figure describes the steady state."""

    def __init__(self, warmup_steps: int = 5):
        self.warmup_steps = warmup_steps
        self._records: list[tuple[int, float, float]] = []

    def update(self, samples: int, step_seconds: float, data_seconds: float) -> None:
        self._records.append((samples, step_seconds, data_seconds))

    @property
    def steps(self) -> int:
        return len(self._records)

    def _steady(self) -> list[tuple[int, float, float]]:
        if len(self._records) > self.warmup_steps:
            return self._records[self.warmup_steps :]
        # A run too short for a warm-up still gets a figure: drop only the first step.
        return self._records[1:] or self._records

    @property
    def samples_per_sec(self) -> float:
        steady = self._steady()
        seconds = sum(r[1] for r in steady)
        return sum(r[0] for r in steady) / seconds if seconds > 0 else 0.0

    @property
    def data_wait_fraction(self) -> float:
        steady = self._steady()
        seconds = sum(r[1] for r in steady)
        return sum(r[2] for r in steady) / seconds if seconds > 0 else 0.0


class ProgressLogger:
    """A tqdm bar when a person watches a terminal; otherwise (log files,
    ``tee``, CI) one plain line every ``print_freq`` steps."""

    def __init__(self, log, total: int, print_freq: int, desc: str, enabled: bool = True):
        self.log = log
        self.total = total
        self.print_freq = max(1, print_freq)
        self.desc = desc
        self.enabled = enabled
        self._bar = None
        self._start = time.perf_counter()
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, dynamic_ncols=True, leave=False)

    def update(self, step: int, **scalars: float) -> None:
        """``step`` counts from 1 within this progress range."""
        if not self.enabled:
            return
        text = "  ".join(f"{name} {_format(value)}" for name, value in scalars.items())
        if self._bar is not None:
            self._bar.update(step - self._bar.n)
            self._bar.set_postfix_str(text)
            return
        if step % self.print_freq == 0 or step == self.total:
            elapsed = time.perf_counter() - self._start
            self.log.info(f"{self.desc} [{step}/{self.total}] {text}  elapsed {elapsed:.0f}s")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class TensorBoard:
    """SummaryWriter on rank 0 when enabled; a silent stand-in otherwise.
    tensorboard is imported only when used, keeping start-up light."""

    def __init__(self, log_dir: str | None):
        self._writer = None
        if log_dir:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=log_dir)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        if self._writer is not None:
            self._writer.add_scalar(tag, value, step)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
