"""Plain records of an indexed data set: what the loaders produce and the
example generator consumes.

A data set is indexed once (parsing annotations, checking that images exist)
into a ``PairTable``: one row per training pair, previous and current frame
with their boxes. ImageNet DET objects are pairs whose previous and current
frame are the same image. Arrays instead of one object per row keep a
half-million-row table small and cheap to share with forked loader workers.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from goturn.data.errors import DataError

# Held out for validation: this share of the ALOV videos of each category (at least one) and of
# the DET folders, the last ones in sorted order. Training, its validation and the tracking
# evaluation of the held-out videos all use it.
VAL_FRACTION = 0.005


@dataclass
class PairTable:
    """Pairs of one source. ``paths`` holds each image path once; rows refer
    to it by index. ``annotated_size`` is the (width, height) the boxes were
    annotated on (DET XML ``size``), 0 where the annotation gives none; a
    decoded image of another size has its boxes rescaled."""

    source: str
    paths: list[str] = field(default_factory=list)
    prev_image: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    curr_image: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    prev_box: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    curr_box: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    annotated_size: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))

    def __len__(self) -> int:
        return len(self.prev_image)


class PairTableBuilder:
    """Collects rows, then freezes them into a ``PairTable``."""

    def __init__(self, source: str):
        self.source = source
        self._paths: list[str] = []
        self._path_index: dict[str, int] = {}
        self._rows: list[tuple[int, int, tuple, tuple, tuple]] = []

    def _image(self, path: str) -> int:
        index = self._path_index.get(path)
        if index is None:
            index = self._path_index[path] = len(self._paths)
            self._paths.append(path)
        return index

    def add(self, prev_path: str, prev_box, curr_path: str, curr_box, annotated_size=(0, 0)) -> None:
        self._rows.append(
            (
                self._image(prev_path),
                self._image(curr_path),
                tuple(prev_box),
                tuple(curr_box),
                tuple(annotated_size),
            )
        )

    def build(self) -> PairTable:
        if not self._rows:
            return PairTable(self.source)
        prev_image, curr_image, prev_box, curr_box, size = zip(*self._rows)
        return PairTable(
            source=self.source,
            paths=self._paths,
            prev_image=np.array(prev_image, np.int64),
            curr_image=np.array(curr_image, np.int64),
            prev_box=np.array(prev_box, np.float64),
            curr_box=np.array(curr_box, np.float64),
            annotated_size=np.array(size, np.int64),
        )


@dataclass
class LoadReport:
    """What indexing found and what it left out, for the training log."""

    source: str
    split: str
    groups: int = 0  # ALOV videos / DET folders read
    items: int = 0  # ALOV annotations / DET images read
    pairs: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def skip(self, reason: str, detail: str) -> None:
        """Count a skipped item; the first few are kept to be shown."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        if len(self.examples) < 5:
            self.examples.append(f"{reason}: {detail}")

    def summary(self) -> str:
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))
        return (
            f"{self.source} {self.split}: {self.pairs} pairs from {self.items} annotated items "
            f"in {self.groups} groups; skipped: {skipped or 'none'}"
        )


def annotation_trees(root, dataset: str, layout: str) -> tuple[Path, Path]:
    """The ``gt`` and ``images`` folders both data sets keep side by side;
    a missing one is a DataError saying which layout was expected."""
    root = Path(root)
    gt_dir, images_dir = root / "gt", root / "images"
    for folder in (gt_dir, images_dir):
        if not folder.is_dir():
            raise DataError(f"{dataset} folder {folder} does not exist; expected {layout.format(root=root)}")
    return gt_dir, images_dir
