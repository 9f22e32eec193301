"""Batches exactly like the Caffe original's, without shared state.

The original alternates one ImageNet DET object with one ALOV pair, turns
each into ``generated + 1`` examples (11) and fills fixed-size batches (50),
carrying the examples that do not fit into the next batch. Here that stream
is written as a pure function:

- the stream of an epoch is a sequence of *units* u = 0, 1, 2, ...; with both
  sources present, even units are DET objects and odd units ALOV pairs (1:1);
- the k-th unit of a source takes sample ``perm[k mod n]`` of that source,
  where ``perm`` is a fresh permutation per pass over the source, seeded by
  (seed, epoch, source, pass); the unit's motion draws are seeded by
  (seed, epoch, unit);
- batch b holds stream examples [B b, B b + B): the tail of one unit, whole
  units, the head of the next. A unit split between two batches appears in
  both, its examples divided between them: nothing is dropped, and the
  carry-over needs no state.

So a batch is a function of (seed, epoch, b) alone: any number of loader
workers, any number of ranks and a resumed run all see the same batches.

A batch carries its pixels in one of two forms (``crops_on``): the uint8
crops, cut here by cv2 (``loader``), or the decoded frames and each crop's
rectangles, cut by the training process on its device (``device``, see
device_crops.py). Everything else, the draws included, is the same.

An epoch is ``2 * max(n_det, n_alov)`` units: every sample of the larger
source once and the smaller source in repeated fresh passes (with one source
only: each of its samples once). It has ``ceil(units * 11 / B)`` batches; the
last one is completed from the units that follow, which are well defined.
With R ranks, global step s gives rank r batch ``s R + r``, and an epoch has
``ceil(batches / R)`` steps.
"""

import math

import numpy as np
import torch

from common.cli import PIXELS_ON
from common.seeding import derive_seed
from goturn.data.crops import CROP_SIZE, to_network_input
from goturn.data.device_crops import DeviceCropSources, crop_batch_on_device
from goturn.data.errors import DataError
from goturn.data.examples import PairImages, jitter_previous_box, load_pair, make_examples, search_boxes
from goturn.data.motion import MotionModel
from goturn.data.records import PairTable

# Stream tags keep the seeds of the different kinds of draws apart.
_PERMUTATION_TAG = 1
_UNIT_TAG = 2
# The ``source`` field of a batch.
SOURCE_IDS = {"det": 0, "alov": 1}
# Where the crops are cut: by cv2 in the loader, or on the training device.


class LoaderCrops:
    """The crops of one batch, cut here by cv2 (``crops_on="loader"``)."""

    def __init__(self, batch_size: int, units: int):
        self.search = np.empty((batch_size, CROP_SIZE, CROP_SIZE, 3), np.uint8)
        self.target = np.empty((units, CROP_SIZE, CROP_SIZE, 3), np.uint8)

    def add_unit(
        self, slot: int, pair: PairImages, frame_keys: tuple, centres: np.ndarray, rows: slice
    ) -> np.ndarray:
        return make_examples(pair, centres, self.search[rows], self.target[slot])

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"target": torch.from_numpy(self.target), "search": torch.from_numpy(self.search)}


