"""GOTURN data figures: example generation per core (with and without JPEG
decode), the loader's throughput with 0, 1 and 2 workers, and for
``--pixels_on device`` the crops cut on the device and the bytes a batch
carries, all through the project's own generator (goturn.data) on pairs
written by bench.inputs. The per-core figures expect a process set up like
a loader worker (one thread, see bench.jobs)."""

import inspect
import itertools
import statistics

import numpy as np
import torch

from bench.harness import Figure, rate_figure, thread_limit
from bench.inputs import GoturnPair
from common.loader import RunSteps, make_loader
from goturn.data.crops import CROP_SIZE
from goturn.data.device_crops import crop_batch_on_device
from goturn.data.examples import load_pair, make_examples, read_image, search_boxes
from goturn.data.motion import MotionModel
from goturn.data.records import PairTable, PairTableBuilder
from goturn.data.stream import ExampleStream, StreamBatches

GENERATED = 10  # synthetic examples per pair, plus the true one
BATCH = 50
PREFETCH_FACTOR = inspect.signature(make_loader).parameters["prefetch_factor"].default  # training's


def pair_table(pairs: list[GoturnPair]) -> PairTable:
    builder = PairTableBuilder("alov")
    for pair in pairs:
        builder.add(pair.prev_path, pair.prev_box, pair.curr_path, pair.curr_box)
    return builder.build()


def one_batch(pairs: list[GoturnPair], batch_size: int) -> dict:
    """A real training batch (uint8 crops, labels, target index) for the step figures."""
    return ExampleStream([pair_table(pairs)], batch_size=batch_size, seed=0, generated=GENERATED).batch(0, 0)


def generation_with_decode(pairs: list[GoturnPair], batches_per_run: int, repeats) -> Figure:
    """Whole batches from ``ExampleStream.batch``: decode both frames of each
    pair, draw the motion, crop 1 target + 11 search regions, fill the batch."""
    stream = ExampleStream([pair_table(pairs)], batch_size=BATCH, seed=0, generated=GENERATED)
    batch_numbers = itertools.count()

    def work() -> int:
        for _ in range(batches_per_run):
            stream.batch(0, next(batch_numbers))
        return batches_per_run * BATCH

    return rate_figure(
        "goturn.examples.decode",
        "examples/s/core",
        work,
        repeats,
        threads=1,
        note="11 examples/pair, 2 JPEG decodes/pair, 320x240..640x480",
    )


def generation_without_decode(pairs: list[GoturnPair], pairs_per_run: int, repeats) -> Figure:
    """The same generator on frames decoded beforehand: motion draws, crops,
    labels."""
    table = pair_table(pairs)
    decoded = [load_pair(table, row) for row in range(len(table))]
    motion = MotionModel()
    search = np.empty((GENERATED + 1, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    target = np.empty((CROP_SIZE, CROP_SIZE, 3), np.uint8)
    units = itertools.count()

    def work() -> int:
        for _ in range(pairs_per_run):
            unit = next(units)
            pair = decoded[unit % len(decoded)]
            centres = search_boxes(pair, GENERATED, np.random.default_rng(unit), motion)
            make_examples(pair, centres, search, target)
        return pairs_per_run * (GENERATED + 1)

    return rate_figure(
        "goturn.examples.no_decode",
        "examples/s/core",
        work,
        repeats,
        threads=1,
        note="frames decoded beforehand",
    )


def loader_throughput(pairs: list[GoturnPair], workers: int, batches_per_run: int, repeats) -> Figure:
    """Batches through the training path, ``StreamBatches`` in the DataLoader
    ``make_loader`` builds. Before the clock starts, the workers start and
    the batches they prefetched meanwhile are drained: the timed runs then
    see the steady production rate, not a full queue."""
    stream = ExampleStream([pair_table(pairs)], batch_size=BATCH, seed=0, generated=GENERATED)
    backlog = workers * PREFETCH_FACTOR + 1
    total = backlog + (repeats.warmup + repeats.runs) * batches_per_run
    loader = make_loader(
        StreamBatches(stream, steps_per_epoch=total),
        RunSteps(total, epochs=1),
        workers=workers,
        device=torch.device("cpu"),
        prefetch_factor=PREFETCH_FACTOR,
    )
    batches = iter(loader)
    for _ in range(backlog):
        next(batches)

    def work() -> int:
        for _ in range(batches_per_run):
            next(batches)
        return batches_per_run * BATCH

    return rate_figure(
        f"goturn.loader.workers{workers}",
        "examples/s",
        work,
        repeats,
        threads=max(1, workers),
        note=f"{workers} loader workers, batch {BATCH}",
        cpu_time=workers == 0,
    )


def jpeg_decode(pairs: list[GoturnPair], repeats) -> Figure:
    """Decoding alone (cv2.imread, what the generator calls): the ceiling the
    generator's figure with decode can approach, 2 decodes per 11 examples."""
    paths = [path for pair in pairs for path in (pair.prev_path, pair.curr_path)]

    def work() -> int:
        for path in paths:
            read_image(path)
        return len(paths)

    return rate_figure(
        "goturn.jpeg_decode",
        "images/s/core",
        work,
        repeats,
        threads=1,
        note=f"cv2.imread of the {len(paths)} frames, 320x240..640x480",
    )


def device_crops(pairs: list[GoturnPair], device: torch.device, repeats, threads: int) -> Figure:
    """``--pixels_on device``: all crops of a real batch of 50 (its targets
    and searches) cut by ``crop_batch_on_device``, the frames' copy to the
    device included (pinned, as train.py's loader pins them on CUDA). The
    same crops by cv2 in the loader are in ``goturn.examples.no_decode``
    (per core, with the motion draws and labels)."""
    stream = ExampleStream(
        [pair_table(pairs)], batch_size=BATCH, seed=0, generated=GENERATED, crops_on="device"
    )
    batch = stream.batch(0, 0)
    if device.type == "cuda":
        batch = {key: value.pin_memory() for key, value in batch.items()}
    crops = len(batch["target_rects"]) + len(batch["search_rects"])

    def work() -> int:
        crop_batch_on_device(batch, device, non_blocking=device.type == "cuda")
        return crops

    with thread_limit(threads):
        return rate_figure(
            "goturn.device_crops",
            "crops/s",
            work,
            repeats,
            device=device,
            threads=threads,
            note=f"batch {BATCH}: {crops} crops from {len(batch['frame_table'])} frames",
        )


def batch_bytes(pairs: list[GoturnPair], crops_on: str, batches: int = 8) -> Figure:
    """What a loader worker hands over per batch of 50 (every tensor of the
    batch), for ``--pixels_on loader`` (uint8 crops) or ``device`` (each
    distinct frame once, uint8, and the crop rectangles); median over
    ``batches`` batches."""
    stream = ExampleStream(
        [pair_table(pairs)], batch_size=BATCH, seed=0, generated=GENERATED, crops_on=crops_on
    )
    sizes = [
        sum(tensor.numel() * tensor.element_size() for tensor in stream.batch(0, index).values())
        for index in range(batches)
    ]
    megabytes = [size / 2**20 for size in sizes]
    return Figure(
        name=f"goturn.batch_bytes.{crops_on}",
        value=statistics.median(megabytes),
        unit="MiB/batch",
        minimum=min(megabytes),
        maximum=max(megabytes),
        runs=len(sizes),
        threads=0,
        note=f"batch {BATCH}, 2 frames per pair, 320x240..640x480",
    )
