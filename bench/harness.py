"""Timing machinery shared by every figure: repeated runs after a warm-up,
summarised as median / min / max, and the thread settings they ran under."""

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import torch

from common.device import synchronize

CPU = torch.device("cpu")


@dataclass
class Figure:
    """One measured number. ``value`` is the median over ``runs`` timed runs;
    None when the figure could not be measured here (``note`` says why)."""

    name: str
    value: float | None
    unit: str
    minimum: float | None = None
    maximum: float | None = None
    runs: int = 0
    device: str = "cpu"
    threads: int = 1
    note: str = ""
    per_cpu_second: float | None = None  # items per CPU-second of this process (median)


@dataclass(frozen=True)
class Repeats:
    """How much each figure is repeated: ``warmup`` untimed runs, then
    ``runs`` timed ones (the median is reported)."""

    warmup: int
    runs: int


def rate_figure(
    name: str,
    unit: str,
    work: Callable[[], int],
    repeats: Repeats,
    *,
    device: torch.device = CPU,
    threads: int | None = None,
    note: str = "",
    cpu_time: bool = True,
) -> Figure:
    """Call ``work`` (which returns how many items it processed) ``warmup``
    times untimed, then ``runs`` times timed; each run gives items/second.
    On an accelerator the queue is drained before the clock stops.

    With ``cpu_time`` the items per CPU-second of this process are kept too
    (``per_cpu_second``): for one-thread work on a busy machine it is the
    rate the work would reach on a core of its own, which the wall-clock
    rate is not. Work done in other processes (loader workers) is not in it,
    and idle-spinning threads inflate it, so it is left out for those."""
    for _ in range(repeats.warmup):
        work()
    synchronize(device)
    rates, cpu_rates = [], []
    for _ in range(repeats.runs):
        start, cpu_start = time.perf_counter(), time.process_time()
        items = work()
        synchronize(device)
        rates.append(items / (time.perf_counter() - start))
        cpu_rates.append(items / max(time.process_time() - cpu_start, 1e-9))
    return Figure(
        name=name,
        value=statistics.median(rates),
        unit=unit,
        minimum=min(rates),
        maximum=max(rates),
        runs=len(rates),
        device=str(device),
        threads=torch.get_num_threads() if threads is None else threads,
        note=note,
        per_cpu_second=statistics.median(cpu_rates) if cpu_time else None,
    )


def not_measured(name: str, unit: str, note: str, device: str = "cpu") -> Figure:
    return Figure(name=name, value=None, unit=unit, device=device, threads=0, note=note)


@contextmanager
def thread_limit(threads: int) -> Iterator[None]:
    """Run torch's and OpenCV's kernels on ``threads`` threads, restoring the
    previous settings afterwards. Per-core figures use 1."""
    torch_before, cv2_before = torch.get_num_threads(), cv2.getNumThreads()
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(torch_before)
        cv2.setNumThreads(cv2_before)