class ExampleStream:
    """The unit and batch arithmetic of one epoch's example stream, and the
    content of each unit. Its only state is caches (permutations, the last
    decoded pair), which never change what a batch contains."""

    def __init__(
        self,
        sources: list[PairTable],
        batch_size: int,
        seed: int,
        generated: int = 10,
        motion: MotionModel | None = None,
        skip_bad: bool = False,
        crops_on: str = "loader",
        target_jitter: MotionModel | None = None,
    ):
        if crops_on not in PIXELS_ON:
            raise ValueError(f"crops_on must be one of {PIXELS_ON}, got {crops_on!r}")
        self.crops_on = crops_on
        self.sources = [table for table in sources if len(table) > 0]
        if not self.sources:
            raise DataError("no training pairs: both ImageNet DET and ALOV are empty after indexing")
        if batch_size < 1 or generated < 0:
            raise ValueError(f"need batch_size >= 1 and generated >= 0, got {batch_size}, {generated}")
        self.batch_size = batch_size
        self.seed = seed
        self.generated = generated
        self.examples_per_unit = generated + 1
        self.motion = motion or MotionModel()
        self.target_jitter = target_jitter
        self.skip_bad = skip_bad
        self.units_per_epoch = len(self.sources) * max(len(table) for table in self.sources)
        self.batches_per_epoch = math.ceil(self.units_per_epoch * self.examples_per_unit / batch_size)
        self._permutations: dict[tuple[int, int, int], np.ndarray] = {}
        # The unit cut by a batch boundary is needed again by the next batch,
        # often in the same worker: keep the last decoded unit.
        self._last_unit: tuple[tuple[int, int], tuple] | None = None

    def unit_sample(self, epoch: int, unit: int) -> tuple[int, int]:
        """(source position, row) of a unit."""
        source = unit % len(self.sources)
        draw = unit // len(self.sources)
        size = len(self.sources[source])
        permutation = self._permutation(epoch, source, draw // size)
        return source, int(permutation[draw % size])

    def _permutation(self, epoch: int, source: int, cycle: int) -> np.ndarray:
        key = (epoch, source, cycle)
        if key not in self._permutations:
            if len(self._permutations) >= 8:
                self._permutations.clear()
            rng = np.random.default_rng(derive_seed(self.seed, epoch, _PERMUTATION_TAG, source, cycle))
            self._permutations[key] = rng.permutation(len(self.sources[source]))
        return self._permutations[key]

    def unit_rng(self, epoch: int, unit: int) -> np.random.Generator:
        return np.random.default_rng(derive_seed(self.seed, epoch, _UNIT_TAG, unit))

    def batch_units(self, index: int) -> list[tuple[int, int, int]]:
        """(unit, first, stop) slices of the units making batch ``index``."""
        start = index * self.batch_size
        stop = start + self.batch_size
        per_unit = self.examples_per_unit
        return [
            (
                unit,
                max(start, unit * per_unit) - unit * per_unit,
                min(stop, (unit + 1) * per_unit) - unit * per_unit,
            )
            for unit in range(start // per_unit, (stop - 1) // per_unit + 1)
        ]

    def batch(self, epoch: int, index: int) -> dict[str, torch.Tensor]:
        """Batch ``index`` of ``epoch``: float32 labels in crop units and the
        pixels, either uint8 BGR crops ``search`` (N x 227 x 227 x 3) and
        ``target`` (one per unit), or with ``crops_on="device"`` the frames
        and rectangles of device_crops.py. ``target_index`` maps each example
        to its pair's target crop; ``stream_index``, ``source``
        (``SOURCE_IDS``) and ``sample`` (row of that source) say where each
        example came from; ``skipped`` counts samples replaced under
        ``skip_bad``."""
        units = self.batch_units(index)
        crop_maker = LoaderCrops if self.crops_on == "loader" else DeviceCropSources
        pixels = crop_maker(self.batch_size, len(units))
        labels = np.empty((self.batch_size, 4), np.float32)
        target_index = np.empty(self.batch_size, np.int64)
        stream_index = np.empty(self.batch_size, np.int64)
        source = np.empty(self.batch_size, np.int64)
        sample = np.empty(self.batch_size, np.int64)
        skipped = 0
        filled = 0
        for slot, (unit, first, stop) in enumerate(units):
            (source_id, row), pair, misses = self._unit_pair(epoch, unit)
            skipped += misses
            rng = self.unit_rng(epoch, unit)
            if self.target_jitter is not None:
                pair = jitter_previous_box(pair, rng, self.target_jitter)
            centres = search_boxes(pair, self.generated, rng, self.motion)
            rows = slice(filled, filled + stop - first)
            table = self.sources[source_id]
            # A DET object's two frames are one image: one key, sent once by device crops.
            frame_keys = ((source_id, int(table.prev_image[row])), (source_id, int(table.curr_image[row])))
            labels[rows] = pixels.add_unit(slot, pair, frame_keys, centres[first:stop], rows)
            target_index[rows] = slot
            stream_index[rows] = unit * self.examples_per_unit + np.arange(first, stop)
            source[rows] = SOURCE_IDS[table.source]
            sample[rows] = row
            filled = rows.stop
        return {
            **pixels.tensors(),
            "label": torch.from_numpy(labels),
            "target_index": torch.from_numpy(target_index),
            "stream_index": torch.from_numpy(stream_index),
            "source": torch.from_numpy(source),
            "sample": torch.from_numpy(sample),
            "skipped": torch.tensor(skipped),
        }

    def _unit_pair(self, epoch: int, unit: int):
        """The unit's pair, decoded. With ``skip_bad`` an unreadable sample is
        replaced by the next rows of the same source (deterministically) and
        counted; otherwise its error propagates."""
        if self._last_unit is not None and self._last_unit[0] == (epoch, unit):
            return self._last_unit[1]
        result = self._decode_unit(epoch, unit)
        self._last_unit = ((epoch, unit), result)
        return result

    def _decode_unit(self, epoch: int, unit: int):
        source_id, row = self.unit_sample(epoch, unit)
        table = self.sources[source_id]
        for misses in range(len(table)):
            candidate = (row + misses) % len(table)
            try:
                return (source_id, candidate), load_pair(table, candidate), misses
            except DataError:
                if not self.skip_bad:
                    raise
        raise DataError(f"no readable image among the {len(table)} {table.source} samples")


class StreamBatches(torch.utils.data.Dataset):
    """Map-style data set whose item is a whole batch, keyed by
    ``(epoch, step)``; this rank's step s is the stream's batch
    ``s * world_size + rank``. Use with ``DataLoader(batch_size=None)`` and
    ``common.loader.RunSteps`` as the sampler."""

    def __init__(
        self, stream: ExampleStream, rank: int = 0, world_size: int = 1, steps_per_epoch: int | None = None
    ):
        self.stream = stream
        self.rank = rank
        self.world_size = world_size
        self.steps_per_epoch = steps_per_epoch or math.ceil(stream.batches_per_epoch / world_size)

    def __len__(self) -> int:
        return self.steps_per_epoch

    def __getitem__(self, key: tuple[int, int]) -> dict[str, torch.Tensor]:
        epoch, step = key
        return self.stream.batch(epoch, step * self.world_size + self.rank)


def to_device(batch: dict, device: torch.device, channels_last: bool):
    """The network inputs, target index and labels of a batch on ``device``,
    whichever form its pixels came in (``--pixels_on``)."""
    non_blocking = device.type == "cuda"
    if "frames" in batch:
        target, search = crop_batch_on_device(batch, device, non_blocking)
    else:
        target = to_network_input(batch["target"].to(device, non_blocking=non_blocking))
        search = to_network_input(batch["search"].to(device, non_blocking=non_blocking))
    if not channels_last:
        target, search = target.contiguous(), search.contiguous()
    return (
        target,
        search,
        batch["target_index"].to(device, non_blocking=non_blocking),
        batch["label"].to(device, non_blocking=non_blocking),
    )
