"""Tracking figures: GOTURN's tracker (crops, network, boxes, lost-target score) in frames/s,
beside its network's plain batch-1 forward, for the full and the demo network, one target and
eight per frame.

The tracker and the forward run interleaved, one timed run of each in turn, so a busy machine
slows both alike and their ratio (the tracker's cost beyond the network) stays readable."""

import statistics
import time

import numpy as np
import torch

from bench.harness import Figure, Repeats, thread_limit
from common.device import synchronize
from common.precision import autocast
from goturn.data.crops import CROP_SIZE, to_network_input
from goturn.model import GoturnNet
from goturn.tracking.tracker import Tracker

FRAME_SIZE = (480, 640)  # height, width: VGA video
FRAMES = 12
TARGET_COUNTS = (1, 8)


def synthetic_frames(seed: int = 0) -> list[np.ndarray]:
    """RGB frames of noise: the tracker's cost does not depend on what they show."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*FRAME_SIZE, 3), dtype=np.uint8) for _ in range(FRAMES)]


def target_boxes(count: int) -> np.ndarray:
    """``count`` boxes of 80 x 60 px spread over the frame ([x, y, w, h])."""
    height, width = FRAME_SIZE
    columns = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / columns))
    return np.array(
        [
            [(k % columns + 0.5) * width / columns - 40, (k // columns + 0.5) * height / rows - 30, 80, 60]
            for k in range(count)
        ],
        dtype=np.float64,
    )


def interleaved_rates(works: dict, repeats: Repeats, device: torch.device) -> dict[str, list[float]]:
    """Items/s of each ``work`` (which returns its item count) over ``repeats.runs`` rounds, one
    timed run of every work per round, after ``repeats.warmup`` untimed rounds."""
    rates = {name: [] for name in works}
    for round_number in range(repeats.warmup + repeats.runs):
        for name, work in works.items():
            synchronize(device)
            start = time.perf_counter()
            items = work()
            synchronize(device)
            if round_number >= repeats.warmup:
                rates[name].append(items / (time.perf_counter() - start))
    return rates


def tracking_figures(
    network: str, device: torch.device, repeats: Repeats, threads: int, frames_per_run: int = 24
) -> list[Figure]:
    """``goturn.track.fps.<network>.<targets>`` for 1 and 8 targets and
    ``goturn.track.forward.<network>``: the network's batch-1 forward, the bound the tracker
    is held to (issue 13: at least 80 % of it)."""
    torch.manual_seed(0)
    model = GoturnNet(network).eval()
    frames = synthetic_frames()
    trackers = {count: Tracker(model, device=device, precision="auto") for count in TARGET_COUNTS}
    for count, tracker in trackers.items():
        tracker.init_targets(frames[0], target_boxes(count))
    precision = trackers[1].precision
    crops = torch.randint(0, 256, (1, CROP_SIZE, CROP_SIZE, 3), dtype=torch.uint8)
    target = search = to_network_input(crops.to(device))

    def forward() -> int:
        with torch.inference_mode(), autocast(device, precision):
            for _ in range(frames_per_run):
                model(target, search).float().cpu()
        return frames_per_run

    def tracking(count: int):
        def work() -> int:
            for index in range(frames_per_run):
                trackers[count].update_targets(frames[1 + index % (FRAMES - 1)])
            return frames_per_run

        return work

    works = {"forward": forward, **{count: tracking(count) for count in TARGET_COUNTS}}
    with thread_limit(threads):
        rates = interleaved_rates(works, repeats, device)
    forward_rate = statistics.median(rates["forward"])
    figures = [
        _figure(f"goturn.track.forward.{network}", rates["forward"], device, threads, f"batch 1, {precision}")
    ]
    for count in TARGET_COUNTS:
        ratio = statistics.median(rates[count]) / forward_rate
        note = f"{count} target{'s' if count > 1 else ''}, {precision}; {ratio:.2f}x the forward's rate"
        figures.append(_figure(f"goturn.track.fps.{network}.{count}", rates[count], device, threads, note))
    return figures


def _figure(name: str, rates: list[float], device: torch.device, threads: int, note: str) -> Figure:
    return Figure(
        name=name,
        value=statistics.median(rates),
        unit="frames/s",
        minimum=min(rates),
        maximum=max(rates),
        runs=len(rates),
        device=str(device),
        threads=threads,
        note=note,
    )
